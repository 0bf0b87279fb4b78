"""PraisonAI PPT: a PowerPoint job service in one file.

    praisonai-svc run examples/ppt-service/handlers.py
    praisonai-svc submit examples/ppt-service/sample.yaml --wait --output deck.pptx

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

from praisonai_svc import JobContext, JobFailed, ServiceApp

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
