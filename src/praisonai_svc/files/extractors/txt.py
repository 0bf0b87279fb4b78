"""TXT: the text, in its detected encoding (byte-order mark, UTF-8, or charset-normalizer's best guess)."""

from __future__ import annotations

from pathlib import Path

from praisonai_svc.files.extractors.base import Extraction, Extractor, Limits
from praisonai_svc.files.extractors.magic import text_problem
from praisonai_svc.files.extractors.text_encoding import SAMPLE_BYTES, detect_encoding


class TxtExtractor(Extractor):
    extensions = ("txt",)
    mime_type = "text/plain"
    description = "the text; metadata: encoding, characters, lines"

    def check_content(self, head: bytes) -> str | None:
        return text_problem(head)

    def extract(self, path: Path, limits: Limits) -> Extraction:
        data = path.read_bytes()
        encoding = detect_encoding(data[:SAMPLE_BYTES] if len(data) > SAMPLE_BYTES else data,
                                   complete=len(data) <= SAMPLE_BYTES)
        text = data.decode(encoding, errors="replace")
        return Extraction(text, {"encoding": encoding, "characters": len(text), "lines": text.count("\n") + 1})


extractor = TxtExtractor()
