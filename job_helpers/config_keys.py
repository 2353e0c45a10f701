"""Config errors, the unknown-key check and what a section parser is given, shared by the control plane and the domains.

It sits below both, so a domain package parses its own section of config.yml without importing the
control plane. Every section parser has one signature, ``parse(node, context, problems)``: ``node``
is the section as written (after ``${VAR}`` expansion and ``--set``), ``context`` the values resolved
around it, and each problem is appended to ``problems`` with its dotted key, so ``make config-check``
reports every mistake of the file at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """config.yml is missing, malformed or invalid; the message names each key and the fix."""


UNKNOWN_KEY = "unknown key"
# Dashes a job argument's name may have been typed with: hyphens, or the en or em dash a word processor makes of two.
DASHES = "-\u2013\u2014"


@dataclass(frozen=True)
class SectionContext:
    """What a section may refer to outside itself, resolved for one profile.

    ``base_dir`` is the folder of config.yml (relative files are found from there), ``datasets`` the
    data set URLs by dotted name, ``buckets`` the ``buckets:`` section (logical name → bucket) and
    ``aws_kms_key_arn`` the aws profile's KMS key (``profiles.aws.kms_key_arn``).
    """

    profile: str
    base_dir: Path
    datasets: Mapping[str, str]
    buckets: Mapping[str, Any]
    aws_kms_key_arn: str | None = None


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
