"""Dates given relative to the day they are read: ``today``, ``yesterday``, ``today-N`` (UTC).

One schedule can then start a job with ``--from-date today-7 --to-date yesterday`` for every
day; ``execute`` resolves them once when it plans a batch, a job script when it starts. A run a
schedule started also carries ``--logical-time``, the time the schedule meant it for: its
relative dates count from that time's day (``logical_day``), not from the day the run happens to
start, so a retry or a console re-run of it a week later covers the same days. EventBridge
Scheduler passes its ``<aws.scheduler.scheduled-time>`` (UTC); a crontab line the local time cron
fired it, with its offset. Without one, ``execute`` counts from today in UTC, or in the machine's
zone (``local_today``) when asked.

This is the one date grammar of the project: the CLI's options, ``execute``'s plans, the schedules'
windows and the jobs' arguments all read dates here. A date is ``YYYY-MM-DD`` in ASCII digits (a
real day: ``2024-3-1``, ``2024-02-30``, a time after it or digits of another script are refused) or
one of the relative words; spaces around either are ignored.

Every date is from ``FIRST_DAY`` (1000-01-01) on, ``--logical-time`` too: ``strftime('%Y')``
writes year 999 as ``999``, so a plan wrote ``--from-date 999-01-01`` that the job then refused,
and a job name's ``%Y%m%d`` was no longer eight digits. A date before it, written or counted back
(``today-999999`` lands before year 1), is refused with ``DayOutOfRange``, naming where it lands.
So is one after ``LAST_DAY`` (9999-12-30), written or as the day of ``--logical-time``: a job reads up
to the day after its last, which 9999-12-31 does not have (the job ended in OverflowError).
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, date, datetime, timedelta
from typing import NoReturn

# ``[0-9]``, not ``\d``: ``\d`` takes any script's digits (``today-７``).
RELATIVE = re.compile(r"today(?:-([0-9]{1,6}))?|yesterday")
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FORMS = "YYYY-MM-DD, today, yesterday or today-N"
# The job argument naming the time a schedule meant a run for (without its dashes).
LOGICAL_TIME = "logical-time"
# ISO 8601 with the time and its offset: 2026-03-02T03:00:00Z, 2026-03-02T03:00+0100.
TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:?[0-9]{2})")
TIMESTAMP_FORM = "a time with its offset, e.g. 2026-03-02T03:00:00Z or 2026-03-02T03:00+0100"
# The first day a date may name: every year from here on has four digits however it is written.
FIRST_DAY = date(1000, 1, 1)
FIRST_DAY_RULE = f"the first day a date can name is {FIRST_DAY}"
# The last: a job reads up to the day after the last day it covers, and the calendar's last day has none.
LAST_DAY = date.max - timedelta(days=1)
LAST_DAY_RULE = f"the last day a job can cover is {LAST_DAY} (jobs read up to the day after --to)"


class NotADate(ValueError):
    """The text is neither a date nor a relative date; the message gives the accepted forms."""


class DayOutOfRange(NotADate):
    """The text is a date, or counts back to one, before ``FIRST_DAY`` or after ``LAST_DAY``; the message says
    where it lands."""


def now() -> datetime:
    """The current time (the one clock the relative dates read)."""
    return datetime.now(UTC)


def utc_today() -> date:
    return now().date()


def local_today() -> date:
    """Today in this machine's time zone (``TZ``, else the system's), the zone cron fires its lines in."""
    return now().astimezone().date()


def local_zone() -> str:
    """This machine's time zone now, e.g. ``BST, UTC+0100``."""
    return f"{now().astimezone():%Z, UTC%z}"


def is_relative(text: str) -> bool:
    return RELATIVE.fullmatch(text.strip()) is not None


def days_back(text: str) -> int | None:
    """How many days before today a relative date is (``yesterday`` is 1), or None for any other text."""
    value = text.strip()
    relative = RELATIVE.fullmatch(value)
    if relative is None:
        return None
    return 1 if value == "yesterday" else int(relative.group(1) or 0)


def resolve_day(text: str, today: date | None = None) -> date:
    """The date ``text`` names: a ``YYYY-MM-DD`` date, or one relative to ``today`` (default: today in UTC)."""
    value = text.strip()
    days = days_back(value)
    if days is None:
        return _in_range(text, _written_day(text))
    today = today or utc_today()
    counted = f"{days} days before {today}"
    if days > (today - date.min).days:
        raise DayOutOfRange(f"{text!r} lands before year 1 ({counted}); {FIRST_DAY_RULE}")
    day = today - timedelta(days=days)
    return _in_range(text, day, f"lands on {day.isoformat()} ({counted}),")


def _written_day(text: str) -> date:
    value = text.strip()
    try:
        return date.fromisoformat(value) if DAY.fullmatch(value) else _refuse(text)
    except ValueError:
        _refuse(text)


def _in_range(text: str, day: date, landing: str = "is") -> date:
    if day < FIRST_DAY:
        raise DayOutOfRange(f"{text!r} {landing} before year 1000; {FIRST_DAY_RULE}")
    if day > LAST_DAY:
        raise DayOutOfRange(f"{text!r}: {LAST_DAY_RULE}")
    return day


def logical_time(text: str) -> datetime:
    """The time a schedule meant a run for, with its offset; NotADate for anything else (a time without an offset too)."""
    value = text.strip()
    if TIMESTAMP.fullmatch(value) is None:
        raise NotADate(f"{text!r} is not {TIMESTAMP_FORM}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise NotADate(f"{text!r} is not {TIMESTAMP_FORM}") from None
    _in_range(text, moment.date())
    return moment


def logical_day(text: str) -> date:
    """The day relative dates count from in a run a schedule meant for ``text``: its date where it was written.

    EventBridge Scheduler writes UTC (``Z``), so a firing at 00:30 UTC counts from that UTC day;
    a crontab line writes the machine's local time and offset, so it counts from the local day.
    """
    return logical_time(text).date()


def day_option(text: str) -> date:
    """An argparse ``type``: the date now (UTC), or a usage error listing the accepted forms."""
    try:
        return resolve_day(text)
    except NotADate as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _refuse(text: str) -> NoReturn:
    raise NotADate(f"{text!r} is not a date: give {FORMS}")
