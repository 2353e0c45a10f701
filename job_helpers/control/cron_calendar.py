"""Which days a schedule's cron fires on, and so which days its runs should have covered by now.

A checked ``schedule.Cron`` read as EventBridge Scheduler and Glue read it: a day fires when its
year and month match and, of the two day fields, the one that is not ``?`` matches it. The day of
the month takes numbers, ``L`` (its last day), ``LW`` (its last weekday) and ``nW`` (the weekday
nearest the nth, within the month); the day of the week numbers 1-7 from Sunday, ``L`` (Saturday)
and ``nL`` (the month's last such weekday). Times are wall-clock times in the schedule's zone.
Pure logic: no clock is read here; the caller passes ``now``.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from functools import cache

from job_helpers.control.schedule import GLUE_FIELDS, Cron, CronError, Term

SATURDAY = 7
# How far ahead a new schedule must fire: the days of the month and of the week fall on the same
# dates again every 28 years (1901-2099), so a cron that fires in none of them never fires.
HORIZON_YEARS = 28


def fires_on(cron: Cron, day: date) -> bool:
    """Whether the cron fires at some time of ``day``."""
    _, _, month_days, months, weekdays, years = cron.fields
    if day.year not in _numbers(years) or day.month not in _numbers(months):
        return False
    if weekdays[0].special == "?":
        return any(_month_day_matches(term, day) for term in month_days)
    return any(_weekday_matches(term, day) for term in weekdays)


def firing_times(cron: Cron) -> list[time]:
    """The times of day the cron fires at, in order."""
    minutes, hours = _numbers(cron.fields[0]), _numbers(cron.fields[1])
    return [time(hour, minute) for hour in sorted(hours) for minute in sorted(minutes)]


def firing_days(cron: Cron, start: datetime, now: datetime) -> list[date]:
    """The days on which the cron fired from ``start`` to ``now`` (naive wall-clock times where it fires).

    On ``start``'s day only the firings from its time on count, on ``now``'s day those up to it:
    a catch-up never runs ahead of the schedule.
    """
    times = firing_times(cron)
    days = []
    day = start.date()
    while day <= now.date():
        low = start.time() if day == start.date() else time.min
        high = now.time() if day == now.date() else time.max
        if fires_on(cron, day) and any(low <= moment <= high for moment in times):
            days.append(day)
        day += timedelta(days=1)
    return days


def next_firing_day(cron: Cron, today: date) -> date | None:
    """The first day from ``today`` on that the cron fires on, within ``HORIZON_YEARS``; None when there is none."""
    day, end = today, date(today.year + HORIZON_YEARS, 1, 1)
    while day < end:
        if fires_on(cron, day):
            return day
        day += timedelta(days=1)
    return None


def require_a_firing(cron: Cron, today: date) -> date:
    """The cron's next firing day; CronError naming its day fields when it never fires (``0 3 30 2 ? *``: 30 February)."""
    first = next_firing_day(cron, today)
    if first is None:
        day_fields = [
            f"{spec.name} {text!r}" for spec, text in zip(GLUE_FIELDS[2:], cron.text.split(" ")[2:]) if text not in ("*", "?")
        ]
        raise CronError(
            f"{', '.join(day_fields)}: no day from {today} to the end of {today.year + HORIZON_YEARS - 1} matches "
            f"them all: the schedule would not fire in the next {HORIZON_YEARS} years; check the day, month and year"
        )
    return first


@cache
def _numbers(terms: Sequence[Term]) -> frozenset[int]:
    return frozenset(value for term in terms if not term.special for value in range(term.start, term.end + 1, term.step))


def _last_day(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _weekday(day: date) -> int:
    """The day of the week as the cron counts it: 1 for Sunday to 7 for Saturday."""
    return day.isoweekday() % 7 + 1


def _nearest_weekday(day: date, nth: int) -> date | None:
    """The weekday nearest the ``nth`` of ``day``'s month, never in another month; None when the month is shorter."""
    if nth > _last_day(day).day:
        return None
    target = day.replace(day=nth)
    if target.isoweekday() == 6:
        return target - timedelta(days=1) if nth > 1 else target + timedelta(days=2)
    if target.isoweekday() == 7:
        return target + timedelta(days=1) if target < _last_day(day) else target - timedelta(days=2)
    return target


def _month_day_matches(term: Term, day: date) -> bool:
    if term.special == "L":
        return day == _last_day(day)
    if term.special == "LW":
        last = _last_day(day)
        return day == last - timedelta(days=max(0, last.isoweekday() - 5))
    if term.special.endswith("W"):
        return day == _nearest_weekday(day, term.start)
    return day.day in range(term.start, term.end + 1, term.step)


def _weekday_matches(term: Term, day: date) -> bool:
    if term.special == "L":
        return _weekday(day) == SATURDAY
    if term.special.endswith("L"):
        return _weekday(day) == term.start and (day + timedelta(days=7)).month != day.month
    return _weekday(day) in range(term.start, term.end + 1, term.step)
