"""Capability plugins on the CLI-started service (API + worker subprocesses), driven over HTTP.

Images come from a local HTTP server on an allowed host (PRAISONAI_FETCH_ALLOWED_HOSTS=127.0.0.1:<port>).
Every output is downloaded through its ``output_url`` and read independently (tests/support/images.py) to check
the metadata the service reported. The whole module runs three times: jobs on SQLite with outputs in files,
jobs on SQLite with outputs in S3 (moto's server), and jobs and outputs on Azure (Azurite).
"""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from PIL import Image

from praisonai_svc.client import AsyncClient, BadRequest, Client, ClientError, Unauthorized
from tests.support import images
from tests.support.documents import pdf_with_text
from tests.support.file_server import FileServer, serving
from tests.support.service import Service, running_service, wait_job

HANDLERS = __import__("pathlib").Path(__file__).parent / "plugin_svc" / "handlers.py"
KEY = "plugin-test-key"
MAX_BYTES = 3_000_000  # config/plugins.yaml: image-compress max_file_size
REFUSED_SUFFIX = "only public addresses are fetched (PRAISONAI_FETCH_ALLOWED_HOSTS exempts a host)"


@dataclass
class Running:
    service: Service
    files: FileServer
    outputs: str

    def client(self, key: str | None = KEY) -> httpx.Client:
        return self.service.client(headers={"X-API-Key": key} if key else {})

    def compress(self, url: str, **options: Any) -> httpx.Response:
        with self.client() as client:
            return client.post("/api/v1/image/compress", json={"image_url": url, "options": options})


FILES = {
    "rotated.jpg": (images.exif_rotated_jpeg(), "image/jpeg"),
    "alpha.png": (images.alpha_png(), "image/png"),
    "large.jpg": (images.large_jpeg(), "image/jpeg"),
    "cmyk.jpg": (images.cmyk_jpeg(), "image/jpeg"),
    "bomb.png": (images.png_bomb(), "image/png"),
    "notes.jpg": (b"This is a text file, not an image.\n" * 20, "image/jpeg"),
    "huge.jpg": (b"\xff\xd8" + bytes(MAX_BYTES + 1000), "image/jpeg"),
}


def _env(kind: str, files: FileServer, request: pytest.FixtureRequest, data_dir: str) -> dict[str, str]:
    env = {"PRAISONAI_DATA_DIR": data_dir, "PRAISONAI_FETCH_ALLOWED_HOSTS": f"127.0.0.1:{files.port}",
           "PRAISONAI_PLUGIN_WORKERS": "2"}
    if kind == "local":
        return {**env, "PYTHON_SERVICE_API_KEY": KEY}  # seed 004's name for the key
    env["PRAISONAI_API_KEY"] = KEY
    if kind == "s3":
        moto = request.getfixturevalue("moto_s3")
        return {**env, **moto.env, "PRAISONAI_BLOB_URL": moto.blob_url(moto.create_bucket())}
    azurite = request.getfixturevalue("azurite")
    suffix = uuid.uuid4().hex[:10]
    return {**env, "PRAISONAI_AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
            "PRAISONAI_QUEUE_NAME": f"jobs-{suffix}", "PRAISONAI_TABLE_NAME": f"jobs{suffix}",
            "PRAISONAI_CONTAINER_NAME": f"out-{suffix}"}


@pytest.fixture(scope="module", params=["local", "s3", "azure"])
def svc(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp(f"plugins-{request.param}")
    with serving(FILES) as files:
        env = _env(request.param, files, request, str(tmp / "data"))
        with running_service(HANDLERS, env, tmp / "logs", workers=1) as service:
            yield Running(service, files, request.param)


def stored(data: dict[str, Any]) -> bytes:
    """The output, downloaded through its output_url without credentials."""
    response = httpx.get(data["output_url"], timeout=30)
    assert response.status_code == 200, response.text
    return response.content


def assert_metadata_true(data: dict[str, Any], original: bytes) -> images.Facts:
    body = stored(data)
    meta = data["metadata"]
    found = images.facts(body)
    assert meta["original_size"] == len(original)
    assert meta["compressed_size"] == len(body)
    assert meta["compression_ratio"] == round(1 - len(body) / len(original), 2)
    assert (meta["width"], meta["height"], meta["format"]) == (found.width, found.height, found.format)
    assert "/uploads/" in data["output_url"]
    return found


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and isinstance(body["execution_time_ms"], int)
    return body["data"]  # type: ignore[no-any-return]


def refused(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"success", "error"} and body["success"] is False
    return str(body["error"])


# --- the images --------------------------------------------------------------------------------------------


def test_jpeg_with_exif_rotation_is_turned_upright_and_stripped(svc: Running) -> None:
    original = FILES["rotated.jpg"][0]
    data = ok(svc.compress(svc.files.url("rotated.jpg")))
    found = assert_metadata_true(data, original)
    assert (found.format, found.width, found.height) == ("jpeg", 200, 400)
    assert not (found.has_exif or found.has_icc or found.has_xmp), "metadata must be stripped"
    picture = Image.open(io.BytesIO(stored(data))).convert("RGB")
    top, bottom = picture.getpixel((100, 50)), picture.getpixel((100, 350))
    assert top[0] > 200 and top[2] < 60, f"red belongs on top after the turn, got {top}"
    assert bottom[2] > 200 and bottom[0] < 60, f"blue belongs at the bottom, got {bottom}"


def test_png_with_alpha_becomes_webp_keeping_transparency(svc: Running) -> None:
    original = FILES["alpha.png"][0]
    data = ok(svc.compress(svc.files.url("alpha.png"), format="webp", quality=80))
    found = assert_metadata_true(data, original)
    assert (found.format, found.width, found.height) == ("webp", 300, 200)
    assert data["output_url"].split("?")[0].endswith("_compressed.webp")
    picture = Image.open(io.BytesIO(stored(data)))
    assert picture.mode == "RGBA"
    assert picture.getpixel((10, 100))[3] == 0 and picture.getpixel((290, 100))[3] == 255


def test_max_width_and_height_keep_the_aspect_ratio(svc: Running) -> None:
    original = FILES["large.jpg"][0]
    data = ok(svc.compress(svc.files.url("large.jpg"), max_width=800, max_height=800))
    found = assert_metadata_true(data, original)
    assert (found.width, found.height) == (800, 533)
    data = ok(svc.compress(svc.files.url("large.jpg"), max_height=400))
    assert (images.facts(stored(data)).width, images.facts(stored(data)).height) == (600, 400)


def test_cmyk_jpeg_is_compressed_to_an_rgb_jpeg(svc: Running) -> None:
    original = FILES["cmyk.jpg"][0]
    data = ok(svc.compress(svc.files.url("cmyk.jpg"), quality=70))
    found = assert_metadata_true(data, original)
    assert (found.format, found.width, found.height) == ("jpeg", 320, 240)
    assert Image.open(io.BytesIO(stored(data))).mode == "RGB"


def test_outputs_are_content_addressed(svc: Running) -> None:
    first = ok(svc.compress(svc.files.url("alpha.png"), format="png"))
    second = ok(svc.compress(svc.files.url("alpha.png"), format="png"))
    key = first["output_url"].split("/uploads/")[1].split("?")[0]
    assert key == second["output_url"].split("/uploads/")[1].split("?")[0]
    assert key.split("_")[0] == __import__("hashlib").sha256(stored(first)).hexdigest()[:16]


def test_multipart_upload_is_accepted(svc: Running) -> None:
    original = FILES["alpha.png"][0]
    with svc.client() as client:
        response = client.post("/api/v1/image/compress", files={"file": ("alpha.png", original, "image/png")},
                               data={"options": json.dumps({"format": "webp"})})
    found = assert_metadata_true(ok(response), original)
    assert found.format == "webp"


def test_image_resize_and_pdf_to_text_are_plugins_too(svc: Running) -> None:
    with svc.client() as client:
        resized = ok(client.post("/api/v1/image/resize", json={
            "image_url": svc.files.url("large.jpg"), "options": {"width": 300, "height": 300, "fit": "cover"}}))
        assert (images.facts(stored(resized)).width, images.facts(stored(resized)).height) == (300, 300)
        pdf = pdf_with_text("Hello plugins")
        text = ok(client.post("/api/v1/document/pdf-to-text", files={"file": ("a.pdf", pdf, "application/pdf")}))
    assert "Hello plugins" in text["text"] and text["metadata"]["pages"] == 1
    assert stored(text).decode() == text["text"]


# --- hostile input: exact status and envelope ------------------------------------------------------------


def test_decompression_bomb_is_refused(svc: Running) -> None:
    error = refused(svc.compress(svc.files.url("bomb.png")), 400)
    assert error == ("The image is 50000x50000 pixels, more than the limit of 50000000 (a decompression bomb?).")


def test_text_named_jpg_is_refused(svc: Running) -> None:
    error = refused(svc.compress(svc.files.url("notes.jpg")), 400)
    assert error == "The file is not a valid image (supported formats: jpg, jpeg, png, webp)."


def test_oversized_image_is_refused(svc: Running) -> None:
    assert refused(svc.compress(svc.files.url("huge.jpg")), 413) == f"File size exceeds maximum of {MAX_BYTES} bytes"


def test_three_redirects_are_followed_but_four_are_refused(svc: Running) -> None:
    ok(svc.compress(f"{svc.files.base}/r/3/alpha.png"))
    error = refused(svc.compress(f"{svc.files.base}/r/4/alpha.png"), 502)
    assert error == "Failed to download image: too many redirects (more than 3)"


def test_urls_resolving_to_private_addresses_are_refused(svc: Running) -> None:
    error = refused(svc.compress(f"http://localhost:{svc.files.port}/f/alpha.png"), 502)
    assert error.startswith("Failed to download image: localhost resolves to ") and "loopback" in error
    assert error.endswith(REFUSED_SUFFIX)
    error = refused(svc.compress("http://169.254.169.254/latest/meta-data/"), 502)
    assert error == f"Failed to download image: 169.254.169.254 resolves to 169.254.169.254, a link-local " \
                    f"address; {REFUSED_SUFFIX}"
    # An allowed host that redirects to a refused one: the redirect is checked again.
    error = refused(svc.compress(f"{svc.files.base}/to/localhost/alpha.png"), 502)
    assert "localhost resolves to" in error


def test_input_errors_use_the_seeds_messages(svc: Running) -> None:
    with svc.client() as client:
        assert refused(client.post("/api/v1/image/compress", json={"options": {}}), 400) == \
            "Missing required parameter: image_url"
        assert refused(client.post("/api/v1/image/compress", json={"image_url": "ftp://x/y.jpg"}), 502) == \
            "Failed to download image: URL scheme 'ftp' is not allowed; use http or https"
        assert refused(client.post("/api/v1/image/compress", json={
            "image_url": "http://x/y.jpg", "options": {"quality": 0}}), 400).startswith(
            "Invalid parameter options.quality")


def test_auth_unknown_disabled_and_slow_plugins(svc: Running) -> None:
    with svc.client(key="wrong") as client:
        assert refused(client.post("/api/v1/image/compress", json={"image_url": "http://x"}), 401) == \
            "Invalid API key"
    with svc.client(key=None) as client:
        assert refused(client.post("/api/v1/image/compress", json={"image_url": "http://x"}), 401) == \
            "Invalid API key"
    with svc.client() as client:
        assert refused(client.post("/api/v1/image/teleport", json={}), 501) == "Plugin not found"
        assert "disabled" in refused(client.post("/api/v1/ai/off", json={"text": "x"}), 503)
        assert "within 1 s" in refused(client.post("/api/v1/ai/nap", json={"seconds": 5}), 504)
        assert ok(client.post("/api/v1/ai/nap", json={"seconds": 0.01})) == {"slept": 0.01}
        shouted = ok(client.post("/api/v1/ai/shout", json={"text": "hi"}))
        assert shouted["text"] == "HI" and shouted["pid"] != svc.service.api.pid  # type: ignore[union-attr]


def test_health_needs_no_key_and_lists_the_plugins(svc: Running) -> None:
    response = httpx.get(svc.service.url + "/api/v1/health", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    by_name = {entry["name"]: entry for entry in body["plugins"]}
    assert by_name["image-compress"] == {"name": "image-compress", "display_name": "Image compression",
                                         "category": "image", "enabled": True, "healthy": True}
    assert by_name["ai-off"]["enabled"] is False


def test_openapi_documents_each_plugin_from_its_input_model(svc: Running) -> None:
    schema = httpx.get(svc.service.url + "/openapi.json", timeout=10).json()
    operation = schema["paths"]["/api/v1/image/compress"]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    model = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert "image_url" in model["properties"] and operation["security"]


# --- the same plugin as a queued job ------------------------------------------------------------------------


def _finished_output(svc: Running, client: httpx.Client, job_id: str) -> dict[str, Any]:
    job = wait_job(client, job_id, timeout=60)
    assert job["status"] == "done", job
    link = client.get(f"/jobs/{job_id}/download", params={"format": "json"}).json()["download_url"]
    answer = httpx.get(link, timeout=30).json()
    assert answer["success"] is True
    data: dict[str, Any] = answer["data"]
    if data["output_url"].startswith("/"):  # the worker has no request to take the API's address from
        data["output_url"] = svc.service.url + data["output_url"]
    return data


def test_the_typed_clients_call_plugins(svc: Running) -> None:
    """client.plugins.call (sync and async) against the running service: data, errors with the envelope's
    message, and mode="async" answering the queued job."""
    with Client(svc.service.url, api_key=KEY) as client:
        resized = client.plugins.call("image/resize", {
            "image_url": svc.files.url("large.jpg"), "options": {"width": 120, "height": 80, "fit": "cover"}})
        assert (images.facts(stored(resized)).width, images.facts(stored(resized)).height) == (120, 80)
        with pytest.raises(BadRequest, match="not a valid image"):
            client.plugins.call("image/compress", {"image_url": svc.files.url("notes.jpg")})
        with pytest.raises(ClientError, match="Plugin not found") as unknown:
            client.plugins.call("image/teleport", {"image_url": svc.files.url("large.jpg")})
        assert unknown.value.status == 501
        queued = client.plugins.call("image/compress", {"image_url": svc.files.url("cmyk.jpg")}, mode="async")
        assert queued["status"] == "queued"
        assert client.wait(queued["job_id"], timeout=120).status == "done"
    with Client(svc.service.url, api_key="wrong-key") as stranger, pytest.raises(Unauthorized, match="Invalid API"):
        stranger.plugins.call("image/resize", {"image_url": svc.files.url("large.jpg")})

    async def from_asyncio() -> dict[str, Any]:
        async with AsyncClient(svc.service.url, api_key=KEY) as aclient:
            return await aclient.plugins.call("image/compress", {
                "image_url": svc.files.url("alpha.png"), "options": {"format": "webp"}})

    compressed = asyncio.run(from_asyncio())
    assert_metadata_true(compressed, FILES["alpha.png"][0])


def test_the_same_plugin_runs_as_a_queued_job(svc: Running) -> None:
    original = FILES["large.jpg"][0]
    with svc.client() as client:
        queued = client.post("/api/v1/image/compress?mode=async", json={
            "image_url": svc.files.url("large.jpg"), "options": {"format": "webp", "max_width": 640}})
        assert queued.status_code == 202, queued.text
        job = queued.json()["data"]
        assert job["status"] == "queued" and queued.headers["location"] == f"/jobs/{job['job_id']}"
        data = _finished_output(svc, client, job["job_id"])
        found = assert_metadata_true(data, original)
        assert (found.format, found.width, found.height) == ("webp", 640, 427)

        submitted = client.post("/jobs", json={"service": "image-compress", "payload": {
            "image_url": svc.files.url("cmyk.jpg"), "options": {"quality": 50}}})
        assert submitted.status_code == 202, submitted.text
        assert_metadata_true(_finished_output(svc, client, submitted.json()["job_id"]), FILES["cmyk.jpg"][0])

        invalid = client.post("/jobs", json={"service": "image-compress", "payload": {"options": {}}})
        assert invalid.status_code == 400 and "Missing required parameter: image_url" in invalid.json()["detail"]
