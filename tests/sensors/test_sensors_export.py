"""End to end on generated raw files: the grid covers every second once, agrees with the raw
readings, and reruns or overlapping chunks write exactly the same table."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sensor_lake import published_files, sample_lake

from job_helpers.sensors.read import raw_chunk
from job_helpers.sensors.sample_data import DEFECTS_PER_HOUR
from job_helpers.sensors.transform import hour_grids
from job_helpers.sensors.write import ExportSummary, export_chunk
from job_helpers.storage import Storage, local_path
from tests.support.sensors_oracle import raw_buckets

DAY1, DAY2 = date(2024, 3, 1), date(2024, 3, 2)
HOURS = 2


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return sample_lake(tmp_path_factory.mktemp("sensor-lake"), DAY1, days=2, seed=11, sensors=3, hours_per_day=HOURS)


def run(tasks, lake: dict[str, str], first: date, last: date, curated: str) -> ExportSummary:
    chunk = raw_chunk(Storage(), lake["sensors.raw"], first, last, tasks=2)
    return export_chunk(tasks, Storage(), chunk, hour_grids, lake[curated], lake["rejects"])


def table(spark, url: str) -> list[tuple]:
    frame = spark.read.parquet(url).selectExpr(
        "sensor_id",
        "CAST(unix_timestamp(time) AS BIGINT) AS second",
        "temperature",
        "status",
        "CAST(dt AS STRING)",
        "CAST(hour AS INT)",
    )
    return sorted(tuple(row) for row in frame.collect())


@pytest.fixture(scope="module")
def daily(tasks, spark, lake) -> tuple[list[ExportSummary], list[tuple]]:
    summaries = [run(tasks, lake, day, day, "curated") for day in (DAY1, DAY2)]
    return summaries, table(spark, lake["curated"])


def test_every_second_between_first_and_last_bucket_appears_exactly_once(daily, lake):
    _, rows = daily
    keys = [(sensor, second) for sensor, second, *_ in rows]
    assert len(keys) == len(set(keys))
    expected: dict[tuple[str, int], set[int]] = defaultdict(set)
    for sensor, second in raw_buckets(lake["sensors.raw"]):
        expected[(sensor, second // 3600)].add(second)
    got: dict[tuple[str, int], list[int]] = defaultdict(list)
    for sensor, second, *_ in rows:
        got[(sensor, second // 3600)].append(second)
    assert set(got) == set(expected)
    for window, seconds in expected.items():
        assert sorted(got[window]) == list(range(min(seconds), max(seconds) + 1)), window


def test_bucket_seconds_and_endpoints_equal_the_raw_readings(daily, lake):
    _, rows = daily
    buckets = raw_buckets(lake["sensors.raw"])
    by_key = {(sensor, second): (temperature, status) for sensor, second, temperature, status, *_ in rows}
    for key, (temperature, status) in buckets.items():
        assert by_key[key][0] == pytest.approx(temperature, abs=1e-9), key
        assert by_key[key][1] == status, key
    windows: dict[tuple[str, int], list[int]] = defaultdict(list)
    for sensor, second, *_ in rows:
        windows[(sensor, second // 3600)].append(second)
    for (sensor, _), seconds in windows.items():
        for end in (min(seconds), max(seconds)):
            assert (sensor, end) in buckets


def test_rows_are_partitioned_by_their_own_day_and_hour(daily):
    _, rows = daily
    for _, second, _, _, dt, hour in rows:
        moment = datetime.fromtimestamp(second, UTC)
        assert (dt, hour) == (moment.date().isoformat(), moment.hour)


def test_summary_counts_readings_rows_and_rejects(daily, lake):
    summaries, rows = daily
    assert [s.sensors for s in summaries] == [3, 3]
    assert sum(s.rows_out for s in summaries) == len(rows)
    assert [s.rejects for s in summaries] == [HOURS * DEFECTS_PER_HOUR] * 2
    reasons = [
        json.loads(line)["reason"]
        for path in published_files(local_path(lake["rejects"]), "*.json")
        for line in path.read_text().splitlines()
    ]
    assert len(reasons) == 2 * HOURS * DEFECTS_PER_HOUR
    assert {reason.split(" ")[0] for reason in reasons} == {"malformed", "bad", "temperature"}


def test_overlapping_chunk_and_rerun_write_identical_tables(tasks, spark, daily, lake):
    _, rows = daily
    run(tasks, lake, DAY1, DAY2, "overlap")
    assert table(spark, lake["overlap"]) == rows
    run(tasks, lake, DAY1, DAY1, "curated")
    assert table(spark, lake["curated"]) == rows
    files = published_files(Path(local_path(lake["curated"])), "*.parquet")
    assert len(files) == 2 * HOURS, "one file per dt/hour partition, none left from the first run"
