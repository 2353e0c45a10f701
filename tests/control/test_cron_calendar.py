"""Which days a schedule's cron fires on, and which days its firings cover: what catch-up compares with the run reports."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from job_helpers.control.cron_calendar import fires_on, firing_days, firing_times, require_a_firing
from job_helpers.control.schedule import CronError, Schedule, glue_cron
from job_helpers.control.scheduled_runs import due_since, due_since_created


def days_in(cron: str, first: date, last: date) -> list[date]:
    return [
        first + timedelta(days=n) for n in range((last - first).days + 1) if fires_on(glue_cron(cron), first + timedelta(days=n))
    ]


@pytest.mark.parametrize(
    "cron, expected",
    [
        ("0 3 * * ? *", [date(2024, 2, d) for d in range(1, 30)]),
        (
            "0 3 ? * MON-FRI *",
            [date(2024, 2, d) for d in (1, 2, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16, 19, 20, 21, 22, 23, 26, 27, 28, 29)],
        ),
        ("0 3 ? * 1 *", [date(2024, 2, d) for d in (4, 11, 18, 25)]),
        ("0 3 ? * L *", [date(2024, 2, d) for d in (3, 10, 17, 24)]),
        ("0 3 ? * 6L *", [date(2024, 2, 23)]),
        ("0 3 L * ? *", [date(2024, 2, 29)]),
        ("0 3 LW * ? *", [date(2024, 2, 29)]),
        ("0 3 1,15 * ? *", [date(2024, 2, 1), date(2024, 2, 15)]),
        ("0 3 1/10 * ? *", [date(2024, 2, 1), date(2024, 2, 11), date(2024, 2, 21)]),
        ("0 3 * FEB ? 2025", []),
        ("0 3 * MAR ? *", []),
    ],
)
def test_the_days_a_cron_fires_on_in_february_2024(cron, expected):
    assert days_in(cron, date(2024, 2, 1), date(2024, 2, 29)) == expected


@pytest.mark.parametrize(
    "cron, month, expected",
    [
        ("0 3 15W * ? *", date(2024, 6, 1), date(2024, 6, 14)),  # the 15th is a Saturday: Friday
        ("0 3 16W * ? *", date(2024, 6, 1), date(2024, 6, 17)),  # the 16th is a Sunday: Monday
        ("0 3 1W * ? *", date(2024, 6, 1), date(2024, 6, 3)),  # the 1st is a Saturday: Monday, never May
        ("0 3 30W * ? *", date(2024, 6, 1), date(2024, 6, 28)),  # the 30th is a Sunday and last: Friday
        ("0 3 LW * ? *", date(2024, 6, 1), date(2024, 6, 28)),  # the last day is a Sunday
    ],
)
def test_nearest_and_last_weekdays_stay_in_their_month(cron, month, expected):
    assert days_in(cron, month, date(2024, 6, 30)) == [expected]


def test_a_day_the_month_lacks_never_fires():
    assert days_in("0 3 31W * ? *", date(2024, 6, 1), date(2024, 6, 30)) == []
    assert days_in("0 3 31 * ? *", date(2024, 4, 1), date(2024, 4, 30)) == []


def test_firing_times_are_every_hour_and_minute_in_order():
    assert firing_times(glue_cron("0/20 8,20 * * ? *")) == [
        time(8, 0),
        time(8, 20),
        time(8, 40),
        time(20, 0),
        time(20, 20),
        time(20, 40),
    ]


def test_a_day_counts_from_its_first_firing_that_has_passed():
    cron = glue_cron("30 2,14 * * ? *")
    start = datetime(2026, 3, 1, 15, 0)
    assert firing_days(cron, start, datetime(2026, 3, 2, 2, 29)) == [], "after the 1st's last firing, before the 2nd's first"
    assert firing_days(cron, start, datetime(2026, 3, 2, 2, 30)) == [date(2026, 3, 2)]
    assert firing_days(cron, datetime(2026, 3, 1, 14, 30), datetime(2026, 3, 2, 2, 30)) == [date(2026, 3, 1), date(2026, 3, 2)]
    assert firing_days(cron, datetime(2026, 3, 3), datetime(2026, 3, 2)) == []


def schedule(cron: str, lag: int, days: int, created: datetime = datetime(2026, 3, 1, 12, tzinfo=UTC)) -> Schedule:
    return Schedule("fake", glue_cron(cron), lag, days, created, False, "test")


def test_the_days_due_are_the_windows_of_the_firings_so_far():
    daily = schedule("0 3 * * ? *", 1, 1)
    now = datetime(2026, 3, 5, 12, 0)
    assert due_since(daily, date(2026, 3, 1), now) == [date(2026, 3, d) for d in (1, 2, 3, 4)]
    assert due_since_created(daily, now) == [date(2026, 3, d) for d in (1, 2, 3, 4)], "the 1st's firing was before noon"
    weekly = schedule("0 3 ? * MON *", 0, 7)
    assert due_since(weekly, date(2026, 3, 1), datetime(2026, 3, 16, 4)) == [
        date(2026, 3, 1) + timedelta(days=n) for n in range(16)
    ], "Mondays' weeks: the 2nd covers Feb 24 to Mar 2, the 16th Mar 10 to 16"
    weekdays = schedule("0 3 ? * MON-FRI *", 1, 1)
    assert due_since(weekdays, date(2026, 3, 2), datetime(2026, 3, 10, 4)) == [date(2026, 3, d) for d in (2, 3, 4, 5, 8, 9)], (
        "a weekday schedule never covers Friday and Saturday: catch-up does not invent days it never meant to cover"
    )


def test_near_midnight_utc_the_firing_day_not_the_start_day_decides():
    """A 23:59 UTC firing with lag 1 covers the day before it, due only once it has fired."""
    late = schedule("59 23 * * ? *", 1, 1)
    assert due_since(late, date(2026, 2, 27), datetime(2026, 3, 1, 23, 58)) == [date(2026, 2, 27)]
    assert due_since(late, date(2026, 2, 27), datetime(2026, 3, 1, 23, 59)) == [date(2026, 2, 27), date(2026, 2, 28)]
    early = schedule("1 0 * * ? *", 0, 1)
    assert due_since(early, date(2026, 3, 1), datetime(2026, 3, 2, 0, 0)) == [date(2026, 3, 1)], "lag 0: its own day"


@pytest.mark.parametrize(
    "cron, fields",
    [
        ("0 3 30 2 ? *", "day-of-month '30', month '2'"),
        ("0 3 31 4 ? *", "day-of-month '31', month '4'"),
        ("0 3 31 APR,JUN,SEP,NOV ? *", "day-of-month '31', month 'APR,JUN,SEP,NOV'"),
        ("0 3 30W 2 ? *", "day-of-month '30W', month '2'"),
        ("0 3 29 2 ? 2027", "day-of-month '29', month '2', year '2027'"),
        ("0 3 * * ? 2020", "year '2020'"),
    ],
)
def test_a_cron_that_never_fires_is_refused_naming_its_day_fields(cron, fields):
    with pytest.raises(CronError) as refused:
        require_a_firing(glue_cron(cron), date(2026, 3, 1))
    assert str(refused.value).startswith(f"{fields}: no day from 2026-03-01 to the end of 2053 matches them all")


@pytest.mark.parametrize(
    "cron, first",
    [
        ("0 3 29 2 ? *", date(2028, 2, 29)),
        ("0 3 31 * ? *", date(2026, 3, 31)),
        ("0 3 ? 2 6L 2030", date(2030, 2, 22)),
        ("0 3 1 1 ? 2053", date(2053, 1, 1)),
    ],
)
def test_a_cron_that_fires_rarely_gives_its_next_day(cron, first):
    assert require_a_firing(glue_cron(cron), date(2026, 3, 1)) == first
