"""Generated archives with every flaw injected, beside broken ones: exact counts, failures named."""

from __future__ import annotations

import json
import math
import zipfile
from collections import Counter
from datetime import date

import pytest
from embrace_helpers import job_argv
from pyspark.sql import functions as F

import jobs.embrace_dedupe as job
from job_helpers.embrace.sample_data import write_embrace_sample
from job_helpers.storage import Storage
from tests.support.embrace_oracle import expected

CORRUPT = "Sensors_U02_FC_20240301_20240331.zip"
WRONG_HEADER = "Sensors_U02_MGH_20240301_20240331.zip"
NON_NUMERIC = "Sensors_U03_ALLSITES_20240301_20240331.zip"
EDA_HEADER = "Unix Timestamp (UTC),EDA (microS)"


@pytest.fixture(scope="module")
def generated(small_spark, tmp_path_factory):
    """One month with a good generated archive, a corrupt one, a header mismatch and a non-numeric value."""
    root = tmp_path_factory.mktemp("embrace-generated")
    landing, lake = root / "landing", root / "lake"
    summary = write_embrace_sample(
        Storage(),
        landing.as_uri() + "/",
        start=date(2024, 3, 1),
        days=2,
        seconds_per_day=20,
        participants=("fc096", "fc157"),
        period_end=date(2024, 3, 31),
    )
    (landing / CORRUPT).write_bytes(b"PK\x03\x04 this is not a zip archive")
    with zipfile.ZipFile(landing / WRONG_HEADER, "w") as archive:
        archive.writestr("U02/MGH/200/DEV1/eda.csv", "Unix Timestamp (UTC),x (g),y (g),z (g)\n1709251200000,1,2,3\n")
    with zipfile.ZipFile(landing / NON_NUMERIC, "w") as archive:
        archive.writestr("U03/FC/300/DEV2/eda.csv", f"{EDA_HEADER}\n1709251200000,0.5\n1709251200250,abc\n1709251200500,0.7\n")
    return landing, lake, summary


@pytest.fixture(scope="module")
def job_result(generated, monkeypatch_module):
    landing, lake, _ = generated
    monkeypatch_module.setenv("JOB_HELPERS_RUNTIME", "local")
    with pytest.raises(SystemExit) as exited:
        job.main(job_argv(landing, lake, "2024-03-01", "2024-03-31"))
    report = json.loads((lake / "reports" / "2024-03-01_2024-03-31.json").read_text())
    return exited.value.code, report


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_failed_archives_are_named_and_the_job_exits_non_zero(job_result):
    code, report = job_result
    assert code == 1
    assert (report["job"], report["scope"], report["status"]) == ("embrace_dedupe", "2024-03-01_2024-03-31", "FAILED")
    assert report["message"].startswith("2 archive(s) failed, the others were published")
    assert set(report["failed"]) == {CORRUPT[:-4], WRONG_HEADER[:-4]}
    assert "not a readable zip archive" in report["failed"][CORRUPT[:-4]]
    assert "U02/MGH/200/DEV1/eda.csv" in report["failed"][WRONG_HEADER[:-4]]
    assert report["details"]["rejects_by_file"] == {f"{NON_NUMERIC[:-4]}.zip/U03/FC/300/DEV2/eda.csv": 1}
    assert report["rejected"] == {"first value is not a number": 1}


def test_the_report_counts_what_was_read_and_written(job_result, generated):
    _, report = job_result
    _, _, summary = generated
    clean = sum(summary.clean.values()) + 2  # the non-numeric archive keeps two EDA rows
    assert report["read"] == {stream: summary.rows[stream] + (3 if stream == "eda" else 0) for stream in ("acc", "eda", "temp")}
    assert report["written"]["clean"] == report["written"]["timestream_ready"] == clean
    assert report["written"]["devices"] == summary.devices
    assert report["written"]["wear_time"] == summary.devices * 2 + 1
    details = report["details"]
    assert details["clean_rows"] == {s: summary.clean[s] + (2 if s == "eda" else 0) for s in ("acc", "eda", "temp")}
    assert sorted(details["archives"]) == sorted([summary.export, CORRUPT[:-4], WRONG_HEADER[:-4], NON_NUMERIC[:-4]])
    duplicates = details["duplicates"]
    assert duplicates["perfect"] == sum(summary.perfect.values())
    assert duplicates["total_dupes"] == duplicates["perfect"] + duplicates["unclear"]


def test_other_archives_complete(job_result, generated, small_spark):
    _, _, summary = generated
    lake = generated[1]
    clean = small_spark.read.parquet(str(lake / "clean"))
    exports = {r["export"] for r in clean.select(F.explode("exports").alias("export")).distinct().collect()}
    assert exports == {summary.export, NON_NUMERIC[:-4]}
    rejects = small_spark.read.json(str(lake / "rejects")).collect()
    assert [(r["file"], r["line"], r["record"]) for r in rejects] == [("U03/FC/300/DEV2/eda.csv", 3, "1709251200250,abc")]


def test_every_injected_flaw_is_counted_exactly(job_result, generated, small_spark):
    landing, lake, summary = generated
    log = small_spark.read.parquet(str(lake / "duplicate_log")).where(f"array_contains(exports, '{summary.export}')")
    totals = {
        r["stream"]: r
        for r in log.groupBy("stream")
        .agg(*[F.sum(c).alias(c) for c in ("total_rows", "perfect", "nan", "unclear", "total_dupes")])
        .collect()
    }
    for stream in ("acc", "eda", "temp"):
        assert totals[stream]["total_rows"] == summary.rows[stream]
        assert totals[stream]["perfect"] == summary.perfect[stream]
        assert totals[stream]["nan"] == summary.nan[stream]
        assert totals[stream]["unclear"] == summary.unclear[stream]
        assert totals[stream]["total_dupes"] == summary.perfect[stream] + summary.unclear[stream]
    clean = small_spark.read.parquet(str(lake / "clean")).where(f"array_contains(exports, '{summary.export}')")
    counts = Counter({r["stream"]: r["count"] for r in clean.groupBy("stream").count().collect()})
    assert counts == Counter(summary.clean)
    oracle_clean, oracle_log, _ = expected(landing / f"{summary.export}.zip")
    assert counts == oracle_clean
    names = ("total_rows", "total_dupes", "perfect", "nan", "unclear")
    monthly = log.groupBy("ppt_id", "dev_id", "month", "stream").agg(*[F.sum(c).alias(c) for c in names]).collect()
    assert {(r["ppt_id"], r["dev_id"], r["month"], r["stream"]): tuple(r[c] for c in names) for r in monthly} == oracle_log
    assert {r["overlap"] for r in log.collect()} == {0}


def test_negative_zero_eda_becomes_zero(job_result, generated, small_spark):
    _, lake, summary = generated
    zeros = (
        small_spark.read.parquet(str(lake / "clean"))
        .where(f"array_contains(exports, '{summary.export}') AND stream = 'eda' AND eda = 0")
        .collect()
    )
    assert len(zeros) == summary.devices
    assert all(math.copysign(1.0, r["eda"]) == 1.0 for r in zeros)


def test_two_devices_at_the_same_instants_are_kept_apart(job_result, generated, small_spark):
    _, lake, summary = generated
    clean = small_spark.read.parquet(str(lake / "clean")).where(
        f"array_contains(exports, '{summary.export}') AND ppt_id = 'fc157'"
    )
    per_device = {r["dev_id"]: r["count"] for r in clean.groupBy("dev_id").count().collect()}
    assert per_device == {"ABCDE12345": sum(summary.clean.values()) // 3, "12345ABCDE": sum(summary.clean.values()) // 3}


def test_off_wrist_window_is_dropped_from_wear_time(job_result, generated, small_spark):
    _, lake, summary = generated
    worn = {
        (r["ppt_id"], r["dev_id"], r["day"]): r
        for r in small_spark.read.parquet(str(lake / "wear_time")).where("ppt_id IN ('fc096', 'fc157')").collect()
    }
    assert len(worn) == summary.devices * 2
    first_day = worn[("fc096", "2M4Y4111FK", "2024-03-01")]
    second_day = worn[("fc096", "2M4Y4111FK", "2024-03-02")]
    assert first_day["windows"] - first_day["windows_worn"] == 1
    assert second_day["windows"] == second_day["windows_worn"] == 2
    assert second_day["minutes_worn"] == pytest.approx(20 * 4 / 4 / 60)
    assert first_day["samples"] - first_day["samples_worn"] == 40


def test_timestream_csv_has_the_batch_load_columns(job_result, generated):
    _, lake, summary = generated
    folder = lake / "timestream_ready" / "acc" / "2024-03-01"
    files = sorted(folder.glob("part-*.csv"))
    header = files[0].read_text().splitlines()[0]
    assert header == "time,ppt_id,dev_id,x,y,z"
    counts = json.loads((lake / "load_counts" / "acc" / "2024-03-01.json").read_text())
    assert set(counts) == {"fc096/2M4Y4111FK", "fc157/ABCDE12345", "fc157/12345ABCDE"}
    assert sum(len(f.read_text().splitlines()) - 1 for f in files) == sum(counts.values())
