"""A chunk of days as UTC hours (epoch seconds), and the ``dt=/hour=`` partition each hour is published under."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

HOUR_MS = 3_600_000


def chunk_hour_starts(first: date, last: date) -> list[int]:
    """Every hour of the chunk's days, ``first`` 00:00 to ``last`` 23:00 UTC, in epoch seconds."""
    start = int(datetime.combine(first, time(), UTC).timestamp())
    end = int(datetime.combine(last + timedelta(days=1), time(), UTC).timestamp())
    return list(range(start, end, 3600))


def partition(hour: int) -> str:
    """``dt=YYYY-MM-DD/hour=HH/`` of an epoch second."""
    moment = datetime.fromtimestamp(hour, UTC)
    return f"dt={moment:%Y-%m-%d}/hour={moment:%H}/"
