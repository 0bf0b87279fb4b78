"""Checks shared by the Office Open XML formats (DOCX, XLSX) before any parser sees them.

A DOCX or XLSX is a ZIP of XML parts, which makes two classic attacks possible: a ZIP bomb (a few KB that
decompress to GBs) and an XML entity bomb ("billion laughs"). Both are refused here, before python-docx or
openpyxl open the file:

* every member's *declared* uncompressed size is added up and capped (Python's zipfile never returns more bytes
  than a member declares: a lying member ends in a CRC error, not in unbounded output), and so is the number of
  members and each member's compression ratio;
* no XML part may declare a DTD: Office never writes one, and entity definitions need one. The prolog of each
  part (everything before its root element) is read with expat, which stops at the first element.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.parsers import expat

from praisonai_svc.files.extractors.base import ExtractionError, Limits
from praisonai_svc.files.sizes import format_size

MAX_MEMBERS = 10_000
MAX_RATIO = 200  # uncompressed / compressed, per member above RATIO_FLOOR
RATIO_FLOOR = 1024 * 1024
PROLOG_CHUNK = 4096
MAX_PROLOG = 64 * 1024


class _RootReached(Exception):
    pass


def check_package(path: Path, limits: Limits, *, kind: str, required: str) -> None:
    """Raise ExtractionError unless ``path`` is a complete, bounded ZIP holding ``required`` and no DTDs."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            _check_sizes(members, limits, kind)
            names = {member.filename for member in members}
            if required not in names:
                raise ExtractionError(f"This is a ZIP archive but not a {kind} file (it has no {required}).")
            for member in members:
                if member.filename.endswith((".xml", ".rels")):
                    _check_prolog(archive, member, kind)
    except zipfile.BadZipFile as exc:
        raise ExtractionError(
            f"The {kind} file is damaged or truncated ({exc}); upload the complete file again."
        ) from exc


def _check_sizes(members: list[zipfile.ZipInfo], limits: Limits, kind: str) -> None:
    if len(members) > MAX_MEMBERS:
        raise ExtractionError(f"The {kind} file holds {len(members)} parts; at most {MAX_MEMBERS} are accepted.")
    total = sum(member.file_size for member in members)
    if total > limits.max_unzipped_bytes:
        raise ExtractionError(
            f"The {kind} file would decompress to {format_size(total)}, more than the limit of "
            f"{format_size(limits.max_unzipped_bytes)} (a ZIP bomb?). PRAISONAI_FILES_MAX_UNZIPPED_SIZE sets it."
        )
    for member in members:
        ratio = member.file_size // max(member.compress_size, 1)
        if member.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
            raise ExtractionError(
                f"A part of the {kind} file ({member.filename}) is compressed {ratio}:1, far beyond real documents "
                "(a ZIP bomb?)."
            )


def _check_prolog(archive: zipfile.ZipFile, member: zipfile.ZipInfo, kind: str) -> None:
    parser = expat.ParserCreate()

    def refuse_dtd(*_args: object) -> None:
        raise ExtractionError(
            f"A part of the {kind} file ({member.filename}) declares a DTD, which Office never writes: entity "
            "definitions are how XML bombs (billion laughs) work, so the file is refused."
        )

    def root(*_args: object) -> None:
        raise _RootReached()

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.StartElementHandler = root
    read = 0
    try:
        with archive.open(member) as stream:
            while read < MAX_PROLOG:
                chunk = stream.read(PROLOG_CHUNK)
                read += len(chunk)
                parser.Parse(chunk, not chunk)
                if not chunk:
                    return
    except _RootReached:
        return
    except expat.ExpatError as exc:
        raise ExtractionError(f"A part of the {kind} file ({member.filename}) is not well-formed XML ({exc}).") from exc
    raise ExtractionError(f"A part of the {kind} file ({member.filename}) has an XML prolog over {MAX_PROLOG} bytes.")
