"""The example service examples/ppt-service: its handler builds a real .pptx from the sample request."""

from __future__ import annotations

import importlib.util
import io
import logging
from pathlib import Path
from types import ModuleType

# scripts/setup.sh installs examples/ppt-service/requirements.txt, so these imports must work in CI.
import pptx
import pytest
import yaml

from praisonai_svc import JobFailed

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ppt-service"
PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


class StandInContext:
    """Just what the handler uses of JobContext: progress() and logger."""

    def __init__(self) -> None:
        self.logger = logging.getLogger("test_example_ppt")
        self.reports: list[tuple[float, str]] = []

    def progress(self, fraction: float, message: str = "") -> None:
        assert 0.0 <= fraction <= 1.0
        self.reports.append((fraction, message))


@pytest.fixture(scope="module")
def handlers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ppt_service_handlers", EXAMPLE / "handlers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def sample_payload() -> dict:
    request = yaml.safe_load((EXAMPLE / "sample.yaml").read_text(encoding="utf-8"))
    return request["payload"]


def test_sample_builds_a_real_deck(handlers: ModuleType, sample_payload: dict) -> None:
    ctx = StandInContext()
    data, mime, filename = handlers.generate_ppt(sample_payload, ctx)

    assert mime == PPTX_MIME
    assert filename.endswith(".pptx")
    assert data[:2] == b"PK"  # a .pptx is a zip archive
    deck = pptx.Presentation(io.BytesIO(data))

    # A title slide, one slide per named section, one per entry in verses (the sample's texts are short,
    # so praisonaippt splits none of them over several slides).
    sections = sample_payload["sections"]
    expected = 1 + sum(1 for s in sections if s.get("section")) + sum(len(s["verses"]) for s in sections)
    assert expected == 7
    assert len(deck.slides) == expected

    def slide_text(index: int) -> str:
        return "\n".join(shape.text_frame.text for shape in deck.slides[index].shapes if shape.has_text_frame)

    assert sample_payload["presentation_title"] in slide_text(0)
    assert sample_payload["presentation_subtitle"] in slide_text(0)
    assert sections[0]["section"] in slide_text(1)
    assert any(shape.has_table for shape in deck.slides[5].shapes)
    assert ctx.reports and all(0.0 <= fraction <= 1.0 for fraction, _ in ctx.reports)


def test_handler_does_not_mutate_the_payload(handlers: ModuleType, sample_payload: dict) -> None:
    before = yaml.safe_dump(sample_payload)
    handlers.generate_ppt(sample_payload, StandInContext())
    assert yaml.safe_dump(sample_payload) == before


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (["not", "a", "mapping"], "must be a mapping"),
        ({"presentation_title": "No sections"}, "sections"),
        ({"presentation_title": "Empty", "sections": [{"section": "A", "verses": []}]}, "no slides"),
        ({"sections": [{"verses": [{"slide_type": "no_such_layout", "text": "x"}]}]}, "no_such_layout"),
        ({"sections": [{"verses": [{"text": "x", "alignment": "diagonal"}]}]}, "alignment"),
        (
            {"sections": [{"verses": [{"slide_type": "image", "image_path": "/etc/hostname"}]}]},
            "local file paths",
        ),
    ],
    ids=["not-a-mapping", "no-sections", "no-slides", "unknown-slide-type", "bad-option", "server-file"],
)
def test_unusable_payload_is_job_failed(handlers: ModuleType, payload: object, message: str) -> None:
    with pytest.raises(JobFailed, match=message):
        handlers.generate_ppt(payload, StandInContext())


def test_preview_service_returns_the_deck_and_a_png_per_slide(handlers: ModuleType):
    from PIL import Image

    from praisonai_svc.outputs import coerce_outputs

    payload = yaml.safe_load((EXAMPLE / "sample.yaml").read_text())["payload"]
    outputs = coerce_outputs(handlers.generate_ppt_with_preview(payload, StandInContext()))
    deck = outputs[0]
    assert deck.content_type == PPTX_MIME and deck.filename.endswith(".pptx")
    slides = len(pptx.Presentation(io.BytesIO(deck.source)).slides)
    previews = outputs[1:]
    assert [p.filename for p in previews] == [f"slide-{n:02d}.png" for n in range(1, slides + 1)]
    first = Image.open(io.BytesIO(previews[0].source))
    assert first.format == "PNG" and first.size[0] == handlers.PREVIEW_WIDTH
    assert first.getpixel((2, 2)) == (0x1A, 0x1A, 0x2E)  # the sample's slide background colour
    assert len(set(Image.open(io.BytesIO(p.source)).tobytes() for p in previews)) == slides  # each slide differs
