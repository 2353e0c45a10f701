"""make data-report on the local profile: each data set's sample data, run through its jobs, drawn and checked.

Every report is written by the CLI, opened in headless Chromium, and the numbers in its tables are
compared with the same figures computed here straight from the files the jobs wrote (or from
what the sample generator says it wrote).
"""

from __future__ import annotations

import importlib
import json
import os
import random
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time

import fastavro
import pyarrow.dataset as ds
import pytest

from job_helpers.control.data_report import REPORTS, report_page
from job_helpers.control.data_report import stedi as stedi_report
from job_helpers.control.data_report.lake import Lake
from job_helpers.control.data_report.page import Window
from job_helpers.control.data_report.source import Source
from job_helpers.control.data_report.tables import Catalog
from job_helpers.datasets import by_name
from job_helpers.sensors.sample_data import write_sensor_sample
from job_helpers.sensors.transform import STATUSES
from job_helpers.sitewise.sample_data import encode_raw_file, plan_series, raw_key, raw_records, write_cold_tier
from job_helpers.stedi.sample_data import write_stedi_landing
from job_helpers.storage import Storage, join, local_path
from tests.support.data_report_pages import REPO, fetches, new_project, number, opened, written

DAY = date(2024, 3, 1)


def hive_table(url: str, columns: list[str]) -> list[dict]:
    """Every row of a Hive-partitioned Parquet folder, read whole (the test's data is small)."""
    folder = local_path(url)
    files = [
        str(path)
        for path in folder.rglob("*.parquet")
        if not any(part.startswith(("_", ".")) for part in path.relative_to(folder).parts)
    ]
    return (
        ds.dataset(files, format="parquet", partitioning="hive", partition_base_dir=str(folder))
        .to_table(columns=columns)
        .to_pylist()
    )


def test_every_data_set_the_project_generates_or_ingests_has_a_report():
    assert set(REPORTS) >= {"sitewise", "stedi", "sensors", "embrace", "ingest"}
    assert {name: title for name, title in REPORTS.items()} == {name: by_name()[name].title for name in REPORTS}
    for dataset in REPORTS:
        assert callable(importlib.import_module(f"job_helpers.control.data_report.{dataset}").pictures), dataset


@pytest.mark.subprocess
def test_the_cli_loads_neither_arrows_engine_nor_matplotlib_for_its_other_commands():
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from job_helpers.control.cli import build_parser; build_parser(); print(sorted(sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    assert "'matplotlib'" not in loaded and "'pyarrow.acero'" not in loaded


# Embrace --------------------------------------------------------------------------------------


def test_embrace_report_draws_wear_time_duplicates_readings_and_rejects(embrace, capsys, tmp_path):
    project, sample = embrace
    datasets = project.settings().datasets
    dom, found = opened(written(project, capsys, "--dataset", "embrace"), tmp_path / "chromium")
    assert list(found) == ["embrace-wear-time", "embrace-duplicates", "embrace-readings", "embrace-rejects"]

    minutes: dict[tuple[str, str], float] = defaultdict(float)
    for row in hive_table(datasets["embrace.wear_time"], ["ppt_id", "day", "minutes_worn"]):
        minutes[(row["ppt_id"], row["day"])] += row["minutes_worn"]
    shown = {(row["participant"], row["day"]): float(row["minutes worn"]) for row in found["embrace-wear-time"].table()}
    assert shown == pytest.approx({key: round(value, 1) for key, value in minutes.items()})
    assert {day for _, day in shown} == {"2024-03-01", "2024-03-02"} and found["embrace-wear-time"].pictures == 1

    duplicates = {(row["participant"], row["stream"]): row for row in found["embrace-duplicates"].table()}
    for stream in ("acc", "eda", "temp"):
        for column, injected in (("perfect", sample.perfect), ("nan", sample.nan), ("unclear", sample.unclear)):
            assert sum(number(row[column]) for (_, s), row in duplicates.items() if s == stream) == injected[stream]
        assert sum(number(row["rows read"]) for (_, s), row in duplicates.items() if s == stream) == sample.rows[stream]

    readings = found["embrace-readings"].table()
    for stream in ("acc", "eda", "temp"):
        assert sum(number(row[stream]) for row in readings) == sample.clean[stream]
    per_device = Counter(
        (r["ppt_id"], r["dev_id"], r["date"]) for r in hive_table(datasets["embrace.clean"], ["ppt_id", "dev_id", "date"])
    )
    assert {(row["participant"], row["device"], row["day"]): number(row["total"]) for row in readings} == per_device
    assert len({(row["participant"], row["device"]) for row in readings}) == sample.devices

    assert found["embrace-rejects"].pictures == 0 and "No rejected lines in embrace_rejects" in found["embrace-rejects"].reading
    assert fetches(dom) == [], "the page runs and fetches nothing"


def test_embrace_report_of_a_range_without_data_says_so_in_each_picture(embrace, capsys, tmp_path):
    project, _ = embrace
    page = written(project, capsys, "--dataset", "embrace", "--from", "2023-01-01", "--to", "2023-01-31")
    assert page.name == "data-embrace-2023-01-01_2023-01-31.html"
    _, found = opened(page, tmp_path / "chromium")
    for key in ("embrace-wear-time", "embrace-duplicates", "embrace-readings", "embrace-rejects"):
        assert found[key].pictures == 0 and "for 2023-01-01 to 2023-01-31" in found[key].reading, key


def test_a_range_ending_before_it_starts_is_refused(embrace, capsys):
    project, _ = embrace
    assert project.cli("data-report", "--dataset", "embrace", "--from", "2024-03-02", "--to", "2024-03-01") == 2
    assert "error: --from 2024-03-02 is after --to 2024-03-01" in capsys.readouterr().err


@pytest.mark.subprocess
def test_a_data_set_with_no_published_table_says_so(tmp_path, capsys):
    project = new_project(tmp_path / "repo")
    for dataset, key in (
        ("embrace", "embrace-wear-time"),
        ("sensors", "sensors-status"),
        ("sitewise", "sitewise-series"),
        ("stedi", "stedi-funnel"),
        ("ingest", "ingest-eeg-places"),
    ):
        _, found = opened(written(project, capsys, "--dataset", dataset), tmp_path / "chromium")
        assert found[key].pictures == 0 and found[key].reading.startswith("No "), (dataset, found[key].reading)


# Sensors --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sensors(tmp_path_factory, spark):
    project = new_project(tmp_path_factory.mktemp("sensors") / "repo")
    write_sensor_sample(Storage(), project.settings().datasets, DAY, days=1, seed=5, sensors=3, hours_per_day=2)
    project.run_job("sensor_timeseries_export", "2024-03-01", "2024-03-01")
    return project


def real_seconds(raw_url: str) -> dict[tuple[str, str], int]:
    """Whole seconds per sensor and hour with a reading the export can use, straight from the raw files."""
    seconds: dict[tuple[str, str], set[int]] = defaultdict(set)
    for path in local_path(raw_url).rglob("*"):
        if not path.is_file():
            continue
        folder = datetime(*(int(part) for part in path.parent.relative_to(local_path(raw_url)).parts), tzinfo=UTC).timestamp()
        for line in path.read_text().splitlines():
            try:
                reading = json.loads(line)
            except json.JSONDecodeError:
                continue
            usable = reading.get("status") in STATUSES and isinstance(reading.get("temperature"), int | float)
            usable = usable and -50 <= reading["temperature"] <= 250 and isinstance(reading.get("event_time"), int)
            if usable and folder - 3600 <= reading["event_time"] / 1000 < folder + 3600:
                second = reading["event_time"] // 1000
                seconds[
                    (reading["sensor_id"], datetime.fromtimestamp(second - second % 3600, UTC).strftime("%Y-%m-%d %H:00"))
                ].add(second)
    return {key: len(found) for key, found in seconds.items()}


def test_sensors_report_draws_coverage_before_and_after_interpolation_status_and_rejects(sensors, capsys, tmp_path):
    datasets = sensors.settings().datasets
    _, found = opened(written(sensors, capsys, "--dataset", "sensors"), tmp_path / "chromium")
    assert list(found) == ["sensors-coverage", "sensors-status", "sensors-rejects"]
    assert found["sensors-coverage"].pictures == 2, "before and after interpolation"

    grid = Counter()
    status = Counter()
    for row in hive_table(datasets["sensors.curated"], ["sensor_id", "status", "dt", "hour"]):
        grid[(row["sensor_id"], f"{row['dt']} {int(row['hour']):02d}:00")] += 1
        status[(row["sensor_id"], row["status"])] += 1
    coverage = {(row["sensor"], row["hour"]): row for row in found["sensors-coverage"].table()}
    assert {key: number(row["grid rows"]) for key, row in coverage.items()} == grid
    assert {key: number(row["seconds with readings"]) for key, row in coverage.items()} == real_seconds(datasets["sensors.raw"])
    assert all(row["raw gone"] == "no" for row in coverage.values())

    shown_status = {
        (row["sensor"], name): number(row[name]) for row in found["sensors-status"].table() for name in STATUSES if name in row
    }
    assert {key: count for key, count in shown_status.items() if count} == status

    reasons = Counter()
    for path in local_path(datasets["sensors.rejects"]).rglob("*"):
        if path.is_file() and not any(part.startswith(("_", ".")) for part in path.parts):
            reasons.update(json.loads(line)["reason"] for line in path.read_text().splitlines() if line.strip())
    assert {row["reason"]: number(row["readings"]) for row in found["sensors-rejects"].table()} == reasons
    assert sum(reasons.values()) == 2 * 3, "three defective lines an hour"


def test_sensors_report_marks_hours_kept_after_their_raw_objects_expired(sensors, capsys, tmp_path):
    raw = local_path(sensors.settings().datasets["sensors.raw"])
    gone = raw / "2024" / "03" / "01" / "01"
    kept_aside = raw.parent / "raw-hour-01"
    gone.rename(kept_aside)
    try:
        _, found = opened(written(sensors, capsys, "--dataset", "sensors"), tmp_path / "chromium")
    finally:
        kept_aside.rename(gone)
    rows = found["sensors-coverage"].table()
    assert {row["raw gone"] for row in rows if row["hour"] == "2024-03-01 01:00"} == {"yes"}
    assert {row["raw gone"] for row in rows if row["hour"] == "2024-03-01 00:00"} == {"no"}
    assert "kept from raw data now gone" in found["sensors-coverage"].reading


# SiteWise -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sitewise(tmp_path_factory):
    project = new_project(tmp_path_factory.mktemp("sitewise") / "repo")
    cold_tier = project.settings().datasets["sitewise.cold_tier"]
    summary = write_cold_tier(Storage(), cold_tier, DAY, 2, 12, records_per_file=20, seed=3)
    project.run_job("sitewise_repartition", "2024-03-01", "2024-03-02")
    project.run_job("sitewise_repartition", "2024-03-01", "2024-03-02", timeseries_type="DISASSOCIATED")
    spec = next(spec for spec in plan_series(12, 3) if spec.associated)
    start = int(datetime.combine(DAY, time(23, 59, 30), tzinfo=UTC).timestamp())
    late = raw_records(spec, start, "GOOD", 7, random.Random(99))
    Storage().write_bytes(join(cold_tier, raw_key(spec, DAY, start, "GOOD")), encode_raw_file(late))
    project.run_job("sitewise_repartition", "2024-03-01", "2024-03-02")
    return project, summary, len(late)


@pytest.mark.subprocess
def test_sitewise_report_draws_series_days_late_arrivals_and_files(sitewise, capsys, tmp_path):
    project, summary, late = sitewise
    merged = local_path(project.settings().datasets["sitewise.repartitioned"])
    records = Counter()
    files = Counter()
    for path in merged.rglob("*.avro"):
        if any(part.startswith(("_", ".")) for part in path.relative_to(merged).parts):
            continue
        day = date(*(int(part.split("=")[1]) for part in path.relative_to(merged).parts[:3])).isoformat()
        files[day] += 1
        with path.open("rb") as handle:
            records.update((record["seriesId"], day) for record in fastavro.reader(handle))

    _, found = opened(written(project, capsys, "--dataset", "sitewise"), tmp_path / "chromium")
    series = found["sitewise-series"].table()
    assert {(row["series"], row["day"]): number(row["records"]) for row in series} == records
    kinds = {row["series"]: row["type"] for row in series}
    assert kinds == {**dict.fromkeys(summary.associated, "associated"), **dict.fromkeys(summary.disassociated, "disassociated")}

    days = {row["day"]: row for row in found["sitewise-late"].table()}
    assert {day: number(row["files"]) for day, row in days.items()} == files == {"2024-03-01": 3, "2024-03-02": 2}
    assert number(days["2024-03-01"]["records, later runs"]) == late
    assert "1 of 2 day(s) had late arrivals merged by a later run: 2024-03-01" in found["sitewise-late"].reading
    assert found["sitewise-files"].pictures == 1

    day_two = next(path for path in merged.rglob("*.avro") if "startDay=2" in path.parts and "_staging" not in path.parts)
    stray = day_two.with_name("merged_left_by_a_killed_run.avro")
    stray.write_bytes(day_two.read_bytes())
    try:
        _, found = opened(written(project, capsys, "--dataset", "sitewise"), tmp_path / "chromium")
    finally:
        stray.unlink()
    days = {row["day"]: row for row in found["sitewise-files"].table()}
    assert (number(days["2024-03-02"]["files"]), number(days["2024-03-02"]["committed"])) == (3, 2)
    assert "1 of them in no day manifest" in found["sitewise-files"].reading


# STEDI ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stedi(tmp_path_factory, spark):
    project = new_project(tmp_path_factory.mktemp("stedi") / "repo")
    datasets = project.settings().datasets
    urls = {name: datasets[f"stedi.{name}_landing"] for name in ("customer", "accelerometer", "step_trainer")}
    write_stedi_landing(Storage(), urls, 100, 7)
    for job in project.settings().pipelines["stedi"].jobs:
        project.run_job(job)
    return project


def test_stedi_report_draws_the_funnel_why_rows_left_and_readings_per_day(stedi, capsys, tmp_path):
    datasets = stedi.settings().datasets

    def lines(url: str) -> int:
        return sum(
            1 for path in local_path(url).rglob("*") if path.is_file() for line in path.read_text().splitlines() if line.strip()
        )

    def rows(name: str) -> int:
        folder = local_path(datasets[f"stedi.{name}"])
        return sum(
            ds.dataset(str(path), format="parquet").count_rows()
            for path in folder.rglob("*.parquet")
            if "_staging" not in path.parts
        )

    rejects: Counter[tuple[str, str]] = Counter()
    for path in local_path(datasets["stedi.rejects"]).rglob("*.json"):
        if "_commits" in path.parts:
            continue
        job = path.relative_to(local_path(datasets["stedi.rejects"])).parts[0]
        rejects.update((job, json.loads(line)["reason"]) for line in path.read_text().splitlines() if line.strip())

    _, found = opened(written(stedi, capsys, "--dataset", "stedi"), tmp_path / "chromium")
    funnel = {row["step"]: row for row in found["stedi-funnel"].table()}
    expected = {
        "customers: landing → trusted": (lines(datasets["stedi.customer_landing"]), rows("customer_trusted"), "customer_trusted"),
        "customers: trusted → curated": (rows("customer_trusted"), rows("customer_curated"), None),
        "accelerometer: landing → trusted": (
            lines(datasets["stedi.accelerometer_landing"]),
            rows("accelerometer_trusted"),
            "accelerometer_trusted",
        ),
        "step trainer: landing → trusted": (
            lines(datasets["stedi.step_trainer_landing"]),
            rows("step_trainer_trusted"),
            "step_trainer_trusted",
        ),
        "step trainer → machine learning": (rows("step_trainer_trusted"), rows("machine_learning_curated"), None),
    }
    assert set(funnel) == set(expected)
    for step, (read, kept, job) in expected.items():
        rejected = sum(count for (name, _), count in rejects.items() if name == job)
        row = funnel[step]
        assert (number(row["rows in"]), number(row["kept"]), number(row["rejected"])) == (read, kept, rejected), step
        assert number(row["left out by the rule"]) == read - kept - rejected
    assert funnel["customers: landing → trusted"]["why they left"] == "no research consent"
    assert {(row["job"], row["reason"]): number(row["records"]) for row in found["stedi-rejects"].table()} == rejects
    assert rejects, "the sample data holds bad landing lines"

    per_day = {row["day"]: row for row in found["stedi-readings"].table()}
    for name, column in (("accelerometer_trusted", "accelerometer"), ("step_trainer_trusted", "step trainer")):
        folder = local_path(datasets[f"stedi.{name}"])
        counted = Counter()
        for path in folder.rglob("*.parquet"):
            if "_staging" not in path.parts:
                counted[path.parent.name.split("=")[1]] += ds.dataset(str(path), format="parquet").count_rows()
        assert {day: number(row[column]) for day, row in per_day.items()} == counted


def test_the_report_says_what_it_is_reading_while_it_reads(embrace):
    project, _ = embrace
    settings = project.settings()
    heard: list[str] = []
    source = Source(settings, Lake(Storage(), heard.append), Catalog(settings, project.root / "sql"), Window())
    report_page("embrace", source)
    for table in ("embrace_wear_time", "embrace_duplicate_log", "embrace_clean", "embrace_rejects"):
        assert any(message.startswith(f"reading {table} (") and " files, " in message for message in heard), table


def _after_a_whole_run_and_a_range_run(root):
    """A STEDI lake on generated data after every job ran over all of it and the accelerometer job over one day."""
    project = new_project(root / "repo")
    settings = project.settings()
    urls = {name: settings.datasets[f"stedi.{name}_landing"] for name in ("customer", "accelerometer", "step_trainer")}
    write_stedi_landing(Storage(), urls, 100, 7)
    for job in settings.pipelines["stedi"].jobs:
        project.run_job(job)
    project.run_job("stedi_accelerometer_trusted", "2022-06-18", "2022-06-18")
    return project, settings, urls


def _source(project, settings) -> Source:
    return Source(settings, Lake(Storage(), lambda _: None), Catalog(settings, project.root / "sql"), Window())


def _accelerometer_funnel_step(project, settings) -> tuple:
    funnel = next(picture for picture in stedi_report.pictures(_source(project, settings)) if picture.key == "stedi-funnel")
    return next(row for row in funnel.numbers.rows if row[0] == "accelerometer: landing → trusted")


def test_stedi_rejects_are_counted_once_when_a_date_range_run_published_them_again(tmp_path_factory, spark):
    """A date-range run counts and publishes every reject of the landing (rejects have no trustworthy date) under
    its own scope beside the whole run's: the funnel must still say each rejected landing line once."""
    project, settings, _ = _after_a_whole_run_and_a_range_run(tmp_path_factory.mktemp("stedi-ranged"))
    scopes = local_path(settings.datasets["stedi.rejects"]) / "accelerometer_trusted"
    lines = {
        scope.name: sorted(json.loads(line)["record"] for path in scope.glob("*.json") for line in path.read_text().splitlines())
        for scope in scopes.iterdir()
        if scope.name in ("all", "2022-06-18_2022-06-18")
    }
    assert len(lines) == 2 and lines["all"] == lines["2022-06-18_2022-06-18"] and lines["all"], "both scopes hold every reject"

    step = _accelerometer_funnel_step(project, settings)
    assert step[3] == len(lines["all"])


def test_stedi_rejects_of_a_date_range_run_before_the_landing_was_fixed_are_not_counted_after_it(tmp_path_factory, spark):
    """A date-range run published the landing's rejects under its scope; the bad lines were then fixed and the whole
    run found none. The range scope still holds them: the report counted them as rejects of the landing, though no
    line of it is rejected any more, and the funnel's rows in no longer add up to kept + rejected + left out."""
    project, settings, urls = _after_a_whole_run_and_a_range_run(tmp_path_factory.mktemp("stedi-stale"))
    landing = local_path(urls["accelerometer"])
    for path in landing.glob("*.json"):
        good = []
        for line in path.read_text().splitlines():
            try:
                if json.loads(line)["user"].strip() and json.loads(line)["timestamp"] is not None:
                    good.append(line)
            except (ValueError, TypeError, KeyError, AttributeError):
                pass
        path.write_text("".join(line + "\n" for line in good))
    project.run_job("stedi_accelerometer_trusted")
    rejects = local_path(settings.datasets["stedi.rejects"]) / "accelerometer_trusted"
    assert not list((rejects / "all").glob("*.json")) and list((rejects / "2022-06-18_2022-06-18").glob("*.json"))

    step = _accelerometer_funnel_step(project, settings)
    assert step[3] == 0, step


def test_stedi_rejects_without_commit_records_count_from_the_scope_written_last(tmp_path):
    """Rejects written before scopes had commit records (or by hand) still count: a scope without a record is as
    recent as its newest file."""
    project = new_project(tmp_path / "repo")
    settings = project.settings()
    folder = local_path(settings.datasets["stedi.rejects"]) / "accelerometer_trusted"
    for scope, reasons, written_at in (
        ("all", ["malformed JSON"] * 3, 1_000),
        ("2022-06-18_2022-06-18", ["malformed JSON"], 2_000),
    ):
        (folder / scope).mkdir(parents=True)
        part = folder / scope / "part-00000.json"
        part.write_text("".join(json.dumps({"reason": reason, "source_file": "f", "record": "{"}) + "\n" for reason in reasons))
        os.utime(part, (written_at, written_at))
    assert stedi_report._rejects(_source(project, settings)) == {"accelerometer_trusted": {"malformed JSON": 1}}
