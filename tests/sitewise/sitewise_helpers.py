"""Shared pieces of the SiteWise job tests: a small generated lake and ways to look into it."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import fastavro
import pytest

from job_helpers.sitewise import write
from job_helpers.sitewise.day_index import DayIndex
from job_helpers.sitewise.keys import Layout, parse_raw_key
from job_helpers.sitewise.sample_data import ColdTierSummary, encode_raw_file, plan_series, raw_key, raw_records
from job_helpers.storage import Storage, join
from jobs.sitewise_repartition import main
from tests.support.job_argv import job_argv as config_job_argv

REPO = Path(__file__).resolve().parents[2]
SCRIPT = str(REPO / "jobs" / "sitewise_repartition.py")
FIRST_DAY = date(2024, 1, 31)
LAST_DAY = FIRST_DAY + timedelta(days=1)
SERIES = 12
SEED = 3


@dataclass(frozen=True)
class Lake:
    storage: Storage
    layout: Layout
    written: ColdTierSummary


def job_argv(
    layout: Layout,
    timeseries_type: str | None = None,
    first: date | str = FIRST_DAY,
    last: date | str = LAST_DAY,
) -> list[str]:
    """The job's command line from config.yml, on ``layout``'s folders with three merge workers."""
    chosen = {"timeseries_type": timeseries_type} if timeseries_type else {}
    folders = {"cold_tier": layout.cold_tier, "repartitioned": layout.repartitioned, "index": layout.index}
    return config_job_argv("sitewise_repartition", first, last, max_workers="3", **folders, **chosen)


def failure_of(argv: list[str]) -> str:
    """Run the job expecting it to fail; return the message it failed with."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 1
    return str(stopped.value.__cause__)


def read_avro(storage: Storage, url: str) -> list[dict]:
    return list(fastavro.reader(io.BytesIO(storage.read_bytes(url))))


def in_order(records: list[dict]) -> list[dict]:
    return sorted(records, key=lambda r: (r["seriesId"], r["timeInSeconds"], r["offsetInNanos"], r["quality"]))


def raw_urls(lake: Lake, day: date, series: tuple[str, ...]) -> list[str]:
    return [o.url for o in lake.storage.list(lake.layout.raw_day(day)) if parse_raw_key(o.url).series_id in series]


def input_records(lake: Lake, day: date, series: tuple[str, ...]) -> list[dict]:
    return in_order([record for url in raw_urls(lake, day, series) for record in read_avro(lake.storage, url)])


def output_urls(lake: Lake, day: date) -> list[str]:
    return [o.url for o in lake.storage.list(lake.layout.output_day(day))]


def output_records(lake: Lake, day: date) -> list[dict]:
    return in_order([record for url in output_urls(lake, day) for record in read_avro(lake.storage, url)])


def snapshot(lake: Lake) -> dict[str, bytes]:
    urls = [o.url for root in (lake.layout.repartitioned, lake.layout.index) for o in lake.storage.list(root)]
    return {url: lake.storage.read_bytes(url) for url in urls}


def add_late_file(lake: Lake, day: date, hour: int = 23) -> list[dict]:
    """A raw file for an associated series, arriving after the day was merged."""
    spec = next(spec for spec in plan_series(SERIES, SEED) if spec.associated and "_" in spec.series_id)
    start = int(datetime.combine(day, time(hour, 59, 30), tzinfo=UTC).timestamp())
    records = raw_records(spec, start, "GOOD", 7, random.Random(99))
    lake.storage.write_bytes(join(lake.layout.cold_tier, raw_key(spec, day, start, "GOOD")), encode_raw_file(records))
    return records


def staged_urls(lake: Lake, day: date) -> list[str]:
    return [o.url for o in lake.storage.list(lake.layout.staging_day(day))]


def before_each_commit(monkeypatch: pytest.MonkeyPatch, hook: Callable[[date, str], None]) -> None:
    """Call ``hook(day, staged_url)`` whenever a run is about to commit its staged file.

    That is the point between upload and commit where a run may die, or another run may commit
    the day first; the hook stands in for either by raising, or by running other work meanwhile.
    """
    commit_staged = write.commit_staged

    def hooked(storage: Storage, layout: Layout, day: date, index: DayIndex, staged: write.Staged) -> DayIndex | None:
        hook(day, staged.url)
        return commit_staged(storage, layout, day, index, staged)

    monkeypatch.setattr(write, "commit_staged", hooked)
