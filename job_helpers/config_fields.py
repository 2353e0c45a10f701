"""One parser for each kind of value config.yml holds: whole numbers, shares, prices, switches, choices, names and ARNs.

Every section parser (``control/config.py`` and each data set's ``settings.py``) declares its keys
as these fields and reads them here, so a kind of value is checked one way and refused with one
message that names the dotted key and what to write. ``read`` appends the problem to ``problems``
and returns the field's default, so ``make config-check`` lists every mistake of the file at once.
The module sits below the control plane and imports nothing heavy: the data set packages that use
it are shipped to Glue.

Every number is finite and has a most: a whole number at most ``MOST_WHOLE`` (a 64-bit integer)
unless its field names a smaller natural one (Glue's most workers or minutes, the Integer of an AWS
API, S3's largest part), a price at most ``MOST_PRICE`` USD. A number YAML 1.1 hands over as text
(``'3'``, or ``1e-3``, which it reads as a number only with a dot: ``1.0e-3``) is refused saying
so, and a name or ARN that YAML read as something else (``false``, ``12``) is refused, not shown
as ``''`` or silently made text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol


def is_number(value: Any, *, whole: bool = False, least: float | None = None, most: float | None = None) -> bool:
    """Whether ``value`` is a number (a whole one if asked) within ``least``..``most``; YAML's true and false are not."""
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or (isinstance(value, float) and not math.isfinite(value)):
        return False
    return (least is None or value >= least) and (most is None or value <= most)


# The largest 64-bit integer: a count or a size past it overflows a Long in Spark, Parquet and the AWS APIs.
MOST_WHOLE = 2**63 - 1
# The largest Integer the AWS APIs take (Glue's MaxConcurrentRuns, ...).
MOST_API_INTEGER = 2**31 - 1
# The most a price in config.yml may be, in USD (a DPU-hour is 0.44, a Timestream write 0.0000005).
MOST_PRICE = 1000.0
# A number as text: YAML 1.1 hands these over as strings when quoted, and 1e-3 (no dot) always.
NUMBER_TEXT = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")
EXPONENT_WITHOUT_DOT = re.compile(r"[-+]?[0-9]+[eE][-+]?[0-9]+")


def _why_text(value: Any) -> str:
    """Why a number written as text is refused, or nothing for any other value."""
    if not isinstance(value, str) or not NUMBER_TEXT.fullmatch(value.strip()):
        return ""
    if EXPONENT_WITHOUT_DOT.fullmatch(value.strip()):
        mantissa, _, exponent = value.strip().lower().partition("e")
        return f" (YAML 1.1 reads {value.strip()} as text: write {Decimal(value.strip()):f} or {mantissa}.0e{exponent})"
    return " (it is text: write it without quotes)"


def section(node: Any, where: str, expected: str, problems: list[str]) -> dict:
    """A section's mapping; absent, it is empty, and anything else is a problem (``expected`` says what to write)."""
    if node is None:
        return {}
    if not isinstance(node, dict):
        problems.append(f"{where}: expected {expected}")
        return {}
    return node


class Field(Protocol):
    """A key's kind of value: how it is read, and its default when absent or refused."""

    def read(self, node: Mapping[str, Any], key: str, where: str, problems: list[str]) -> Any: ...


def read_fields(node: Mapping[str, Any], fields: Mapping[str, Field], where: str, problems: list[str]) -> dict[str, Any]:
    """Each declared key of the mapping at dotted path ``where``, read by its field."""
    return {key: field.read(node, key, where, problems) for key, field in fields.items()}


@dataclass(frozen=True)
class WholeNumber:
    """A whole number of at least ``least`` (1: a positive one) and at most ``most`` (``why`` says whose limit that is)."""

    default: int
    least: int = 1
    most: int = MOST_WHOLE
    why: str = ""

    def read(self, node: Mapping[str, Any], key: str, where: str, problems: list[str]) -> int:
        value = node.get(key, self.default)
        if is_number(value, whole=True, least=self.least, most=self.most):
            return int(value)
        if is_number(value, whole=True, least=self.least):
            problems.append(f"{where}.{key}: {value!r} is more than {self.most:,}, the most it may be{self.why}")
            return self.default
        wanted = "a positive whole number" if self.least == 1 else f"a whole number of at least {self.least}"
        problems.append(f"{where}.{key}: {value!r} must be {wanted}{_why_text(value)}")
        return self.default


@dataclass(frozen=True)
class Share:
    """A share from 0 to 1 (0.01 is 1%)."""

    default: float

    def read(self, node: Mapping[str, Any], key: str, where: str, problems: list[str]) -> float:
        value = node.get(key, self.default)
        if is_number(value, least=0, most=1):
            return float(value)
        problems.append(
            f"{where}.{key}: {value!r} must be a number from 0 to 1, e.g. {self.default} for {self.default:.0%}{_why_text(value)}"
        )
        return self.default


@dataclass(frozen=True)
class Price:
    """An amount of US dollars from 0 to ``MOST_PRICE``; ``per`` says for what (``" per write"``), ``example`` a typical one."""

    default: float
    example: str
    per: str = ""

    def read(self, node: Mapping[str, Any], key: str, where: str, problems: list[str]) -> float:
        value = node.get(key, self.default)
        if is_number(value, least=0, most=MOST_PRICE):
            return float(value)
        if is_number(value, least=0):
            problems.append(f"{where}.{key}: {value!r} is more than {MOST_PRICE:,g} USD, the most a price may be")
            return self.default
        problems.append(f"{where}.{key}: {value!r} must be a price in USD{self.per}, e.g. {self.example}{_why_text(value)}")
        return self.default


@dataclass(frozen=True)
class Switch:
    """true or false."""

    default: bool

    def read(self, node: Mapping[str, Any], key: str, where: str, problems: list[str]) -> bool:
        value = node.get(key, self.default)
        if isinstance(value, bool):
            return value
        problems.append(f"{where}.{key}: {value!r} must be true or false")
        return self.default


@dataclass(frozen=True)
class Choice:
    """One of ``choices``; an empty value is the default. ``why`` follows the list, e.g. ``" (DEEP_ARCHIVE's tiers)"``."""

    choices: tuple[str, ...]
    default: str
    why: str = ""

    def read(self, node: Mapping[str, Any], key: str, where: str, problems: list[str]) -> str:
        given = node.get(key)
        value = self.default if given is None or given == "" else given
        if value not in self.choices:
            problems.append(f"{where}.{key}: {value!r} is not one of {', '.join(self.choices)}{self.why}")
            # Refused, so the file is invalid; text stays as written for the messages that quote it.
            return value if isinstance(value, str) else self.default
        return value


@dataclass(frozen=True)
class Text:
    """Text the whole of which ``pattern`` matches (names, ARNs); ``refusal`` follows the value in the problem.

    An empty value is the default; an ``optional`` field may stay empty.
    """

    pattern: re.Pattern[str]
    refusal: str
    default: str = ""
    optional: bool = False

    def read(self, node: Mapping[str, Any], key: str, where: str, problems: list[str]) -> str:
        given = node.get(key)
        if given is not None and not isinstance(given, str):
            problems.append(f"{where}.{key}: {given!r} (YAML read a {type(given).__name__}, not text: quote it) {self.refusal}")
            return self.default
        value = given or self.default
        if (value or not self.optional) and not self.pattern.fullmatch(value):
            problems.append(f"{where}.{key}: {value!r} {self.refusal}")
        return value


# An IAM role's ARN, in any partition.
IAM_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}", re.ASCII)
# A KMS key's ARN, or empty (the profile's key, or none).
KMS_KEY_ARN = Text(
    re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[\w/+=,.@-]+", re.ASCII),
    "must be a KMS key ARN or empty",
    optional=True,
)
# An environment variable's name.
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
