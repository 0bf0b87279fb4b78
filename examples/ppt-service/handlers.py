"""PraisonAI PPT: a PowerPoint job service in one file.

    praisonai-svc run examples/ppt-service/handlers.py
    praisonai-svc submit examples/ppt-service/sample.yaml --wait --output deck.pptx
    praisonai-svc submit examples/ppt-service/sample.yaml --service ppt-preview --wait --output deck.zip

The payload is a praisonaippt deck (presentation_title, presentation_subtitle, sections with verses);
see README.md beside this file.
"""

from __future__ import annotations

import copy
import re
import tempfile
from pathlib import Path
from typing import Any

from praisonaippt import create_presentation, load_verses_from_dict
from praisonaippt.exceptions import SchemaError

from praisonai_svc import JobContext, JobFailed, Outputs, ServiceApp

PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
MAX_SLIDES = 200
# Without these praisonaippt titles the deck "Bible Verses Collection".
DEFAULTS = {"presentation_title": "Slides", "presentation_subtitle": ""}
# praisonaippt opens any image/media path it is given: never let a client name files on the server.
FILE_KEY = re.compile(r"(_path|_dir|^background_image)$")

app = ServiceApp("PraisonAI PPT")


def _file_keys(node: Any, where: str = "payload") -> list[str]:
    """Every place in the payload where a key names a local file or directory."""
    if isinstance(node, dict):
        found = [f"{where}.{key}" for key in node if FILE_KEY.search(str(key))]
        return found + [hit for key, value in node.items() for hit in _file_keys(value, f"{where}.{key}")]
    if isinstance(node, list):
        return [hit for i, item in enumerate(node) for hit in _file_keys(item, f"{where}[{i}]")]
    return []


def _check(payload: Any) -> int:
    """Reject payloads that can never become a deck; return the number of content slides."""
    if not isinstance(payload, dict):
        raise JobFailed("payload must be a mapping with presentation_title and sections")
    if not all(isinstance(payload.get(key, ""), str) for key in DEFAULTS):
        raise JobFailed("payload.presentation_title and payload.presentation_subtitle must be text")
    sections = payload.get("sections")
    if not isinstance(sections, list) or not sections:
        raise JobFailed("payload.sections must be a non-empty list of {section, verses} mappings")
    count = sum(len(s.get("verses") or []) for s in sections if isinstance(s, dict))
    if count == 0:
        raise JobFailed("the deck has no slides: give at least one section a non-empty 'verses' list")
    if count > MAX_SLIDES:
        raise JobFailed(f"the deck has {count} slides; this service builds at most {MAX_SLIDES}")
    if bad := _file_keys(payload):
        raise JobFailed(f"local file paths are not accepted by this service: {', '.join(bad)}")
    return count


@app.job("ppt")
def generate_ppt(payload: dict, ctx: JobContext) -> tuple[bytes, str, str]:
    """Build a PowerPoint deck (.pptx) from a praisonaippt deck: title, subtitle, sections of slides."""
    count = _check(payload)
    title = str(payload.get("presentation_title") or DEFAULTS["presentation_title"])
    ctx.logger.info("building deck %r with %d content slides", title, count)
    ctx.progress(0.1, "payload validated")
    with tempfile.TemporaryDirectory(prefix="praisonai-ppt-") as tmp:
        target = Path(tmp) / "deck.pptx"
        try:
            deck = load_verses_from_dict({**DEFAULTS, **copy.deepcopy(payload)})
            written = create_presentation(deck, output_file=str(target))
        except (SchemaError, AttributeError, KeyError, TypeError, ValueError) as exc:  # would fail every time
            raise JobFailed(f"invalid deck: {exc}") from exc
        if not written:  # praisonaippt prints and returns None when saving fails: let the framework retry
            raise RuntimeError("praisonaippt could not save the presentation")
        data = target.read_bytes()
    ctx.progress(0.9, f"built {len(data)} bytes")
    return data, PPTX_MIME, f"{title[:80]}.pptx"  # praisonai-svc makes the name safe for downloads


@app.job("ppt-preview")
def generate_ppt_with_preview(payload: dict, ctx: JobContext) -> Outputs:
    """The same deck plus a PNG preview of every slide: a multi-file job (download: one ZIP, or each file)."""
    data, mime, name = generate_ppt(payload, ctx)
    outputs = Outputs()
    outputs.add(data, mime, name)
    for number, png in enumerate(render_previews(data), start=1):
        outputs.add(png, "image/png", f"slide-{number:02d}.png")
    ctx.progress(1.0, f"deck and {len(outputs) - 1} previews")
    return outputs


PREVIEW_WIDTH = 960


def render_previews(deck: bytes) -> list[bytes]:
    """One PNG per slide: its background colour and every text frame where the slide places it.

    A preview, not a renderer: pictures, charts and theme fonts are not drawn (LibreOffice would, but a
    220 MB dependency for thumbnails is not what an example should ask for). Pillow draws with its own font.
    """
    import io

    from PIL import Image, ImageDraw, ImageFont
    from pptx import Presentation

    presentation = Presentation(io.BytesIO(deck))
    width, height = int(presentation.slide_width or 12192000), int(presentation.slide_height or 6858000)
    scale = PREVIEW_WIDTH / width
    pngs = []
    for slide in presentation.slides:
        image = Image.new("RGB", (PREVIEW_WIDTH, round(height * scale)), _background(slide))
        draw = ImageDraw.Draw(image)
        for shape in slide.shapes:
            if not shape.has_text_frame or not shape.text_frame.text.strip():
                continue
            left, top = round((shape.left or 0) * scale), round((shape.top or 0) * scale)
            size = 34 if shape == getattr(slide.shapes, "title", None) else 20
            font = ImageFont.load_default(size=size)
            draw.multiline_text((left + 4, top + 4), _wrap(shape.text_frame.text, size, shape.width, scale),
                                fill=_text_colour(shape, image.getpixel((0, 0))), font=font, spacing=6)
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        pngs.append(out.getvalue())
    return pngs


def _background(slide: Any) -> tuple[int, int, int]:
    try:
        colour = slide.background.fill.fore_color.rgb
        return int(colour[0]), int(colour[1]), int(colour[2])
    except (AttributeError, TypeError, ValueError):  # no solid fill: white
        return 255, 255, 255


def _text_colour(shape: Any, background: Any) -> tuple[int, int, int]:
    """The first explicit colour of the shape's text, else black or white, whichever reads on the background."""
    for paragraph in shape.text_frame.paragraphs:
        for font in (paragraph.font, *(run.font for run in paragraph.runs)):
            try:
                colour = font.color.rgb
            except AttributeError:
                continue
            if colour is not None:
                return int(colour[0]), int(colour[1]), int(colour[2])
    red, green, blue = background[:3]
    return (20, 20, 20) if 0.299 * red + 0.587 * green + 0.114 * blue > 140 else (245, 245, 245)


def _wrap(text: str, size: int, shape_width: int | None, scale: float) -> str:
    import textwrap

    columns = max(int((shape_width or 9_000_000) * scale / (size * 0.55)), 10)
    return "\n".join(textwrap.fill(line, columns) or " " for line in text.splitlines())
