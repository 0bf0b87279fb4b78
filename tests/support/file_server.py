"""A local HTTP server for fetch tests: serves given files, redirect chains and a redirect to a private host.

``/f/<name>`` serves a file; ``/r/<n>/<name>`` redirects n times before serving it; ``/to/<host>/<name>`` redirects
to ``http://<host>:<port>/f/<name>`` (a host the service may not be allowed to reach).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FileServer:
    def __init__(self, files: dict[str, tuple[bytes, str]]) -> None:
        self.files = files
        files_ref = files

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                port = self.server.server_address[1]
                if parts[0] == "r" and len(parts) == 3:
                    hops = int(parts[1])
                    target = f"/r/{hops - 1}/{parts[2]}" if hops > 1 else f"/f/{parts[2]}"
                    self._redirect(target)
                elif parts[0] == "to" and len(parts) == 3:
                    self._redirect(f"http://{parts[1]}:{port}/f/{parts[2]}")
                elif parts[0] == "f" and len(parts) == 2 and parts[1] in files_ref:
                    body, content_type = files_ref[parts[1]]
                    self.send_response(200)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_error(404)

            def _redirect(self, location: str) -> None:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, name: str) -> str:
        return f"{self.base}/f/{name}"


@contextmanager
def serving(files: dict[str, tuple[bytes, str]]) -> Iterator[FileServer]:
    server = FileServer(files)
    thread = threading.Thread(target=server.server.serve_forever, name="file-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
