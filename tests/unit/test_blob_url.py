"""Blob stores chosen by URL: the scheme registry, R2's variables, and the advice when an extra is missing."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from praisonai_svc.adapters.local import FileBlobStore
from praisonai_svc.backend import open_backend
from praisonai_svc.blob_url import configured_blob_url, import_adapter, open_blob_store, r2_blob_url
from praisonai_svc.errors import ConfigError
from praisonai_svc.settings import Settings


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_r2_variables_describe_an_s3_url() -> None:
    url = r2_blob_url(settings(r2_account_id="acct42", r2_bucket_name="images"))
    assert url is not None
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("s3", "images")
    assert parse_qs(parts.query) == {"endpoint_url": ["https://acct42.r2.cloudflarestorage.com"], "region": ["auto"]}
    with pytest.raises(ConfigError, match="R2_BUCKET_NAME"):
        r2_blob_url(settings(r2_account_id="acct42"))
    assert configured_blob_url(settings(blob_url="file:///x", r2_account_id="a", r2_bucket_name="b")) == "file:///x"
    assert configured_blob_url(settings()) is None


def test_seed_variable_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("R2_BUCKET_NAME", "seed-bucket")
    monkeypatch.setenv("R2_PUBLIC_URL", "https://cdn.example")
    monkeypatch.setenv("PYTHON_SERVICE_API_KEY", "seed-key")
    loaded = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (loaded.r2_bucket_name, loaded.public_blob_base, loaded.api_keys) == (
        "seed-bucket", "https://cdn.example", ["seed-key"])


async def test_file_urls_open_a_local_store_and_unknown_schemes_are_refused(tmp_path: Path) -> None:
    store = await open_blob_store(f"file://{tmp_path}/out", settings(data_dir=tmp_path / "data"))
    assert isinstance(store, FileBlobStore) and store.root == (tmp_path / "out").resolve()
    with pytest.raises(ConfigError, match=r"unknown scheme 'gs'.*s3://"):
        await open_blob_store("gs://bucket", settings())
    with pytest.raises(ConfigError, match="unknown s3 option"):
        await open_blob_store("s3://bucket?secret=x", settings())


async def test_backend_outputs_go_where_the_blob_url_says(tmp_path: Path) -> None:
    backend = await open_backend(settings(data_dir=tmp_path / "data", blob_url=f"file://{tmp_path}/elsewhere"))
    try:
        await backend.blobs.put("a/b.txt", b"x", content_type="text/plain", filename="b.txt")
        assert isinstance(backend.blobs, FileBlobStore)
        path = backend.blobs.path_of("a/b.txt")
        assert path.read_bytes() == b"x" and path.is_relative_to(tmp_path / "elsewhere")
        assert backend.kind == "local"
    finally:
        await backend.close()


def test_a_missing_sdk_names_the_pip_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def without_boto3(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "boto3" or name.startswith("boto3."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_boto3)
    for module in [m for m in __import__("sys").modules if m.startswith("praisonai_svc.adapters.s3")]:
        monkeypatch.delitem(__import__("sys").modules, module)
    with pytest.raises(ConfigError, match=r"needs the optional package 'boto3'.*pip install 'praisonai-svc\[s3\]'"):
        import_adapter("praisonai_svc.adapters.s3", "s3", "PRAISONAI_BLOB_URL=s3://...")
