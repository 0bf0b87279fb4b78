-- wrk script: POST /jobs with a different payload on every request (identical ones would be idempotent hits).
-- Pass a run id after `--` (bench/common.py does): a warm-up run and the measured run that follows would
-- otherwise send the same payloads, and most of the measured requests would be idempotent hits.
local counter = 0
local thread_id = 0
local run = "0"
setup = function(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end
init = function(args)
  run = args[1] or "0"
end
request = function()
  counter = counter + 1
  local body = string.format('{"payload": {"deck": "quarterly", "n": %d, "t": %d, "run": "%s", "slides": [1, 2, 3]}}',
                             counter, tid or 0, run)
  return wrk.format("POST", "/jobs", {["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
  io.write(string.format("RESULT requests=%d seconds=%.3f errors=%d\n", summary.requests,
                         summary.duration / 1e6, errors))
end
