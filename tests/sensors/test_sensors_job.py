"""The job script on local files: its run report counts what was read, written and rejected, and names the kept hours."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime

import pytest
from sensor_lake import sample_lake

from job_helpers.run_report import FAILED, read_report, report_url
from job_helpers.sensors.sample_data import DEFECTS_PER_HOUR
from job_helpers.sensors.transform import STATUSES
from job_helpers.storage import Storage, local_path
from jobs.sensor_timeseries_export import main

DAY = date(2024, 3, 1)
HOURS = 2


@pytest.fixture
def lake(tmp_path, monkeypatch) -> dict[str, str]:
    monkeypatch.setenv("JOB_HELPERS_RUNTIME", "local")
    return sample_lake(tmp_path, DAY, days=1, seed=3, sensors=2, hours_per_day=HOURS)


def run(lake: dict[str, str], run_id: str, source: str = "raw_json") -> None:
    main(
        [
            "job.py",
            *("--JOB_NAME", "sensor-export", "--JOB_RUN_ID", run_id, "--run-reports", lake["reports"]),
            *("--from-date", DAY.isoformat(), "--to-date", DAY.isoformat(), "--source", source),
            *("--raw", lake["sensors.raw"], "--curated", lake["curated"], "--rejects", lake["rejects"]),
            *("--timestream-database", "sensors", "--timestream-table", "readings"),  # --allow-shrink: false when absent
        ]
    )


def usable_readings(raw_url: str) -> int:
    """Readings of the day the export can use, counted straight from the generated files."""
    count = 0
    for path in local_path(raw_url).rglob("*"):
        for line in path.read_text().splitlines() if path.is_file() else []:
            try:
                reading = json.loads(line)
            except json.JSONDecodeError:
                continue
            day = datetime.fromtimestamp(reading["event_time"] / 1000, UTC).date()
            count += reading["status"] in STATUSES and -50 <= reading["temperature"] <= 250 and day == DAY
    return count


def test_the_run_report_counts_readings_rows_and_rejects_by_reason(spark, lake):
    run(lake, "jr_1")
    report = read_report(Storage(), report_url(lake["reports"], "sensor-export", "jr_1"))
    assert report is not None
    assert report.scope == "2024-03-01_2024-03-01"
    assert report.read == {lake["sensors.raw"]: usable_readings(lake["sensors.raw"])}
    assert report.written == {lake["curated"]: spark.read.parquet(lake["curated"]).count()}
    assert report.records_rejected == HOURS * DEFECTS_PER_HOUR
    assert {reason.split(" ")[0] for reason in report.rejected} == {"malformed", "bad", "temperature"}
    assert report.details == {}


def test_hours_kept_because_their_raw_objects_are_gone_are_in_the_details(spark, lake):
    run(lake, "jr_1")
    shutil.rmtree(local_path(lake["sensors.raw"]) / "2024" / "03" / "01" / "00")
    run(lake, "jr_2")
    report = read_report(Storage(), report_url(lake["reports"], "sensor-export", "jr_2"))
    assert report is not None
    assert report.details == {"kept_hours_raw_gone": ["dt=2024-03-01/hour=00/"]}


@pytest.mark.subprocess
def test_an_unknown_source_fails_the_run_naming_the_argument(lake):
    with pytest.raises(SystemExit):
        run(lake, "jr_3", source="kafka")
    report = read_report(Storage(), report_url(lake["reports"], "sensor-export", "jr_3"))
    assert report is not None and report.status == FAILED
    assert "--source 'kafka' is not one of raw_json, timestream" in report.message
