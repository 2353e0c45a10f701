"""The allow-list of source text that may leave with the data (``ingest.keep`` in config.yml).

Landing keys, tar member names and manifests are built from subject codes, recording times,
sequence numbers and content types; EDF+ annotation texts are replaced. Only what matches one of
these regular expressions (the whole text, case ignored) is kept instead: a folder name below the
patient folder, a file extension, an annotation text. Whatever is kept is still checked for the
patient's name (``names.PatientName.refusal``), and refused when it holds a word of it or letters
the check cannot compare with the name.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Keep:
    """Patterns of the folder names, extensions and annotation texts that are kept; none by default."""

    folders: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    annotations: tuple[str, ...] = ()

    def folder(self, name: str) -> bool:
        return _matches(self.folders, name)

    def extension(self, suffix: str) -> bool:
        return _matches(self.extensions, suffix)

    def annotation(self, text: str) -> bool:
        return _matches(self.annotations, text)


NOTHING_KEPT = Keep()


def pattern_problem(pattern: object) -> str | None:
    """Why ``pattern`` cannot be an entry of a keep list, or None."""
    if not isinstance(pattern, str) or not pattern:
        return f"{pattern!r} is not a regular expression (a non-empty string)"
    try:
        re.compile(pattern)
    except re.error as error:
        return f"{pattern!r} is not a regular expression: {error}"
    return None


@functools.lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{unicodedata.normalize('NFC', p)})" for p in patterns), re.IGNORECASE)


def _matches(patterns: tuple[str, ...], text: str) -> bool:
    """Whether NFC ``text`` (a folder from macOS and one from Linux match alike) fully matches a pattern."""
    return bool(patterns) and _compiled(patterns).fullmatch(unicodedata.normalize("NFC", text)) is not None
