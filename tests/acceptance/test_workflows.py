"""Workflows on the CLI-started service (local and Azurite): chains, cron across processes, kill -9, cancel,
timeout, retry, tenants."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.service import running_service

HANDLERS = Path(__file__).parent / "svc" / "workflow_handlers.py"
FINISHED = ("completed", "failed", "cancelled", "timeout")
TENANTS = {"PRAISONAI_TENANT_KEYS": "acme:key-acme,globex:key-globex"}
ACME, GLOBEX = {"X-API-Key": "key-acme"}, {"X-API-Key": "key-globex"}


def wait_execution(client: httpx.Client, execution_id: str, timeout: float = 90, **kwargs: Any) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/executions/{execution_id}", **kwargs).json()
        if body["status"] in FINISHED:
            return body  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise TimeoutError(f"execution {execution_id} still {body['status']} after {timeout}s: {body}")


def runs(marker_dir: Path, name: str) -> int:
    path = marker_dir / name
    return len(path.read_text().splitlines()) if path.exists() else 0


def cli(*args: str, url: str, api_key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "praisonai_svc", "workflows", *args, "--url", url,
                           "--api-key", api_key], capture_output=True, text=True, timeout=120)


def test_a_chain_through_the_cli_and_tenants(backend_env: dict[str, str], tmp_path: Path,
                                             markers_dir: Path) -> None:
    definition = tmp_path / "chain.yaml"
    definition.write_text(f"""
name: Chain
steps:
  - id: loud
    type: job
    service: shout
    payload: {{text: "{{{{ trigger.word }}}}", marker_dir: "{markers_dir}"}}
  - id: check
    type: condition
    left: "{{{{ steps.loud.content }}}}"
    operator: equals
    right: HELLO
    on_false: stop
  - id: note
    type: log
    message: "said {{{{ steps.loud.content }}}}"
""")
    with running_service(HANDLERS, {**backend_env, **TENANTS}, tmp_path / "logs") as svc:
        created = cli("create", str(definition), url=svc.url, api_key="key-acme")
        assert created.returncode == 0, created.stderr
        workflow = json.loads(created.stdout)
        triggered = cli("trigger", workflow["id"], "--wait", "--data", '{"word": "hello"}', url=svc.url,
                        api_key="key-acme")
        assert triggered.returncode == 0, triggered.stderr + svc.logs()[-3000:]
        execution = json.loads(triggered.stdout)
        assert execution["status"] == "completed"
        assert [step["status"] for step in execution["steps"]] == ["completed"] * 3
        assert execution["steps"][2]["result"]["message"] == "said HELLO"
        listed = cli("executions", workflow["id"], "--json", url=svc.url, api_key="key-acme")
        assert json.loads(listed.stdout)["executions"][0]["id"] == execution["id"]
        assert cli("list", "--json", url=svc.url, api_key="key-acme").returncode == 0
        assert cli("show", workflow["id"], url=svc.url, api_key="key-globex").returncode != 0  # 404
        with svc.client() as client:
            for method, path in (("GET", f"/workflows/{workflow['id']}"),
                                 ("POST", f"/workflows/{workflow['id']}/trigger"),
                                 ("GET", f"/workflows/{workflow['id']}/executions"),
                                 ("GET", f"/executions/{execution['id']}"),
                                 ("POST", f"/executions/{execution['id']}/cancel"),
                                 ("DELETE", f"/workflows/{workflow['id']}")):
                assert client.request(method, path, headers=GLOBEX, json={}).status_code == 404, (method, path)
            assert client.get("/executions", headers=GLOBEX).json()["total"] == 0
            assert client.get(f"/workflows/{workflow['id']}", headers=ACME).json()["execution_stats"]["total"] == 1
        assert runs(markers_dir, "shout") == 1


def test_cron_every_two_seconds_across_two_processes_fires_once_per_due_time(
        backend_env: dict[str, str], tmp_path: Path) -> None:
    """Two workers, each hosting a scheduler, race for every due time (10 or more of them)."""
    env = {**backend_env, "PRAISONAI_WORKFLOW_SCHEDULE_REFRESH_SECONDS": "1"}
    with running_service(HANDLERS, env, tmp_path / "logs", workers=2) as svc, svc.client() as client:
        workflow = client.post("/workflows", json={
            "name": "Every 2 s", "overlap": "allow", "triggers": [{"type": "cron", "expression": "* * * * * */2"}],
            "steps": [{"id": "tick", "type": "log", "message": "due {{ trigger.due_at }}"}]}).json()
        deadline = time.monotonic() + 120  # workers start slowly on a busy machine: count firings, not time
        while client.get(f"/workflows/{workflow['id']}/executions").json()["total"] < 10:
            assert time.monotonic() < deadline, svc.logs()[-3000:]
            time.sleep(0.5)
        client.put(f"/workflows/{workflow['id']}", json={"status": "paused"})
        time.sleep(3)  # firings already started finish being written
        page = client.get(f"/workflows/{workflow['id']}/executions", params={"limit": 500}).json()
    dues = sorted(datetime.fromisoformat(e["due_at"]) for e in page["executions"])
    assert len(dues) == len(set(dues)), "a due time fired twice"
    assert len(dues) >= 10
    gaps = {(later - earlier).total_seconds() for earlier, later in itertools.pairwise(dues)}
    assert gaps == {2.0}, f"missed due times: gaps {sorted(gaps)}"
    assert {e["trigger_type"] for e in page["executions"]} == {"scheduled"}


def test_kill_9_mid_workflow_resumes_at_the_next_step(backend_env: dict[str, str], tmp_path: Path,
                                                      markers_dir: Path) -> None:
    steps = [
        {"id": "first", "type": "job", "service": "shout", "payload": {"text": "a", "name": "first",
                                                                       "marker_dir": str(markers_dir)}},
        {"id": "slow", "type": "job", "service": "shout", "payload": {"text": "b", "name": "slow", "seconds": 6,
                                                                      "marker_dir": str(markers_dir)}},
        {"id": "last", "type": "job", "service": "shout", "payload": {"text": "c", "name": "last",
                                                                      "marker_dir": str(markers_dir)}},
    ]
    with running_service(HANDLERS, backend_env, tmp_path / "logs", workers=1) as svc, svc.client() as client:
        workflow = client.post("/workflows", json={"name": "Durable", "steps": steps}).json()
        execution = client.post(f"/workflows/{workflow['id']}/trigger", json={}).json()
        deadline = time.monotonic() + 60
        while runs(markers_dir, "slow") == 0:  # the second step's job is running
            assert time.monotonic() < deadline, svc.logs()[-3000:]
            time.sleep(0.1)
        svc.workers[0].send_signal(signal.SIGKILL)
        svc.workers[0].wait()
        svc.start_worker()
        done = wait_execution(client, execution["id"], timeout=120)
    assert done["status"] == "completed", done
    assert runs(markers_dir, "first") == 1  # a finished step never runs again
    assert runs(markers_dir, "slow") == 2  # its child job was retried after the kill (one child job, 2 attempts)
    assert runs(markers_dir, "last") == 1
    assert len({step["job_id"] for step in done["steps"]}) == 3


def test_cancel_timeout_and_retry_end_in_the_right_status(backend_env: dict[str, str], tmp_path: Path,
                                                          markers_dir: Path) -> None:
    env = {**backend_env, "PRAISONAI_WORKFLOW_RETRY_BACKOFF_SECONDS": "0.2"}
    with running_service(HANDLERS, env, tmp_path / "logs", workers=1) as svc, svc.client() as client:
        def start(definition: dict[str, Any]) -> dict[str, Any]:
            workflow = client.post("/workflows", json=definition).json()
            return client.post(f"/workflows/{workflow['id']}/trigger", json={}).json()  # type: ignore[no-any-return]

        waiting = start({"name": "Cancel me", "steps": [{"id": "nap", "type": "delay", "seconds": 300},
                                                        {"id": "never", "type": "log", "message": "no"}]})
        timing_out = start({"name": "Too slow", "timeout_seconds": 2,
                            "steps": [{"id": "nap", "type": "delay", "seconds": 300}]})
        retried = start({"name": "Retry", "max_retries": 3, "steps": [
            {"id": "f", "type": "job", "service": "flaky",
             "payload": {"succeed_on": 3, "name": "ok", "marker_dir": str(markers_dir)}}]})
        exhausted = start({"name": "Give up", "max_retries": 1, "steps": [
            {"id": "f", "type": "job", "service": "flaky",
             "payload": {"succeed_on": 99, "name": "never", "marker_dir": str(markers_dir)}}]})
        while client.get(f"/executions/{waiting['id']}").json()["steps"][0]["status"] != "waiting":
            time.sleep(0.1)
        assert client.post(f"/executions/{waiting['id']}/cancel").json()["status"] == "cancelled"
        results = {name: wait_execution(client, e["id"]) for name, e in
                   (("cancel", waiting), ("timeout", timing_out), ("retry", retried), ("exhausted", exhausted))}
    assert results["cancel"]["status"] == "cancelled" and results["cancel"]["steps"][1]["status"] == "pending"
    assert results["timeout"]["status"] == "timeout" and "timeout of 2 s" in results["timeout"]["error_message"]
    assert results["retry"]["status"] == "completed" and results["retry"]["retry_count"] == 2
    assert results["exhausted"]["status"] == "failed" and "fails on purpose" in results["exhausted"]["error_message"]
    assert runs(markers_dir, "ok") == 3 and runs(markers_dir, "never") == 2


class Receiver:
    """A local webhook receiver that checks the step's signature (answers 401 when it does not verify)."""

    def __init__(self, secret: str) -> None:
        import http.server
        import threading

        from praisonai_svc.webhooks.signing import verify

        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                valid = verify(secret, self.headers.get("X-PraisonAI-Signature", ""), body)
                received.append({"body": json.loads(body), "valid": valid,
                                 "delivery": self.headers.get("X-PraisonAI-Delivery")})
                self.send_response(200 if valid else 401)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"thanks": true}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_job_then_signed_http_step_to_an_allowed_local_receiver(backend_env: dict[str, str],
                                                                tmp_path: Path) -> None:
    receiver = Receiver("hook-secret")
    env = {**backend_env, "PRAISONAI_FETCH_ALLOWED_HOSTS": "127.0.0.1"}
    try:
        with running_service(HANDLERS, env, tmp_path / "logs") as svc, svc.client() as client:
            workflow = client.post("/workflows", json={"name": "Notify", "steps": [
                {"id": "loud", "type": "job", "service": "shout", "payload": {"text": "{{ trigger.word }}"}},
                {"id": "tell", "type": "http", "url": receiver.url, "secret": "hook-secret",
                 "body": {"text": "{{ steps.loud.content }}", "url": "{{ steps.loud.download_url }}"}},
                {"id": "private", "type": "http", "url": "http://10.255.255.1/x", "continue_on_error": True},
            ]}).json()
            execution = client.post(f"/workflows/{workflow['id']}/trigger",
                                    json={"trigger_data": {"word": "ping"}}).json()
            done = wait_execution(client, execution["id"])
            link = done["steps"][0]["result"]["download_url"]  # relative on the local backend without PUBLIC_URL
            downloaded = httpx.get(svc.url + link if link.startswith("/") else link, timeout=10)
    finally:
        receiver.close()
    assert done["status"] == "completed", done
    [call] = receiver.received
    assert call["valid"] and call["body"]["text"] == "PING" and call["delivery"] == f"{done['id']}:tell"
    assert done["steps"][1]["result"]["status_code"] == 200 and done["steps"][1]["result"]["body"] == {"thanks": True}
    assert downloaded.status_code == 200 and downloaded.content == b"PING"
    private = done["steps"][2]
    assert private["status"] == "failed" and "only public addresses" in private["error"] and private["attempt"] == 1


def wait_for(check: Any, what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"{what} after {timeout}s")


def test_csv_upload_runs_a_file_processed_workflow_extract_then_job_then_signed_http(
    backend_env: dict[str, str], tmp_path: Path
) -> None:
    """Issue 15's chain: upload a CSV -> a file_processed workflow -> its file_process step reads the extraction ->
    a job step on a test service -> an http step to a local receiver that checks the signature. Filters hold (a
    .txt and a CSV over the size limit start nothing), and the file lists each workflow it triggered once."""
    receiver = Receiver("hook-secret")
    env = {**backend_env, "PRAISONAI_FETCH_ALLOWED_HOSTS": "127.0.0.1"}
    csv = b"city,population\nLisbon,545923\nPorto,231800\nBraga,193333\n"
    try:
        with running_service(HANDLERS, env, tmp_path / "logs") as svc, svc.client() as client:
            deck = client.post("/workflows", json={
                "name": "Deck from CSV",
                "triggers": [{"type": "file_processed", "file_extensions": ["csv"], "mime_types": ["text/csv"],
                              "max_file_size": 1024}],
                "steps": [
                    {"id": "text", "type": "file_process", "file_id": "{{ trigger.file_id }}"},
                    {"id": "deck", "type": "job", "service": "shout",
                     "payload": {"text": "{{ steps.text.metadata.columns[0] }}"}},
                    {"id": "tell", "type": "http", "url": receiver.url, "secret": "hook-secret",
                     "body": {"file": "{{ trigger.file_id }}", "title": "{{ steps.deck.content }}",
                              "rows": "{{ steps.text.metadata.row_count }}"}},
                ]}).json()
            on_upload = client.post("/workflows", json={
                "name": "Log uploads", "triggers": [{"type": "file_upload"}],
                "steps": [{"id": "note", "type": "log", "message": "got {{ trigger.original_filename }}"}]}).json()
            file = client.post("/files/upload", files={"file": ("cities.csv", csv)}).json()["file"]
            client.post("/files/upload", files={"file": ("notes.txt", b"not a csv")})
            client.post("/files/upload", files={"file": ("big.csv", b"a,b\n" + b"1,2\n" * 400)})  # > 1024 bytes

            def executions(workflow: dict[str, Any]) -> list[dict[str, Any]]:
                page = client.get(f"/workflows/{workflow['id']}/executions").json()
                return page["executions"]  # type: ignore[no-any-return]

            [started] = wait_for(lambda: executions(deck), "no execution of the CSV workflow")
            done = wait_execution(client, started["id"])

            def listed_twice() -> dict[str, Any] | None:
                record: dict[str, Any] = client.get(f"/files/{file['id']}").json()["file"]
                return record if len(record["triggered_workflows"]) == 2 else None

            record = wait_for(listed_twice, "the file does not list both workflows")
            uploads = wait_for(lambda: len(executions(on_upload)) == 3 and executions(on_upload), "upload runs")
            time.sleep(2)  # anything a wrong filter would start has had time to appear
            assert len(executions(deck)) == 1
            assert sorted(record["triggered_workflows"]) == sorted([deck["id"], on_upload["id"]])
    finally:
        receiver.close()
    assert done["status"] == "completed", done
    assert done["trigger_type"] == "file_processed" and done["input_file_ids"] == [file["id"]]
    text, job, http = done["steps"]
    assert text["result"]["metadata"]["columns"] == ["city", "population"]
    assert "Lisbon,545923" in text["result"]["content"]
    assert job["result"]["content"] == "CITY" and job["result"]["status"] == "done"
    [call] = receiver.received
    assert call["valid"] and call["body"] == {"file": file["id"], "title": "CITY", "rows": 4}
    assert http["result"]["status_code"] == 200
    assert all(run["trigger_type"] == "file_upload" for run in uploads)


def pending_file_events(env: dict[str, str]) -> int:
    """How many file events are still recorded and undelivered (read through the record port)."""
    import asyncio

    from praisonai_svc.backend import open_backend
    from praisonai_svc.files.repository import FileRepository
    from praisonai_svc.settings import Settings

    async def count() -> int:
        overrides = {k[len("PRAISONAI_"):].lower(): v for k, v in env.items() if k.startswith("PRAISONAI_")}
        backend = await open_backend(Settings(**overrides))
        try:
            files, _cursor = await FileRepository(backend.records).with_pending_events(cursor=None)
            return sum(len(stored.pending_events) for stored in files)
        finally:
            await backend.close()

    return asyncio.run(count())


@pytest.mark.timeout(300)  # two processes killed and restarted, an extraction in its sandbox, on a shared machine
def test_file_triggers_survive_kill_9_between_the_stored_change_and_its_delivery(
    backend_env: dict[str, str], tmp_path: Path
) -> None:
    """The files' outbox end to end: the API is killed (SIGKILL) just after storing an upload, before its
    file.uploaded reached the workflow triggers or the extraction was queued; the worker is killed just after
    storing the extraction, before file.processed reached them. After each restart both workflows run, once."""
    import csv
    import io

    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    table = io.StringIO()
    csv.writer(table).writerows([["city", "population"], ["Lisbon", 545923], ["Porto", 231800]])
    env = {**backend_env, "WORKFLOW_TEST_CRASH_DIR": str(crash_dir)}
    with running_service(HANDLERS, env, tmp_path / "logs", workers=1) as svc, svc.client() as client:
        def workflow(name: str, trigger: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
            return client.post("/workflows", json={  # type: ignore[no-any-return]
                "name": name, "triggers": [{"type": trigger, "file_extensions": ["csv"]}], "steps": steps}).json()

        on_upload = workflow("On upload", "file_upload",
                             [{"id": "note", "type": "log", "message": "got {{ trigger.original_filename }}"}])
        on_processed = workflow("On processed", "file_processed", [
            {"id": "text", "type": "file_process", "file_id": "{{ trigger.file_id }}"},
            {"id": "note", "type": "log", "message": "{{ steps.text.metadata.columns[0] }}"}])
        try:
            client.post("/files/upload", files={"file": ("cities.csv", table.getvalue().encode())})
            raise AssertionError("the API answered the upload it should have died in")
        except httpx.TransportError:
            pass
        assert svc.api is not None and svc.api.wait(timeout=30) == -signal.SIGKILL
        svc.start_api()  # its start-up sweep delivers file.uploaded and queues the extraction
        worker = svc.workers[0]
        wait_for(lambda: worker.poll() is not None, "the worker was not killed by file.processed")
        assert worker.returncode == -signal.SIGKILL
        svc.start_worker()  # its start-up sweep (or the extraction's retry) delivers file.processed

        def finished(workflow: dict[str, Any]) -> list[dict[str, Any]]:
            runs = client.get(f"/workflows/{workflow['id']}/executions").json()["executions"]
            return runs if runs and all(run["status"] in FINISHED for run in runs) else []

        uploads = wait_for(lambda: finished(on_upload), "no finished execution of the upload workflow")
        processed = wait_for(lambda: finished(on_processed), "no finished execution of the processed workflow")
        wait_for(lambda: pending_file_events(svc.env) == 0, "file events still pending")
        [file] = client.get("/files").json()["files"]
        uploads = client.get(f"/workflows/{on_upload['id']}/executions").json()["executions"]
        processed = client.get(f"/workflows/{on_processed['id']}/executions").json()["executions"]
    assert [(run["status"], run["input_file_ids"]) for run in uploads] == [("completed", [file["id"]])]
    assert [(run["status"], run["input_file_ids"]) for run in processed] == [("completed", [file["id"]])]
    assert processed[0]["steps"][1]["result"]["message"] == "city"
    assert file["status"] == "processed"
    assert sorted(file["triggered_workflows"]) == sorted([on_upload["id"], on_processed["id"]])
    for topic in ("file.uploaded", "file.processed"):  # killed on the first delivery, delivered again after it
        deliveries = (crash_dir / topic).read_text().splitlines()
        assert len(deliveries) >= 2 and {json.loads(line)["file_id"] for line in deliveries} == {file["id"]}
