"""Dates given relative to the day they are read: ``today``, ``yesterday``, ``today-N`` (UTC).

One daily trigger can then start a job with ``--from-date today-7 --to-date yesterday`` for
every day; ``execute`` resolves them once when it plans a batch, a job script when it starts.
A crontab line fires in the machine's time zone, so the ``execute`` it runs counts from today
there (``local_today``); anything else counts from today in UTC, as Glue's triggers do.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, date, datetime, timedelta
from typing import NoReturn

RELATIVE = re.compile(r"today(?:-(\d{1,6}))?|yesterday")
FORMS = "YYYY-MM-DD, today, yesterday or today-N"


class NotADate(ValueError):
    """The text is neither a date nor a relative date; the message gives the accepted forms."""


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


def resolve_day(text: str, today: date | None = None) -> date:
    """The date ``text`` names: a ``YYYY-MM-DD`` date, or one relative to ``today`` (default: today in UTC)."""
    value = text.strip()
    relative = RELATIVE.fullmatch(value)
    if relative is None:
        try:
            return date.fromisoformat(value) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else _refuse(text)
        except ValueError:
            _refuse(text)
    today = today or utc_today()
    days = 1 if value == "yesterday" else int(relative.group(1) or 0)
    try:
        return today - timedelta(days=days)
    except OverflowError:
        raise NotADate(f"{text!r} is before year 1") from None


def day_option(text: str) -> date:
    """An argparse ``type``: the date now (UTC), or a usage error listing the accepted forms."""
    try:
        return resolve_day(text)
    except NotADate as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _refuse(text: str) -> NoReturn:
    raise NotADate(f"{text!r} is not a date: give {FORMS}")
