"""Every job on the aws profile: built to S3, created and started in moto's Glue by ``execute``, then
run the way Glue runs it (glue_emulator) and checked by reading its outputs back from S3."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import fastavro
import pyarrow.dataset as ds
import pytest
from aws_project import UNTAGGED_JOB, AwsProject
from glue_emulator import EmulatedRun, run_job

from job_helpers.control.ddl import render_statements
from job_helpers.datasets import registered
from job_helpers.embrace.sample_data import write_embrace_sample
from job_helpers.run_report import read_report, scope_report_url
from job_helpers.sensors.sample_data import write_sensor_sample
from job_helpers.sitewise.sample_data import write_cold_tier
from job_helpers.stedi.sample_data import write_stedi_landing
from job_helpers.storage import Storage
from tests.support.embrace_oracle import expected_union
from tests.support.sensors_oracle import raw_buckets
from tests.support.stedi_oracle import expected_counts

SITEWISE_FIRST = date(2024, 2, 28)
SENSORS_FIRST = date(2024, 3, 1)
EMBRACE_FIRST = date(2024, 3, 1)
# moto has no IoT SiteWise, so the series come from the cold tier's asset metadata, as locally.
SITEWISE_FROM_METADATA = ("jobs.sitewise_repartition.arguments.--series-source=asset_metadata",)
STEDI_JOBS = (
    ("stedi_customer_trusted", ()),
    ("stedi_accelerometer_trusted", ("2022-06-18", "2022-06-19", "2")),
    ("stedi_customer_curated", ()),
    ("stedi_step_trainer_trusted", ("2022-06-18", "2022-06-19", "2")),
    ("stedi_machine_learning_curated", ("2022-06-18", "2022-06-19", "2")),
)
# Each group runs in order (execute, then every job it created); the STEDI chain beside the others.
GROUPS = {
    "stedi": tuple((job, dates, ()) for job, dates in STEDI_JOBS),
    "sitewise": (("sitewise_repartition", ("2024-02-28", "2024-03-01", "2"), SITEWISE_FROM_METADATA),),
    "sensors": (("sensor_timeseries_export", ("2024-03-01", "2024-03-02", "2"), ()),),
    # March 1 reads the ALLSITES export; April reads the FC re-export (March 1-2 again) against what March published.
    "embrace": (
        ("embrace_dedupe", ("2024-03-01", "2024-03-01", "1"), ()),
        ("embrace_dedupe", ("2024-04-01", "2024-04-30", "30"), ()),
    ),
}


def test_every_registered_job_runs_in_a_group_or_in_its_data_sets_own_aws_test():
    """A job of a registered data set is run on moto here, or by its data set's own test (make new-job writes one)."""
    grouped = {job for steps in GROUPS.values() for job, _, _ in steps}
    for dataset in registered():
        own = "".join(path.read_text(encoding="utf-8") for path in Path(__file__).parent.glob(f"test_{dataset.name}_*.py"))
        missing = [job for job in dataset.jobs if job not in grouped and f'"{job}"' not in own]
        assert missing == [], f"{dataset.name}: add {missing} to GROUPS (with sample data in `project`)"


@dataclass
class GroupResult:
    runs: list[EmulatedRun] = field(default_factory=list)
    error: str | None = None

    def succeeded(self, jobs: int) -> list[EmulatedRun]:
        """The runs, after checking that ``jobs`` of them ran and each ended with status 0."""
        assert self.error is None, self.error
        for run in self.runs:
            assert run.returncode == 0, f"{run.job_name} exited {run.returncode}:\n{run.output[-4000:]}"
        assert len(self.runs) == jobs, [run.job_name for run in self.runs]
        return self.runs


@pytest.fixture(scope="module")
def project(aws_project: AwsProject) -> AwsProject:
    """The project with every data set's sample data generated locally and uploaded to its bucket."""
    local = aws_project.settings("local").datasets
    storage = Storage()
    write_cold_tier(storage, local["sitewise.cold_tier"], SITEWISE_FIRST, days=3, series=24, records_per_file=10)
    write_sensor_sample(storage, local, SENSORS_FIRST, days=2, seed=11, sensors=3, hours_per_day=2)
    write_stedi_landing(storage, {n: local[f"stedi.{n}_landing"] for n in ("customer", "accelerometer", "step_trainer")}, 100, 11)
    write_embrace_sample(
        storage,
        local["embrace.landing"],
        start=EMBRACE_FIRST,
        days=2,
        seconds_per_day=20,
        participants=("fc096", "fc157"),
        period_end=date(2024, 3, 31),
    )
    write_embrace_sample(
        storage,
        local["embrace.landing"],
        start=EMBRACE_FIRST,
        days=2,
        seconds_per_day=20,
        participants=("fc096", "fc157"),
        site="FC",
        period_start=date(2024, 3, 2),
        period_end=date(2024, 4, 30),
    )
    aws_project.upload_lake()
    return aws_project


@pytest.fixture(scope="module")
def emulated(project: AwsProject, tmp_path_factory: pytest.TempPathFactory) -> dict[str, GroupResult]:
    """``execute`` each job on the aws profile and run every job it created as Glue would, two groups at once."""
    workdir = tmp_path_factory.mktemp("glue-runs")

    def run_group(steps) -> GroupResult:
        result = GroupResult()
        glue, s3 = project.client("glue"), project.client("s3")
        try:
            for job, dates, sets in steps:
                for name in project.execute(job, *dates, sets=sets):
                    result.runs.append(run_job(glue, s3, name, workdir, project.env))
                    if result.runs[-1].returncode != 0:
                        return result
        except Exception as error:  # reported by the group's test, with the job that raised it
            result.error = f"{type(error).__name__}: {error}"
        return result

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {group: pool.submit(run_group, steps) for group, steps in GROUPS.items()}
        return {group: future.result() for group, future in futures.items()}


def dataset(folder: Path) -> ds.Dataset:
    return ds.dataset(folder, format="parquet", partitioning="hive")


def test_execute_creates_tagged_jobs_on_the_uploaded_build(project, emulated):
    names = [run.job_name for run in emulated["sitewise"].runs]
    assert len(names) == 2
    glue = project.client("glue")
    build = json.loads((project.root / "build" / "manifest.json").read_text())["content_hash"][:16]
    batches = set()
    for name in names:
        job = glue.get_job(JobName=name)["Job"]
        assert job["Command"]["ScriptLocation"] == f"s3://glue-etl-assets/glue/builds/{build}/jobs/sitewise_repartition.py"
        assert job["DefaultArguments"]["--extra-py-files"] == f"s3://glue-etl-assets/glue/builds/{build}/job_helpers.zip"
        tags = glue.get_tags(ResourceArn=f"arn:aws:glue:us-east-1:123456789012:job/{name}")["Tags"]
        assert tags["source"] == "glue-etl" and tags["job"] == "sitewise_repartition"
        batches.add(tags["batch"])
    assert len(batches) == 1


def test_sitewise_records_are_merged_exactly_once(project, emulated, tmp_path):
    emulated["sitewise"].succeeded(2)
    aws = project.settings("aws").datasets
    merged_files = sorted(project.mirror(aws["sitewise.repartitioned"], tmp_path / "merged").rglob("*.avro"))
    assert [p.parent.name for p in merged_files] == ["startDay=28", "startDay=29", "startDay=1"]
    index_series: set[str] = set()
    for listing in project.mirror(aws["sitewise.index"], tmp_path / "index").rglob("timeseries.txt"):
        index_series |= set(listing.read_text().split())
    merged = Counter(json.dumps(r, sort_keys=True) for path in merged_files for r in fastavro.reader(path.open("rb")))
    raw_folder = Path(project.settings("local").datasets["sitewise.cold_tier"].removeprefix("file://")) / "raw"
    raw = Counter(
        json.dumps(r, sort_keys=True)
        for path in raw_folder.rglob("*.avro")
        for r in fastavro.reader(path.open("rb"))
        if r["seriesId"] in index_series
    )
    assert sum(merged.values()) > 0
    assert merged == raw


def test_sensor_grid_covers_every_second_once_with_the_raw_values(project, emulated, tmp_path):
    emulated["sensors"].succeeded(1)

    table = dataset(project.mirror(project.settings("aws").datasets["sensors.curated"], tmp_path / "curated")).to_table()
    seconds = [int(moment.timestamp()) for moment in table["time"].to_pylist()]
    rows = list(
        zip(
            table["sensor_id"].to_pylist(),
            seconds,
            table["temperature"].to_pylist(),
            table["status"].to_pylist(),
            table["dt"].to_pylist(),
            table["hour"].to_pylist(),
        )
    )
    keys = [(sensor, second) for sensor, second, *_ in rows]
    assert len(keys) == len(set(keys))
    buckets = raw_buckets(project.settings("local").datasets["sensors.raw"])
    windows: dict[tuple[str, int], set[int]] = defaultdict(set)
    for sensor, second in buckets:
        windows[(sensor, second // 3600)].add(second)
    got: dict[tuple[str, int], list[int]] = defaultdict(list)
    for sensor, second, *_ in rows:
        got[(sensor, second // 3600)].append(second)
    assert set(got) == set(windows)
    for window, expected in windows.items():
        assert sorted(got[window]) == list(range(min(expected), max(expected) + 1)), window
    by_key = {(sensor, second): (temperature, status) for sensor, second, temperature, status, *_ in rows}
    for key, (temperature, status) in buckets.items():
        assert by_key[key][0] == pytest.approx(temperature, abs=1e-9), key
        assert by_key[key][1] == status, key
    for _, second, _, _, dt, hour in rows:
        moment = datetime.fromtimestamp(second, UTC)
        assert (str(dt), int(hour)) == (moment.date().isoformat(), moment.hour)


def test_stedi_pipeline_row_counts_and_rejects(project, emulated, tmp_path):
    emulated["stedi"].succeeded(len(STEDI_JOBS))

    expected = expected_counts(project.settings("local"))
    aws = project.settings("aws")
    for table in (
        "customer_trusted",
        "accelerometer_trusted",
        "customer_curated",
        "step_trainer_trusted",
        "machine_learning_curated",
    ):
        folder = project.mirror(aws.datasets[f"stedi.{table}"], tmp_path / table)
        assert dataset(folder).count_rows() == expected[f"stedi.{table}"], table
    storage = Storage(boto3_session=project.session, s3_client=project.client("s3"))
    reports = [
        read_report(storage, scope_report_url(aws.jobs[job].arguments["--report"], "_".join(dates[:2]) if dates else "all"))
        for job, dates in STEDI_JOBS
    ]
    assert None not in reports
    rejected = sum(report.records_rejected for report in reports if report is not None)
    assert rejected == expected["rejected"] == 3
    rejects_folder = project.mirror(aws.datasets["stedi.rejects"], tmp_path / "rejects")
    sources = {
        json.loads(line)["source_file"]
        for path in rejects_folder.rglob("*.json")
        if not any(part.startswith("_") for part in path.relative_to(rejects_folder).parts)  # commit records
        for line in path.read_text().splitlines()
    }
    assert sources and all(source.startswith("s3://stedi-lakehouse/") for source in sources), sources


def test_embrace_duplicate_log_and_clean_rows(project, emulated, tmp_path):
    """On S3, the re-export's April run reads March's published device-days back: each reading once."""
    emulated["embrace"].succeeded(2)

    aws = project.settings("aws").datasets
    landing = Path(project.settings("local").datasets["embrace.landing"].removeprefix("file://"))
    archives = sorted(landing.glob("*.zip"))
    log = dataset(project.mirror(aws["embrace.duplicate_log"], tmp_path / "log")).to_table().to_pylist()
    clean = (
        dataset(project.mirror(aws["embrace.clean"], tmp_path / "clean"))
        .to_table(columns=["stream", "time_ms", "ppt_id", "dev_id"])
        .to_pylist()
    )
    oracle_clean, oracle_log = expected_union(archives)
    assert Counter(row["stream"] for row in clean) == oracle_clean
    assert len({(r["stream"], r["time_ms"], r["ppt_id"], r["dev_id"]) for r in clean}) == len(clean)
    names = ("total_rows", "total_dupes", "perfect", "nan", "unclear", "overlap")
    monthly: dict[tuple, Counter] = defaultdict(Counter)
    for row in log:
        monthly[(row["ppt_id"], row["dev_id"], row["month"], row["stream"])].update({name: row[name] for name in names})
    assert {key: tuple(counts[name] for name in names) for key, counts in monthly.items()} == oracle_log
    storage = Storage(boto3_session=project.session, s3_client=project.client("s3"))
    march = read_report(storage, scope_report_url(aws["embrace.reports"], "2024-03-01_2024-03-01"))
    april = read_report(storage, scope_report_url(aws["embrace.reports"], "2024-04-01_2024-04-30"))
    assert march is not None and april is not None and march.status == april.status == "SUCCEEDED"
    assert march.details["archives"] == [archives[0].stem] and april.details["archives"] == [archives[1].stem]
    assert april.read["published"] > 0 and not april.failed
    overlap = sum(counts[-1] for counts in oracle_log.values())
    assert april.details["overlap"]["by_exports"] == {f"{archives[0].stem} & {archives[1].stem}": overlap}
    assert april.written["clean"] == sum(oracle_clean.values())


def test_no_s3a_scheme_reaches_any_output(project, emulated):
    statements = list(render_statements(project.root / "sql", project.settings("aws")))
    assert statements and all("s3a://" not in statement.sql for statement in statements)
    assert any("LOCATION 's3://" in statement.sql for statement in statements)
    written = [
        url
        for bucket in ("stedi-lakehouse", "embrace-wearables", "sensor-timeseries-lake")
        for url in project.keys(f"s3://{bucket}/")
    ]
    texts = [url for url in written if url.endswith((".json", ".txt", ".csv"))]
    assert texts
    s3 = project.client("s3")
    for url in texts:
        bucket, _, key = url.removeprefix("s3://").partition("/")
        assert b"s3a://" not in s3.get_object(Bucket=bucket, Key=key)["Body"].read(), url


def test_cleanup_deletes_every_tagged_job_and_only_those(project, emulated):
    glue = project.client("glue")
    before = set(glue.list_jobs()["JobNames"])
    assert UNTAGGED_JOB in before and len(before) > 1

    done = project.cli("cleanup")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("REMOVED - Name: ") == len(before) - 1
    assert glue.list_jobs()["JobNames"] == [UNTAGGED_JOB]
