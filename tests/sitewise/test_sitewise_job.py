"""The repartition job end to end, on local files and on the moto S3 server."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import fastavro
import pytest

from job_helpers.sitewise.avro_blocks import decode_long
from job_helpers.sitewise.day_index import MANIFEST, read_day_index
from job_helpers.sitewise.keys import Layout, parse_raw_key
from job_helpers.sitewise.repartition import repartition_days
from job_helpers.sitewise.sample_data import (
    ColdTierSummary,
    encode_raw_file,
    plan_series,
    raw_key,
    raw_records,
    write_cold_tier,
)
from job_helpers.sitewise.series import from_asset_metadata
from job_helpers.storage import Storage, join
from jobs.sitewise_repartition import main

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


@pytest.fixture(autouse=True)
def local_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOB_HELPERS_RUNTIME", "local")


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    """Two days, across a month end, of a small generated cold tier on local files or moto S3."""
    if request.param == "local":
        storage, base = Storage(), tmp_path.as_uri()
    else:
        storage, base = request.getfixturevalue("s3_storage"), "s3://lake"
    layout = Layout(f"{base}/cold", f"{base}/repartitioned", f"{base}/index")
    written = write_cold_tier(storage, layout.cold_tier, FIRST_DAY, 2, SERIES, records_per_file=20, seed=SEED)
    return Lake(storage, layout, written)


def job_argv(
    layout: Layout,
    timeseries_type: str = "ASSOCIATED",
    first: date | str = FIRST_DAY,
    last: date | str = LAST_DAY,
) -> list[str]:
    return [
        SCRIPT,
        "--JOB_NAME", "sitewise-repartition-test",
        "--from-date", str(first),
        "--to-date", str(last),
        "--cold-tier", layout.cold_tier,
        "--repartitioned", layout.repartitioned,
        "--index", layout.index,
        "--timeseries-type", timeseries_type,
        "--series-source", "asset_metadata",
        "--max-workers", "3",
    ]


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
    start = int(datetime.combine(day, time(hour, 59, 30), tzinfo=timezone.utc).timestamp())
    records = raw_records(spec, start, "GOOD", 7, random.Random(99))
    lake.storage.write_bytes(join(lake.layout.cold_tier, raw_key(spec, day, start, "GOOD")), encode_raw_file(records))
    return records


def test_every_record_of_the_selected_series_is_merged_once(lake: Lake) -> None:
    main(job_argv(lake.layout))

    for day in (FIRST_DAY, LAST_DAY):
        expected = input_records(lake, day, lake.written.associated)
        assert expected, "the sample should have associated data every day"
        assert output_records(lake, day) == expected
        assert len(output_urls(lake, day)) == 1
        index = read_day_index(lake.storage, lake.layout.index_day(day))
        assert index.merged_keys() == {parse_raw_key(url).key for url in raw_urls(lake, day, lake.written.associated)}
        series_text = lake.storage.read_text(join(lake.layout.index_day(day), "timeseries.txt"))
        assert series_text.split("\n") == sorted({record["seriesId"] for record in expected})


def test_merged_file_groups_each_series_in_time_order(lake: Lake) -> None:
    main(job_argv(lake.layout, first=FIRST_DAY, last=FIRST_DAY))

    (url,) = output_urls(lake, FIRST_DAY)
    records = read_avro(lake.storage, url)
    assert [r["seriesId"] for r in records] == sorted(r["seriesId"] for r in records)
    for earlier, later in zip(records, records[1:]):
        if earlier["seriesId"] == later["seriesId"] and earlier["quality"] == later["quality"]:
            assert (earlier["timeInSeconds"], earlier["offsetInNanos"]) < (
                later["timeInSeconds"], later["offsetInNanos"]
            )
    assert fastavro.reader(io.BytesIO(lake.storage.read_bytes(url))).codec == "snappy"


def test_rerun_changes_nothing(lake: Lake) -> None:
    main(job_argv(lake.layout))
    before = snapshot(lake)

    main(job_argv(lake.layout))

    assert snapshot(lake) == before


def test_crash_between_data_and_index_then_rerun_leaves_one_copy(lake: Lake) -> None:
    def crash_on_first_day(day: date, output_url: str) -> None:
        if day == FIRST_DAY:
            raise RuntimeError(f"simulated crash after publishing {output_url}")

    series_filter = from_asset_metadata(lake.storage, lake.layout, "ASSOCIATED")
    crashed = repartition_days(
        lake.storage, lake.layout, FIRST_DAY, LAST_DAY, series_filter,
        max_workers=2, after_data_upload=crash_on_first_day,
    )
    assert list(crashed.failed) == [FIRST_DAY]
    (orphan,) = output_urls(lake, FIRST_DAY)
    assert not lake.storage.exists(join(lake.layout.index_day(FIRST_DAY), MANIFEST))
    late = add_late_file(lake, FIRST_DAY)

    main(job_argv(lake.layout))

    (merged,) = output_urls(lake, FIRST_DAY)
    assert merged != orphan, "with the late file the rerun merges a different key set, so the leftover must go"
    expected = input_records(lake, FIRST_DAY, lake.written.associated)
    assert output_records(lake, FIRST_DAY) == expected
    assert all(record in expected for record in late)
    assert output_records(lake, LAST_DAY) == input_records(lake, LAST_DAY, lake.written.associated)


def test_late_file_is_merged_by_the_next_run_into_a_new_file(lake: Lake) -> None:
    main(job_argv(lake.layout))
    (first_output,) = output_urls(lake, FIRST_DAY)
    first_bytes = lake.storage.read_bytes(first_output)
    untouched_day = {url: lake.storage.read_bytes(url) for url in output_urls(lake, LAST_DAY)}

    late = add_late_file(lake, FIRST_DAY)
    main(job_argv(lake.layout))

    outputs = output_urls(lake, FIRST_DAY)
    assert len(outputs) == 2 and first_output in outputs
    assert lake.storage.read_bytes(first_output) == first_bytes
    (second_output,) = [url for url in outputs if url != first_output]
    assert read_avro(lake.storage, second_output) == late
    assert output_records(lake, FIRST_DAY) == input_records(lake, FIRST_DAY, lake.written.associated)
    assert len(read_day_index(lake.storage, lake.layout.index_day(FIRST_DAY)).files) == 2
    assert {url: lake.storage.read_bytes(url) for url in output_urls(lake, LAST_DAY)} == untouched_day


def test_truncated_file_fails_only_its_day(lake: Lake) -> None:
    victim = raw_urls(lake, LAST_DAY, lake.written.associated)[0]
    data = lake.storage.read_bytes(victim)
    lake.storage.write_bytes(victim, data[: len(data) - 25])

    message = failure_of(job_argv(lake.layout))

    assert parse_raw_key(victim).key in message
    assert "truncated" in message and str(LAST_DAY) in message
    assert output_urls(lake, LAST_DAY) == []
    assert not lake.storage.exists(join(lake.layout.index_day(LAST_DAY), MANIFEST))
    assert output_records(lake, FIRST_DAY) == input_records(lake, FIRST_DAY, lake.written.associated)


def test_flipped_byte_in_a_snappy_block_fails_only_its_day(lake: Lake) -> None:
    victim = raw_urls(lake, LAST_DAY, lake.written.associated)[1]
    data = bytearray(lake.storage.read_bytes(victim))
    stream = io.BytesIO(bytes(data))
    fastavro.reader(stream)
    _, after_count = decode_long(data, stream.tell())
    size, data_start = decode_long(data, after_count)
    data[data_start + size // 2] ^= 0x01
    lake.storage.write_bytes(victim, bytes(data))

    message = failure_of(job_argv(lake.layout))

    assert parse_raw_key(victim).key in message and str(LAST_DAY) in message
    assert "is not valid snappy data" in message or "fails its CRC-32 check" in message
    assert output_urls(lake, LAST_DAY) == []
    assert not lake.storage.exists(join(lake.layout.index_day(LAST_DAY), MANIFEST))
    assert output_records(lake, FIRST_DAY) == input_records(lake, FIRST_DAY, lake.written.associated)


def test_associated_and_disassociated_runs_split_the_day(lake: Lake) -> None:
    main(job_argv(lake.layout, "ASSOCIATED"))
    main(job_argv(lake.layout, "DISASSOCIATED"))

    for day in (FIRST_DAY, LAST_DAY):
        index = read_day_index(lake.storage, lake.layout.index_day(day))
        assert len(index.files) == 2
        by_file = {
            name: {parse_raw_key(key).series_id for key in merged.keys} for name, merged in index.files.items()
        }
        associated = [series for series in by_file.values() if series <= set(lake.written.associated)]
        disassociated = [series for series in by_file.values() if series <= set(lake.written.disassociated)]
        assert len(associated) == 1 and len(disassociated) == 1
        everything = lake.written.associated + lake.written.disassociated
        assert output_records(lake, day) == input_records(lake, day, everything)


def test_bad_arguments_are_named(tmp_path: Path) -> None:
    layout = Layout(tmp_path.as_uri() + "/cold", tmp_path.as_uri() + "/out", tmp_path.as_uri() + "/index")

    assert "--from-date '2024-02-30' is not a date" in failure_of(job_argv(layout, first="2024-02-30"))
    assert "--to-date 2024-01-01 is before --from-date 2024-01-02" in failure_of(
        job_argv(layout, first="2024-01-02", last="2024-01-01")
    )
    assert "--timeseries-type 'BOTH' is not one of ASSOCIATED, DISASSOCIATED" in failure_of(job_argv(layout, "BOTH"))


def test_script_runs_as_a_process_and_reports_failure_by_exit_code(tmp_path: Path) -> None:
    storage, base = Storage(), tmp_path.as_uri()
    write_cold_tier(storage, f"{base}/cold", FIRST_DAY, 1, 6, 10, seed=SEED)
    args = [
        sys.executable, SCRIPT, "--JOB_NAME", "process-test", "--to-date", FIRST_DAY.isoformat(),
        "--cold-tier", f"{base}/cold", "--repartitioned", f"{base}/out", "--index", f"{base}/index",
        "--timeseries-type", "DISASSOCIATED", "--series-source", "asset_metadata", "--max-workers", "2",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "JOB_HELPERS_RUNTIME": "local"}

    ok = subprocess.run([*args, "--from-date", str(FIRST_DAY)], env=env, capture_output=True, text=True, timeout=60)
    bad = subprocess.run([*args, "--from-date", "yesterday"], env=env, capture_output=True, text=True, timeout=60)

    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "summary: days merged 1, skipped 0, failed 0" in ok.stdout
    manifest = json.loads(storage.read_text(f"{base}/index/startYear=2024/startMonth=1/startDay=31/{MANIFEST}"))
    assert len(manifest["files"]) == 1
    assert bad.returncode == 1
    assert "--from-date 'yesterday' is not a date" in bad.stdout + bad.stderr
