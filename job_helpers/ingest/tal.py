"""EDF+ time-stamped annotation lists (TALs): every text replaced by ``X`` unless ``ingest.keep.annotations`` keeps it.

An annotation signal's bytes in one data record are time-stamped annotation lists (TALs), then
zero bytes to the end: ``+onset[\\x15duration]\\x14text\\x14text\\x14…\\x00``. The first TAL of a
record may have one empty text (the record's time-keeping TAL). Onsets and durations are kept, so
the recording's timing is unchanged; each non-empty text becomes ``X`` (EDF+'s "unknown") unless
kept. The rewritten bytes are never longer than the original, and are padded with zeros to its
length. Bytes that are not TALs are refused (``AnnotationError``): they could hold anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable

REPLACEMENT = b"X"
_TIMESTAMP = re.compile(rb"[+-]\d+(?:\.\d+)?(?:\x15\d+(?:\.\d+)?)?")


class AnnotationError(Exception):
    """An annotation signal's bytes are not TALs, or a kept text holds the name; the message shows no text."""


def rewrite(area: bytes, keep: Callable[[str], bool]) -> tuple[bytes, list[str]]:
    """The area with every annotation text not kept replaced; and the texts kept (for the name check)."""
    out, kept = bytearray(), []
    for tal in area.rstrip(b"\x00").split(b"\x00"):
        if not tal:
            continue
        stamp, sep, rest = tal.partition(b"\x14")
        if not sep or not rest.endswith(b"\x14") or not _TIMESTAMP.fullmatch(stamp):
            raise AnnotationError("bytes that are not a time-stamped annotation list (TAL)")
        out += stamp + b"\x14"
        for text in rest[:-1].split(b"\x14"):
            decoded = _decoded(text)
            if text and decoded is not None and keep(decoded):
                kept.append(decoded)
                out += text
            elif text:
                out += REPLACEMENT
            out += b"\x14"
        out += b"\x00"
    return bytes(out.ljust(len(area), b"\x00")), kept


def _decoded(text: bytes) -> str | None:
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError:
        return None
