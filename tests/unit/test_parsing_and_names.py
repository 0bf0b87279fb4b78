from __future__ import annotations

import time

import pytest

from praisonai_svc.adapters.local.signing import load_or_create_key, sign, verify
from praisonai_svc.api.body import parse_document, to_job_request
from praisonai_svc.errors import InvalidSignature, PayloadError
from praisonai_svc.filenames import content_disposition, safe_filename
from praisonai_svc.safe_parse import parse_json, parse_yaml
from praisonai_svc.worker.backoff import PollBackoff, retry_delay


def test_json_and_yaml_give_the_same_document():
    assert parse_document(b'{"payload": {"a": [1, 2]}}', "application/json") == parse_document(
        b"payload:\n  a: [1, 2]\n", "text/yaml")
    assert parse_document(b"payload: {a: 1}", "") == {"payload": {"a": 1}}  # sniffed when no type is given


@pytest.mark.parametrize("text", ["a: !!python/name:os.system", "a: !!binary aGVsbG8=", "a: 2020-01-01"])
def test_yaml_refuses_unsafe_or_non_json_values(text):
    with pytest.raises(PayloadError):
        parse_yaml(text)


def test_depth_limits():
    with pytest.raises(PayloadError, match="nested"):
        parse_json("[" * 100 + "]" * 100)
    assert parse_json("[" * 30 + "]" * 30)


def test_request_shape_errors_are_explained():
    with pytest.raises(PayloadError, match="service named in the query and in the body differ"):
        to_job_request({"payload": {}, "service": "a"}, "b")
    assert to_job_request({"payload": {"k": 1}}, "svc").service == "svc"


@pytest.mark.parametrize(("given", "expected"), [
    ("slides.pptx", "slides.pptx"), ("../../etc/passwd", "passwd"), ("C:\\x\\evil.exe", "evil.exe"),
    ("..", "output.bin"), (".hidden", "hidden"), ("résumé €.pdf", "resume .pdf"), ("a/b/", "output.bin"),
    ("x" * 300 + ".txt", "x" * 120),
])
def test_safe_filename(given, expected):
    assert safe_filename(given) == expected


def test_content_disposition_has_ascii_and_utf8_forms():
    header = content_disposition('ré"sumé.pdf')
    assert header.startswith('attachment; filename="re_sume.pdf"')
    assert "filename*=UTF-8''r%C3%A9%22sum%C3%A9.pdf" in header


def test_signing_roundtrip_tamper_and_expiry(tmp_path):
    key = load_or_create_key(tmp_path / "k")
    assert load_or_create_key(tmp_path / "k") == key and (tmp_path / "k").stat().st_mode & 0o777 == 0o600
    future = int(time.time()) + 60
    url = sign(key, "svc/j/out.txt", future, "out.txt", "text/plain")
    sig = url.rsplit("sig=", 1)[1]
    verify(key, "svc/j/out.txt", str(future), "out.txt", "text/plain", sig)
    for args in [("svc/j/other.txt", str(future), "out.txt", "text/plain"),
                 ("svc/j/out.txt", str(future + 1), "out.txt", "text/plain"),
                 ("svc/j/out.txt", str(future), "out.html", "text/plain"),
                 ("svc/j/out.txt", "soon", "out.txt", "text/plain")]:
        with pytest.raises(InvalidSignature):
            verify(key, *args, sig)
    past = int(time.time()) - 1
    expired = sign(key, "n", past, "f", "t").rsplit("sig=", 1)[1]
    with pytest.raises(InvalidSignature):
        verify(key, "n", str(past), "f", "t", expired)
    with pytest.raises(InvalidSignature):
        verify(b"another key", "svc/j/out.txt", str(future), "out.txt", "text/plain", sig)


def test_poll_backoff_doubles_to_the_cap_and_resets():
    backoff = PollBackoff(1, 30)
    assert [backoff.next_delay() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    backoff.reset()
    assert backoff.next_delay() == 1
    assert [retry_delay(n, 2, 10) for n in (1, 2, 3, 4)] == [2, 4, 8, 10]
