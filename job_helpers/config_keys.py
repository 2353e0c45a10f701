"""Config errors and the unknown-key check, shared by the control plane and the data sets' own sections.

It sits below both, so a data set package can check its section without importing the control plane.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any


class ConfigError(Exception):
    """config.yml is missing, malformed or invalid; the message names each key and the fix."""


UNKNOWN_KEY = "unknown key"


def check_keys(node: Any, known: Iterable[str], where: str, problems: list[str]) -> None:
    """Report each key of the mapping ``node`` (at dotted path ``where``) that ``known`` does not list.

    Every section parser calls this with the keys it reads, declared next to it, so a misspelt
    key is an error that suggests the closest known one instead of a value silently ignored.
    """
    if not isinstance(node, Mapping):
        return
    known = tuple(known)
    prefix = f"{where}." if where else ""
    for key in node:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f"did you mean {prefix}{close[0]}?" if close else f"known keys here: {', '.join(known) or 'none'}"
        problems.append(f"{prefix}{key}: {UNKNOWN_KEY}; {hint}")
