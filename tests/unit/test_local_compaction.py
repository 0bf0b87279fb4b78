"""The local backend stays compact: sharded output directories, freed pages returned, the WAL truncated."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

from praisonai_svc.adapters.local import open_local_backend
from praisonai_svc.adapters.local.blobs import FileBlobStore
from praisonai_svc.app import ServiceApp
from praisonai_svc.hashing import payload_hash
from praisonai_svc.models.job import Job, JobResult, JobStatus, utcnow
from praisonai_svc.retention import Pruner
from praisonai_svc.settings import Settings


def settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", **values)  # type: ignore[call-arg]


async def test_outputs_are_sharded_and_empty_job_directories_go_away(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs", b"k" * 32)
    await store.put("ppt/job1/deck.pptx", b"deck", content_type="application/x", filename="deck.pptx")
    path = store.path_of("ppt/job1/deck.pptx")
    shard = path.relative_to(tmp_path / "blobs").parts[0]
    assert len(shard) == 2 and path.read_bytes() == b"deck"
    await store.delete("ppt/job1/deck.pptx")
    assert not path.exists() and not path.parent.exists()  # the job's directory went with its last file
    assert (tmp_path / "blobs" / shard).is_dir()  # shard directories stay (at most 256 of them)


async def test_blobs_written_before_sharding_are_still_read_and_deleted(tmp_path: Path) -> None:
    legacy = tmp_path / "blobs" / "ppt" / "old" / "a.txt"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"old")
    store = FileBlobStore(tmp_path / "blobs", b"k" * 32)
    assert await store.exists("ppt/old/a.txt") and await store.open("ppt/old/a.txt") == b"old"
    await store.delete("ppt/old/a.txt")
    assert not legacy.exists() and not await store.exists("ppt/old/a.txt")


async def test_pruning_gives_pages_back_and_truncates_the_wal(tmp_path: Path) -> None:
    config = settings(tmp_path)
    backend = await open_local_backend(config)
    app = ServiceApp("compact", settings=config)
    old = utcnow() - timedelta(days=60)
    try:
        for index in range(400):
            payload = {"i": index, "padding": "x" * 2000}
            job = Job(job_id=f"{index:032x}", service="svc", payload=payload, payload_hash=payload_hash(payload, "svc"),
                      created_utc=old, updated_utc=old, status=JobStatus.QUEUED)
            stored = await backend.jobs.create(job)
            await backend.jobs.update(stored.model_copy(update={
                "status": JobStatus.DONE, "result": JobResult(blob_name=f"svc/{job.job_id}/o.txt",
                                                              content_type="text/plain", filename="o.txt", size=1)}))
        db_path = tmp_path / "data" / "praisonai.sqlite3"
        with sqlite3.connect(db_path) as conn:
            assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental on a new database
        before = db_path.stat().st_size + (db_path.with_name(db_path.name + "-wal").stat().st_size)
        report = await Pruner(app, backend).run_once()
        assert report.removed == {"job": 400}
        after = db_path.stat().st_size + db_path.with_name(db_path.name + "-wal").stat().st_size
        assert after < before / 2, (before, after)
        assert db_path.with_name(db_path.name + "-wal").stat().st_size == 0  # truncated by the checkpoint
        with sqlite3.connect(db_path) as conn:
            assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    finally:
        await backend.close()
