"""Issue 11, finding 5: ``submit --output`` sent the API key to whatever host the download link named.

The service runs with an API key and a PRAISONAI_PUBLIC_URL naming *another* origin (as a forged or wrong
public URL would, or as an Azure storage account does for real links). That origin is a second local HTTP
server which records every request's headers and relays it to the service. ``praisonai-svc submit --output``
must still save the file, and the second server must never have seen the key (nor any Authorization header).
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.acceptance.conftest import HANDLERS
from tests.acceptance.security_support import OPERATOR_KEY
from tests.acceptance.test_cli import cli
from tests.support.service import free_port, running_service


@contextmanager
def recording_relay(target: list[str]) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """An HTTP server on another port: records each request's headers, relays GETs to ``target[0]``."""
    seen: list[dict[str, str]] = []

    class Relay(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({name.lower(): value for name, value in self.headers.items()})
            with urllib.request.urlopen(target[0] + self.path) as upstream:  # no credentials of its own
                body = upstream.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Relay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_submit_never_sends_the_api_key_to_another_origin(tmp_path: Path) -> None:
    target: list[str] = []
    with recording_relay(target) as (elsewhere, seen):
        env = {"PRAISONAI_DATA_DIR": str(tmp_path / "data"), "PRAISONAI_API_KEY": OPERATOR_KEY,
               "PRAISONAI_PUBLIC_URL": elsewhere}
        with running_service(HANDLERS, env, tmp_path / "logs") as svc:
            target.append(svc.url)
            request = tmp_path / "job.json"
            request.write_text(json.dumps({"payload": {"topic": "origin"}}))
            saved = tmp_path / "out.txt"
            result = cli("submit", str(request), "--url", svc.url, "--wait", "--output", str(saved),
                         env={"PRAISONAI_API_KEY": OPERATOR_KEY})
            assert result.returncode == 0, result.stderr
            # The key still works where it belongs: the service itself refuses a request without it.
            assert httpx.get(svc.url + "/jobs").status_code == 401
    assert json.loads(saved.read_text())["topic"] == "origin"
    assert seen, "the download went through the other origin"
    for headers in seen:
        assert "x-api-key" not in headers and "authorization" not in headers, headers
        assert OPERATOR_KEY not in json.dumps(headers)


def test_the_key_goes_only_to_the_services_exact_origin() -> None:
    """The rule every CLI command's requests follow (they all go through praisonai_svc.client.Client)."""
    from praisonai_svc.client.common import Credentials

    credentials = Credentials("http://127.0.0.1:8080", api_key="k")

    def sent(url: str) -> bool:
        return "X-API-Key" in credentials.headers_for(url)

    assert sent("http://127.0.0.1:8080/jobs") and sent("HTTP://127.0.0.1:8080/files/x") and sent("/jobs")
    for other in ("https://127.0.0.1:8080/x", "http://127.0.0.1:8081/x", "http://localhost:8080/x",
                  "http://127.0.0.1/x", "https://account.blob.core.windows.net/c/b?sig=x"):
        assert not sent(other), other
    assert sent("https://svc.example:443/jobs") is False  # another origin than 127.0.0.1:8080
    assert "X-API-Key" in Credentials("https://svc.example", api_key="k").headers_for("https://svc.example:443/jobs")
