"""Start the Azurite storage emulator as a subprocess on free loopback ports.

Usable from any conftest as a session fixture::

    @pytest.fixture(scope="session")
    def azurite(tmp_path_factory):
        with start_azurite(tmp_path_factory.mktemp("azurite")) as handle:
            yield handle

    # then: Settings(azure_storage_connection_string=azurite.connection_string, ...)

The first start lets Azurite pick its own ports (``--blobPort 0`` …) and reads them from its console output, so
parallel test runs never race for a port; ``restart()`` reuses those ports so that clients holding the
connection string reconnect to the new process. With ``in_memory=False`` the data lives in ``--location`` and
survives a restart; with the default in-memory mode a restart starts empty.

Azurite is installed by ``scripts/install-azurite.sh`` into ``.tmp/azurite`` (run automatically when missing);
``AZURITE_BIN`` points at another binary. Azurite's access log (one line per request) goes to
``handle.log_path``; :meth:`AzuriteHandle.requests_since` counts storage requests from it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-azurite.sh"
DEFAULT_BINARY = REPO_ROOT / ".tmp" / "azurite" / "node_modules" / ".bin" / "azurite"

ACCOUNT_NAME = "devstoreaccount1"
# Azurite's fixed, publicly documented development key (not a secret).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
HOST = "127.0.0.1"
SERVICES = ("blob", "queue", "table")

_LISTENING = re.compile(r"Azurite (Blob|Queue|Table) service is successfully listening at https?://[^\s:]+:(\d+)")
_REQUEST = re.compile(r'"(?:GET|PUT|POST|DELETE|HEAD|MERGE|PATCH|OPTIONS) \S+ HTTP/[\d.]+"')
_START_TIMEOUT = 60.0


class AzuriteError(RuntimeError):
    """Azurite could not be installed or started."""


def azurite_binary(*, install: bool = True) -> Path:
    """The Azurite executable: ``$AZURITE_BIN``, else the pinned one in ``.tmp/azurite`` (installed if missing)."""
    override = os.environ.get("AZURITE_BIN")
    if override:
        return Path(override)
    if not DEFAULT_BINARY.exists() and install:
        result = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise AzuriteError(f"{INSTALL_SCRIPT} failed:\n{result.stdout}\n{result.stderr}")
    if not DEFAULT_BINARY.exists():
        raise AzuriteError(f"Azurite is not installed at {DEFAULT_BINARY}; run {INSTALL_SCRIPT}.")
    return DEFAULT_BINARY


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


class AzuriteHandle:
    """One Azurite process (blob, queue and table services) and how to reach it."""

    def __init__(
        self, workdir: Path, *, in_memory: bool = True, debug_log: Path | None = None, access_log: bool = True
    ) -> None:
        self.workdir = workdir
        self.in_memory = in_memory
        self.debug_log = debug_log
        self.access_log = access_log  # False: --silent (benchmarks; requests_since then sees nothing)
        self.data_dir = workdir / "data"
        self.log_path = workdir / "azurite.log"
        self.ports: dict[str, int] = {}
        self._process: subprocess.Popen[bytes] | None = None
        atexit.register(self.kill)  # never leave an emulator behind, even when a test run is interrupted

    # --- what tests use -------------------------------------------------------------------------------------

    @property
    def connection_string(self) -> str:
        """A connection string for all three services (the well-known Azurite development account)."""
        endpoints = ";".join(f"{svc.capitalize()}Endpoint={self.endpoint(svc)}" for svc in SERVICES)
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};{endpoints};"
        )

    def endpoint(self, service: str) -> str:
        """``http://127.0.0.1:<port>/devstoreaccount1`` of ``blob``, ``queue`` or ``table``."""
        return f"http://{HOST}:{self.ports[service]}/{ACCOUNT_NAME}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Stop Azurite gracefully (SIGTERM, then SIGKILL after 10 s). Idempotent."""
        self._signal_and_wait(signal.SIGTERM, grace=10.0)

    def kill(self) -> None:
        """Stop Azurite abruptly (SIGKILL), like a crashed storage service. Idempotent."""
        self._signal_and_wait(signal.SIGKILL, grace=10.0)

    def pause(self) -> None:
        """Freeze Azurite (SIGSTOP): connections are accepted by the kernel but never answered."""
        if self.running:
            assert self._process is not None
            os.killpg(self._process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Undo :meth:`pause`."""
        if self.running:
            assert self._process is not None
            os.killpg(self._process.pid, signal.SIGCONT)

    def start(self) -> None:
        """Start Azurite (again, on the same ports once they are known). No-op while it runs."""
        if self.running:
            return
        self._launch()

    def restart(self) -> None:
        """Stop, then start on the same ports; data survives only when ``in_memory=False``."""
        self.stop()
        self._launch()

    def log_mark(self, *, settle: float = 0.3) -> int:
        """The current end of the access log (once it stops growing); pass it to :meth:`requests_since`.

        Azurite writes an access-log line just after it sends the response, so the line of a request that
        just returned may still be on its way; waiting for the log to settle keeps it out of the next count.
        """
        size = -1
        while True:
            current = self.log_path.stat().st_size if self.log_path.exists() else 0
            if current == size:
                return current
            size = current
            time.sleep(settle)

    def requests_since(self, mark: int, *, settle: float = 0.3) -> list[str]:
        """Access-log lines of the HTTP requests Azurite served since ``mark`` (waits until the log settles)."""
        previous = -1
        while True:
            with self.log_path.open("rb") as handle:
                handle.seek(mark)
                text = handle.read().decode("utf-8", "replace")
            lines = [line for line in text.splitlines() if _REQUEST.search(line)]
            if len(lines) == previous:
                return lines
            previous = len(lines)
            time.sleep(settle)

    def __enter__(self) -> AzuriteHandle:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- internals ------------------------------------------------------------------------------------------

    def _command(self) -> list[str]:
        command = [
            str(azurite_binary()), "--disableTelemetry", "--skipApiVersionCheck", "--loose",
            "--blobHost", HOST, "--queueHost", HOST, "--tableHost", HOST,
        ]
        for service in SERVICES:
            command += [f"--{service}Port", str(self.ports.get(service, 0))]
        if self.in_memory:
            command.append("--inMemoryPersistence")  # Azurite refuses it together with --location
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            command += ["--location", str(self.data_dir)]
        if self.debug_log is not None:
            command += ["--debug", str(self.debug_log)]
        if not self.access_log:
            command.append("--silent")
        return command

    def _launch(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = self._command()
        mark = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() reaches node and anything it forks
            )
        try:
            self._wait_until_listening(mark)
        except BaseException:
            self.kill()
            raise

    def _wait_until_listening(self, mark: int) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise AzuriteError(f"Azurite exited with {self._process.returncode}:\n{self._log_tail(mark)}")
            with self.log_path.open("rb") as handle:
                handle.seek(mark)
                for name, port in _LISTENING.findall(handle.read().decode("utf-8", "replace")):
                    self.ports[name.lower()] = int(port)
            if all(service in self.ports for service in SERVICES) and all(
                _accepts(self.ports[service]) for service in SERVICES
            ):
                return
            time.sleep(0.05)
        raise AzuriteError(f"Azurite did not listen within {_START_TIMEOUT:.0f} s:\n{self._log_tail(mark)}")

    def _log_tail(self, mark: int) -> str:
        with self.log_path.open("rb") as handle:
            handle.seek(mark)
            return handle.read().decode("utf-8", "replace")[-4000:]

    def _signal_and_wait(self, signum: signal.Signals, *, grace: float) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGCONT)  # a paused process cannot handle SIGTERM
            os.killpg(process.pid, signum)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=grace)
        # The ports must be free again before a restart binds them.
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_accepts(port) for port in self.ports.values()):
            time.sleep(0.05)


def start_azurite(
    tmp_dir: Path, *, in_memory: bool = True, debug_log: Path | None = None, access_log: bool = True
) -> AzuriteHandle:
    """Start Azurite with its files under ``tmp_dir`` and wait until blob, queue and table accept connections.

    The returned handle is also a context manager that stops Azurite on exit.
    """
    handle = AzuriteHandle(Path(tmp_dir), in_memory=in_memory, debug_log=debug_log, access_log=access_log)
    handle.start()
    return handle


__all__ = ["ACCOUNT_KEY", "ACCOUNT_NAME", "AzuriteError", "AzuriteHandle", "azurite_binary", "start_azurite"]
