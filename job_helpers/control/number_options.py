"""Whole numbers given on the command line, read as config.yml reads its numbers: ASCII digits, from a least to a most.

``int()`` takes digits of any script (``３``), ``1_000`` and spaces around, and ``str.isdigit`` takes ``²``,
which ``int()`` then refuses; an option without a most let ``sample-data --days`` overflow the calendar
and ``--seconds-per-day`` write more than a day holds.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

DIGITS = re.compile(r"[0-9]{1,19}")


def whole_number(least: int, most: int, unit: str = "") -> Callable[[str], int]:
    """An argparse ``type``: the number, or a usage error giving the range (``unit`` names what is counted)."""

    def read(text: str) -> int:
        value = ascii_whole_number(text)
        if value is not None and least <= value <= most:
            return value
        counted = f" {unit}" if unit else ""
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number{counted} from {least:,} to {most:,} in ASCII digits")

    return read


def ascii_whole_number(text: str) -> int | None:
    """The whole number ``text`` writes in ASCII digits (spaces around it ignored, as around a date), else None."""
    value = text.strip()
    return int(value) if DIGITS.fullmatch(value) else None
