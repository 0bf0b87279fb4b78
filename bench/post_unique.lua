-- wrk script: POST /jobs with a different payload on every request (identical ones would be idempotent hits).
local counter = 0
local thread_id = 0
setup = function(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end
request = function()
  counter = counter + 1
  local body = string.format('{"payload": {"deck": "quarterly", "n": %d, "t": %d, "slides": [1, 2, 3]}}',
                             counter, tid or 0)
  return wrk.format("POST", "/jobs", {["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
  io.write(string.format("RESULT requests=%d seconds=%.3f errors=%d\n", summary.requests,
                         summary.duration / 1e6, errors))
end
