"""Typed values from a job's resolved ``--name value`` arguments, with errors that name the argument.

``getResolvedOptions`` hands every value over as a string keyed with ``_`` for ``-``; jobs turn
them into dates, choices and numbers here, so a bad value fails the run with one clear line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from job_helpers.publish import ShrinkGuard
from job_helpers.relative_dates import FORMS, NotADate, resolve_day, utc_today
from job_helpers.runtime import JobFailed


def _value(args: Mapping[str, str], name: str) -> str:
    return args[name.replace("-", "_")]


def day(args: Mapping[str, str], name: str, today: date | None = None) -> date:
    """A date argument: ``YYYY-MM-DD``, or ``today``, ``yesterday``, ``today-N`` resolved now (UTC).

    Relative dates let one scheduled trigger pass the same arguments every day.
    """
    value = _value(args, name)
    try:
        return resolve_day(value, today)
    except NotADate as error:
        raise JobFailed(f"--{name} {value!r} is not a date; give {FORMS}") from error


def day_range(args: Mapping[str, str], today: date | None = None) -> tuple[date, date]:
    """``--from-date`` and ``--to-date``, both included, in order; relative ones resolved against one today."""
    today = today or utc_today()
    first, last = day(args, "from-date", today), day(args, "to-date", today)
    if last < first:
        raise JobFailed(f"--to-date {last} is before --from-date {first}")
    return first, last


def choice(args: Mapping[str, str], name: str, choices: Sequence[str]) -> str:
    value = _value(args, name)
    if value not in choices:
        raise JobFailed(f"--{name} {value!r} is not one of {', '.join(choices)}")
    return value


def positive_int(args: Mapping[str, str], name: str) -> int:
    return whole_number(args, name, 1)


def switch(args: Mapping[str, str], name: str) -> bool:
    """``true`` or ``false`` (any case, surrounding spaces ignored)."""
    value = _value(args, name).strip().lower()
    if value not in ("true", "false"):
        raise JobFailed(f"--{name} {_value(args, name)!r} must be true or false")
    return value == "true"


def optional_day_range(args: Mapping[str, str], today: date | None = None) -> tuple[date, date] | None:
    """``--from-date`` and ``--to-date`` when both are given, None when neither is."""
    given = [name for name in ("from-date", "to-date") if name.replace("-", "_") in args]
    if not given:
        return None
    if len(given) == 1:
        raise JobFailed(f"--{given[0]} needs its partner: give both --from-date and --to-date, or neither")
    return day_range(args, today)


def whole_number(args: Mapping[str, str], name: str, minimum: int, hint: str = "") -> int:
    """A whole number of at least ``minimum``; ``hint`` shows the user a sensible value."""
    value = _value(args, name)
    if not value.isdigit() or int(value) < minimum:
        raise JobFailed(f"--{name} {value!r} must be a whole number of at least {minimum}{f' ({hint})' if hint else ''}")
    return int(value)


def share(args: Mapping[str, str], name: str) -> float:
    """A share from 0 to 1 (0.01 is 1%)."""
    value = _value(args, name)
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:
        raise JobFailed(f"--{name} {value!r} must be a number from 0 to 1, e.g. 0.01 for 1%")
    return number


def optional_switch(args: Mapping[str, str], name: str) -> bool:
    """A ``switch`` that is false when the argument is not given."""
    return name.replace("-", "_") in args and switch(args, name)


def shrink_guard(args: Mapping[str, str]) -> ShrinkGuard:
    """``--allow-shrink`` (false when absent) and ``--max-row-loss``, the share of a scope's rows a publish
    may lose (config.yml ``project.max_row_loss``; the guard's default when absent)."""
    allowed = optional_switch(args, "allow-shrink")
    if "max_row_loss" not in args:
        return ShrinkGuard(allowed=allowed)
    return ShrinkGuard(allowed=allowed, max_loss=share(args, "max-row-loss"))
