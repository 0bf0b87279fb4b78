"""Multi-file outputs: what handlers may return, safe unique names, hashes, and the ZIP stream."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime

import pytest

from praisonai_svc.adapters.memory import MemoryBlobStore
from praisonai_svc.errors import HandlerResultError, OutputStreamSpent
from praisonai_svc.models.job import StoredOutput
from praisonai_svc.outputs import MAX_OUTPUTS, Outputs, coerce_outputs
from praisonai_svc.outputs.archive import needs_zip64, zip_outputs
from praisonai_svc.outputs.store import store_outputs, unique_names


def test_names_are_safe_and_unique_regardless_of_case():
    assert unique_names(["a.png", "A.png", "../a.png", "x/../../etc/passwd", "", ".hidden"]) == [
        "a.png", "A-2.png", "a-3.png", "passwd", "output.bin", "hidden"]


@pytest.mark.parametrize(("value", "message"), [
    ([], "no output files"),
    ("text", "must return (bytes, content_type, filename)"),
    ([(b"x", "not-a-type", "a.txt")], "not a valid media type"),
    ([(b"x", "text/plain\r\nSet-Cookie: x=1", "a.txt")], "not a valid media type"),
    ([(b"x", "application/" + "x" * 100, "a.txt")], "longer than 100 characters"),
    ([(b"x", "text/plain", " ")], "filename"),
    ([(42, "text/plain", "a.txt")], "bytes, a path or a binary file object"),
    ([("/no/such/file", "text/plain", "a.txt")], "not a file"),
    ([(b"x", "text/plain", f"{i}.txt") for i in range(MAX_OUTPUTS + 1)], f"at most {MAX_OUTPUTS}"),
])
def test_bad_returns_say_what_is_wrong(value, message):
    with pytest.raises(HandlerResultError, match=message.replace("(", r"\(").replace(")", r"\)")):
        coerce_outputs(value)


def test_outputs_refuses_more_than_the_maximum():
    outputs = Outputs()
    for index in range(MAX_OUTPUTS):
        outputs.add(b"x", "text/plain", f"{index}.txt")
    with pytest.raises(HandlerResultError):
        outputs.add(b"x", "text/plain", "one-too-many.txt")


async def test_store_and_zip_round_trip_with_hashes(tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(bytes(range(256)) * 5000)
    blobs = MemoryBlobStore()
    handle = path.open("rb")  # a handler's file object: left open for a retry, closed by release()
    items = coerce_outputs([(b"hello", "text/plain", "a.txt"), (path, "application/octet-stream", "big.bin"),
                            (handle, "application/octet-stream", "BIG.bin")])
    stored = await store_outputs(blobs, "svc/job1", items)
    assert [s.filename for s in stored] == ["a.txt", "big.bin", "BIG-2.bin"]
    assert stored[1].sha256 == hashlib.sha256(path.read_bytes()).hexdigest() == stored[2].sha256
    assert not handle.closed
    again = await store_outputs(blobs, "svc/job1", items)  # a retry after an outage rewinds it: the same bytes
    assert [s.sha256 for s in again] == [s.sha256 for s in stored]
    for item in items:
        item.release()
    assert handle.closed
    assert stored[1].blob_name == "svc/job1/big.bin" and stored[1].size == path.stat().st_size
    chunks = [chunk async for chunk in zip_outputs(blobs, stored, datetime(2026, 12, 3, tzinfo=UTC))]
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as archive:
        assert archive.testzip() is None
        assert archive.read("a.txt") == b"hello" and archive.read("BIG-2.bin") == path.read_bytes()
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())


def test_zip64_only_when_an_archive_could_pass_4_gib():
    small = [StoredOutput(filename="a", content_type="x/y", size=10, sha256="", blob_name="a")]
    large = [StoredOutput(filename=f"{i}", content_type="x/y", size=2**31, sha256="", blob_name=f"{i}")
             for i in range(2)]
    assert not needs_zip64(small) and needs_zip64(large)


def test_a_handler_output_of_a_built_in_service_is_one_output():
    from praisonai_svc.registry import HandlerOutput

    [only] = coerce_outputs(HandlerOutput(b"{}", "application/json", "plugin.json"))
    assert (only.source, only.content_type, only.filename) == (b"{}", "application/json", "plugin.json")


async def test_a_stream_that_cannot_be_rewound_is_sent_once_only():
    class OneWay(io.RawIOBase):
        def __init__(self) -> None:
            self.left = b"abc"

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            size = min(len(buffer), len(self.left))
            buffer[:size], self.left = self.left[:size], self.left[size:]
            return size

    blobs = MemoryBlobStore()
    items = coerce_outputs([(OneWay(), "text/plain", "a.txt")])
    [stored] = await store_outputs(blobs, "svc/job2", items)
    assert stored.size == 3 and await blobs.open("svc/job2/a.txt") == b"abc"
    with pytest.raises(OutputStreamSpent, match="cannot be rewound"):
        await store_outputs(blobs, "svc/job2", items)


async def test_testing_helper_and_workflow_steps_see_every_output():
    from praisonai_svc import ServiceApp
    from praisonai_svc.backend import memory_backend
    from praisonai_svc.testing import arun_job
    from praisonai_svc.workflows.child_jobs import child_result

    app = ServiceApp("outputs-unit")

    @app.job("many")
    def many(payload: dict) -> Outputs:
        outputs = Outputs()
        outputs.add(b"one", "text/plain", "a.txt")
        outputs.add(io.BytesIO(b"two"), "text/plain", "b.txt")
        return outputs

    backend = memory_backend()
    outcome = await arun_job(app, {"x": 1}, backend=backend)
    assert outcome.status == "done" and outcome.data is None
    assert outcome.files == {"a.txt": b"one", "b.txt": b"two"}
    seen = await child_result(app, backend, outcome.job, include_content=True)
    assert [o["filename"] for o in seen["outputs"]] == ["a.txt", "b.txt"]
    assert seen["outputs"][1]["sha256"] == hashlib.sha256(b"two").hexdigest() and seen["download_url"] is None


async def test_a_workflow_step_lists_as_many_outputs_as_fit_its_result():
    from praisonai_svc import ServiceApp
    from praisonai_svc.backend import memory_backend
    from praisonai_svc.testing import arun_job
    from praisonai_svc.workflows.child_jobs import child_result
    from praisonai_svc.workflows.engine import MAX_RESULT_BYTES

    app = ServiceApp("outputs-many")

    @app.job("sixty-four")
    def sixty_four(payload: dict) -> list[tuple[bytes, str, str]]:
        return [(b"x", "text/plain", f"{'n' * 100}-{i:02d}.txt") for i in range(MAX_OUTPUTS)]

    backend = memory_backend()
    outcome = await arun_job(app, {"x": 1}, backend=backend)
    seen = await child_result(app, backend, outcome.job, include_content=False)
    assert 0 < len(seen["outputs"]) < MAX_OUTPUTS
    assert seen["outputs_omitted"] == MAX_OUTPUTS - len(seen["outputs"])
    assert len(json.dumps(seen)) <= MAX_RESULT_BYTES
