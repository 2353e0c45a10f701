"""The repartition job end to end, on local files and on the moto S3 server."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import fastavro
import pytest
from sitewise_helpers import (
    FIRST_DAY,
    LAST_DAY,
    REPO,
    SCRIPT,
    SEED,
    Lake,
    add_late_file,
    before_each_commit,
    failure_of,
    input_records,
    job_argv,
    output_records,
    output_urls,
    raw_urls,
    read_avro,
    snapshot,
    staged_urls,
)

from job_helpers.run_report import read_report, report_url
from job_helpers.sitewise.avro_blocks import decode_long
from job_helpers.sitewise.day_index import MANIFEST, read_day_index
from job_helpers.sitewise.keys import Layout, parse_raw_key
from job_helpers.sitewise.run import merge_days
from job_helpers.sitewise.sample_data import write_cold_tier
from job_helpers.sitewise.series import from_asset_metadata
from job_helpers.storage import Storage, join
from jobs.sitewise_repartition import main


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
            assert (earlier["timeInSeconds"], earlier["offsetInNanos"]) < (later["timeInSeconds"], later["offsetInNanos"])
    assert fastavro.reader(io.BytesIO(lake.storage.read_bytes(url))).codec == "snappy"


def test_rerun_changes_nothing(lake: Lake) -> None:
    main(job_argv(lake.layout))
    before = snapshot(lake)

    main(job_argv(lake.layout))

    assert snapshot(lake) == before


def test_crash_between_upload_and_commit_shows_nothing_then_rerun_publishes_one_copy(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash_on_first_day(day: date, staged_url: str) -> None:
        if day == FIRST_DAY:
            raise RuntimeError(f"simulated crash after staging {staged_url}")

    series_filter = from_asset_metadata(lake.storage, lake.layout, "ASSOCIATED")
    with monkeypatch.context() as crashing:
        before_each_commit(crashing, crash_on_first_day)
        crashed = merge_days(lake.storage, lake.layout, [FIRST_DAY, LAST_DAY], series_filter, max_workers=2)
    assert list(crashed.failed) == [FIRST_DAY]
    assert output_urls(lake, FIRST_DAY) == [], "an uncommitted file must not be where Athena reads"
    (orphan,) = staged_urls(lake, FIRST_DAY)
    assert "/_staging/" in orphan
    assert not lake.storage.exists(join(lake.layout.index_day(FIRST_DAY), MANIFEST))
    late = add_late_file(lake, FIRST_DAY)

    main(job_argv(lake.layout))

    assert len(output_urls(lake, FIRST_DAY)) == 1
    expected = input_records(lake, FIRST_DAY, lake.written.associated)
    assert output_records(lake, FIRST_DAY) == expected
    assert all(record in expected for record in late)
    assert output_records(lake, LAST_DAY) == input_records(lake, LAST_DAY, lake.written.associated)
    assert staged_urls(lake, FIRST_DAY) == [orphan], "a recent staged file may belong to a live run, so it stays"
    assert staged_urls(lake, LAST_DAY) == []


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


def test_run_report_counts_the_records_merged_and_names_the_failed_day(lake: Lake, tmp_path: Path) -> None:
    victim = raw_urls(lake, LAST_DAY, lake.written.associated)[0]
    lake.storage.write_bytes(victim, lake.storage.read_bytes(victim)[:-25])
    reports = tmp_path.as_uri() + "/reports/"

    message = failure_of([*job_argv(lake.layout), "--JOB_RUN_ID", "jr_1", "--run-reports", reports])

    report = read_report(Storage(), report_url(reports, "sitewise_repartition", "jr_1"))
    assert report is not None and report.status == "FAILED" and report.message == message
    merged = len(input_records(lake, FIRST_DAY, lake.written.associated))
    assert report.read == {lake.layout.cold_tier: merged}
    assert report.written == {lake.layout.repartitioned: merged}
    assert list(report.failed) == [LAST_DAY.isoformat()] and parse_raw_key(victim).key in report.failed[LAST_DAY.isoformat()]
    assert report.scope == f"{FIRST_DAY}_{LAST_DAY}"


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
        by_file = {name: {parse_raw_key(key).series_id for key in merged.keys} for name, merged in index.files.items()}
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


@pytest.mark.subprocess
def test_script_runs_as_a_process_and_reports_failure_by_exit_code(tmp_path: Path) -> None:
    storage, base = Storage(), tmp_path.as_uri()
    write_cold_tier(storage, f"{base}/cold", FIRST_DAY, 1, 6, 10, seed=SEED)
    args = [
        sys.executable,
        SCRIPT,
        "--JOB_NAME",
        "process-test",
        "--to-date",
        FIRST_DAY.isoformat(),
        "--cold-tier",
        f"{base}/cold",
        "--repartitioned",
        f"{base}/out",
        "--index",
        f"{base}/index",
        "--timeseries-type",
        "DISASSOCIATED",
        "--series-source",
        "asset_metadata",
        "--max-workers",
        "2",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "JOB_HELPERS_RUNTIME": "local"}

    ok = subprocess.run([*args, "--from-date", str(FIRST_DAY)], env=env, capture_output=True, text=True, timeout=60)
    bad = subprocess.run([*args, "--from-date", "last-week"], env=env, capture_output=True, text=True, timeout=60)

    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "summary: days merged 1, skipped 0, failed 0" in ok.stdout
    manifest = json.loads(storage.read_text(f"{base}/index/startYear=2024/startMonth=1/startDay=31/{MANIFEST}"))
    assert len(manifest["files"]) == 1
    assert bad.returncode == 1
    assert "--from-date 'last-week' is not a date" in bad.stdout + bad.stderr
