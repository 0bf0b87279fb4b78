"""Start moto's S3 server (``moto[server]``, a real HTTP server) as a subprocess on a free loopback port.

Usable from any conftest as a session fixture::

    @pytest.fixture(scope="session")
    def moto_s3(tmp_path_factory):
        with start_moto(tmp_path_factory.mktemp("moto")) as handle:
            yield handle

    bucket = handle.create_bucket()                # a fresh bucket per test
    env = handle.env                               # AWS_* credentials and region for the service under test
    url = handle.blob_url(bucket)                  # s3://<bucket>?endpoint_url=http://127.0.0.1:<port>&region=...

moto does not check signatures, so tests of S3 signing against it can only check that links work, not that
tampered ones fail (that is S3's job, not ours).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType
from urllib.parse import urlencode

import httpx

from tests.support.service import free_port

HOST = "127.0.0.1"
REGION = "us-east-1"
# moto accepts any credentials; these are the placeholders its documentation uses (not secrets).
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
_START_TIMEOUT = 60.0


class MotoError(RuntimeError):
    """moto's server could not be started."""


class MotoHandle:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.log_path = workdir / "moto.log"
        self._process: subprocess.Popen[bytes] | None = None
        atexit.register(self.stop)

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """Environment for boto3 in any process: the credentials moto accepts and its region."""
        return dict(CREDENTIALS)

    def blob_url(self, bucket: str, prefix: str = "") -> str:
        query = urlencode({"endpoint_url": self.endpoint, "region": REGION})
        return f"s3://{bucket}{'/' + prefix if prefix else ''}?{query}"

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def create_bucket(self) -> str:
        name = f"b-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def start(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **CREDENTIALS}
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)], cwd=self.workdir,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
            )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise MotoError(f"moto exited with {self._process.returncode}:\n{self.log_path.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.endpoint + "/moto-api/", timeout=1).status_code < 500:
                    return
            time.sleep(0.1)
        self.stop()
        raise MotoError(f"moto did not listen on {self.endpoint} within {_START_TIMEOUT:.0f} s")

    def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def __enter__(self) -> MotoHandle:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_moto(workdir: Path) -> MotoHandle:
    handle = MotoHandle(Path(workdir))
    handle.start()
    return handle


__all__ = ["CREDENTIALS", "REGION", "MotoError", "MotoHandle", "start_moto"]
