"""The pipeline on generated data with injected cases; expectations derived here in plain Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from stedi_helpers import (
    REPO,
    folder_report,
    lake_settings,
    last_action,
    run_pipeline,
    run_time_only_join,
    spark_actions,
    write_key,
)

from job_helpers.control.config import pipeline_spec
from job_helpers.control.pipeline import job_argv, load_script, table_counts
from job_helpers.stedi.pseudonym import pseudonym
from job_helpers.stedi.sample_data import write_stedi_landing
from job_helpers.storage import Storage, local_path
from tests.support.stedi_oracle import expected_counts, key, landing_urls, parse_folder

GENERATED_KEY = "generated-test-key-0123456789"


@pytest.fixture(scope="module")
def actions_of_the_run() -> list[str]:
    """Filled by ``generated``: the Spark actions its pipeline run started, in order."""
    return []


@pytest.fixture(scope="module")
def generated(small_shuffles, tmp_path_factory, actions_of_the_run):
    root = tmp_path_factory.mktemp("stedi-generated")
    settings = lake_settings(root / "lake", write_key(root / "key", GENERATED_KEY))
    written = write_stedi_landing(Storage(), landing_urls(settings), customers=100, seed=11)
    since = last_action(small_shuffles)
    result = run_pipeline(settings)
    actions_of_the_run.extend(spark_actions(small_shuffles, since))
    return settings, written, result, root


def test_every_spark_action_of_the_pipeline_writes_a_table_or_collects_the_pseudonyms(generated, actions_of_the_run):
    """No count, cache fill or empty write of its own: the counts are observed by the writes. Rejects are
    written by the two jobs that have some; the curated jobs collect their emails' keys once each."""
    jobs = {
        "stedi_customer_trusted": ["save"],
        "stedi_accelerometer_trusted": ["save", "save"],
        "stedi_customer_curated": ["collect", "save"],
        "stedi_step_trainer_trusted": ["save", "save"],
        "stedi_machine_learning_curated": ["collect", "save"],
    }
    assert [outcome.job for outcome in generated[2].outcomes] == list(jobs)
    assert actions_of_the_run == [action for actions in jobs.values() for action in actions]


def test_counts_match_an_independent_derivation(generated):
    settings, written, result, _ = generated
    expected = expected_counts(settings)
    assert written["bad_lines"] == expected["rejected"] == 3
    assert written["non_consenting"] > 0 and written["without_readings"] > 0 and written["case_variants"] == 2
    counts = table_counts(settings.datasets, pipeline_spec(settings, "stedi").tables, result.outcomes)
    assert counts == {name: count for name, count in expected.items() if name.startswith("stedi.")}
    for outcome in result.outcomes:  # the run's report, read by run id, is the one kept beside the data
        assert outcome.report == folder_report(settings.job(outcome.job)), outcome.job
    assert sum(outcome.report.records_rejected for outcome in result.outcomes) == 3


def spelled_two_ways(emails: list[str]) -> list[str]:
    """The email keys that appear in more than one spelling."""
    forms = defaultdict(set)
    for email in emails:
        forms[key(email)].add(email)
    return sorted(email for email, seen in forms.items() if len(seen) > 1)


def test_a_customer_under_two_email_casings_is_one_curated_customer_with_all_readings(generated, small_shuffles):
    settings = generated[0]
    customers, _ = parse_folder(landing_urls(settings)["customer"])
    accel, _ = parse_folder(landing_urls(settings)["accelerometer"])
    mixed = spelled_two_ways([c["email"] for c in customers] + [r["user"] for r in accel if r.get("user")])
    assert len(mixed) == 2  # one registered again in upper case, one whose phone reports in upper case
    names = {pseudonym(GENERATED_KEY.encode(), email): email for email in mixed}
    curated = [r["customerPseudonym"] for r in small_shuffles.read.parquet(settings.datasets["stedi.customer_curated"]).collect()]
    assert sorted(p for p in curated if p in names) == sorted(names)
    readings = Counter(key(r["user"]) for r in accel if r.get("user") and key(r["user"]) in mixed)
    trusted = small_shuffles.read.parquet(settings.datasets["stedi.accelerometer_trusted"]).collect()
    assert Counter(key(r["user"]) for r in trusted if key(r["user"]) in mixed) == readings
    ml = small_shuffles.read.parquet(settings.datasets["stedi.machine_learning_curated"]).collect()
    assert Counter(names[r["customerPseudonym"]] for r in ml if r["customerPseudonym"] in names) == readings


def test_the_rubric_join_on_time_alone_also_pairs_other_customers_readings(generated, small_shuffles, monkeypatch):
    settings, written, result, root = generated
    monkeypatch.setenv("JOB_HELPERS_RUNTIME", "local")
    rubric, job = run_time_only_join(root)
    assert job.arguments["--ml-join"] == "time-only"
    expected = expected_counts(settings)
    rows = small_shuffles.read.parquet(rubric.datasets["stedi.machine_learning_curated"]).count()
    assert rows == expected["time_only"] == expected["stedi.machine_learning_curated"] + 2 * written["shared_instants"]
    assert folder_report(job).written == {rubric.datasets["stedi.machine_learning_curated"]: rows}


def test_rejects_carry_reason_and_source_file(generated, small_shuffles):
    settings, _, _, _ = generated
    rejects = small_shuffles.read.json(settings.datasets["stedi.rejects"] + "accelerometer_trusted/all/").collect()
    reasons = sorted(row["reason"] for row in rejects)
    assert reasons == ["malformed JSON", "missing key field: user, timestamp"]
    assert all(row["source_file"].endswith("accelerometer-day2.json") for row in rejects)
    report = folder_report(settings.jobs["stedi_step_trainer_trusted"])
    assert report.rejected == {"malformed JSON": 1}


def test_blank_keys_are_rejects_so_nobody_s_readings_join_a_consenting_customer_with_a_blank_email(
    small_shuffles, tmp_path, monkeypatch
):
    """A blank email would be the key every blank ``user`` shares: readings of people who never consented
    would be trusted and curated as that customer's. Blank serial numbers would pair devices the same way."""
    monkeypatch.setenv("JOB_HELPERS_RUNTIME", "local")
    settings = lake_settings(
        tmp_path / "lake", write_key(tmp_path / "key", "blank-key-test-0123456789"), "stedi.max_reject_share=0.5"
    )
    urls = landing_urls(settings)
    write_stedi_landing(Storage(), urls, customers=100, seed=3)
    customer = {"customerName": "Blank", "phone": "1", "birthDay": "1990-01-01", "registrationDate": 1, "lastUpdateDate": 1}
    lines = {
        "customer": [
            {**customer, "email": " \t", "serialNumber": "device-of-blank", "shareWithResearchAsOfDate": 1},
            {**customer, "email": "no-device@example.com", "serialNumber": "", "shareWithResearchAsOfDate": 1},
        ],
        "accelerometer": [{"user": user, "timestamp": 1655510400000, "x": 1.0, "y": 0.0, "z": 0.0} for user in ("", "\r\n")],
        "step_trainer": [
            {"sensorReadingTime": 1655510400000, "serialNumber": serial, "distanceFromObject": 1}
            for serial in ("device-of-blank", " ")
        ],
    }
    for name, records in lines.items():
        (local_path(urls[name]) / f"{name}-blank.json").write_text("".join(json.dumps(r) + "\n" for r in records))
    result = run_pipeline(settings)
    rejected = {outcome.job: outcome.report.rejected for outcome in result.outcomes if outcome.report.rejected}
    assert rejected == {  # beside the generated data's own bad lines
        "stedi_customer_trusted": {"missing key field: email": 1, "missing key field: serialNumber": 1},
        "stedi_accelerometer_trusted": {
            "malformed JSON": 1,
            "missing key field: user, timestamp": 1,
            "missing key field: user": 2,
        },
        "stedi_step_trainer_trusted": {"malformed JSON": 1, "missing key field: serialNumber": 1},
    }
    counts = table_counts(settings.datasets, pipeline_spec(settings, "stedi").tables, result.outcomes)
    assert counts == {name: count for name, count in expected_counts(settings).items() if name.startswith("stedi.")}
    trusted = small_shuffles.read.parquet(settings.datasets["stedi.accelerometer_trusted"])
    assert trusted.where(F.trim(F.col("user")) == "").count() == 0
    steps = small_shuffles.read.parquet(settings.datasets["stedi.step_trainer_trusted"])
    assert steps.where(F.col("serialNumber") == "device-of-blank").count() == 0
    rejects = small_shuffles.read.json(settings.datasets["stedi.rejects"] + "customer_trusted/all/").collect()
    assert sorted(json.loads(r["record"])["customerName"] for r in rejects) == ["Blank", "Blank"]
    assert all(r["source_file"].endswith("customer-blank.json") for r in rejects)


def test_date_range_recomputes_only_its_dates(small_shuffles, tmp_path, monkeypatch):
    monkeypatch.setenv("JOB_HELPERS_RUNTIME", "local")
    settings = lake_settings(tmp_path / "lake", write_key(tmp_path / "key", "range-test-key-0123456789"))
    write_stedi_landing(Storage(), landing_urls(settings), customers=100, seed=5)
    for name in ("stedi_customer_trusted", "stedi_accelerometer_trusted"):
        job = settings.job(name)
        load_script(REPO / job.script).main(job_argv(job))
    table = settings.datasets["stedi.accelerometer_trusted"]
    before = _per_day(small_shuffles, table)
    (local_path(settings.datasets["stedi.accelerometer_landing"]) / "accelerometer-day1.json").unlink()
    one_day = [*job_argv(job), "--from-date", "2022-06-18", "--to-date", "2022-06-18"]
    with pytest.raises(SystemExit):
        load_script(REPO / job.script).main(one_day)
    assert _per_day(small_shuffles, table) == before
    refused = folder_report(job, "2022-06-18_2022-06-18")
    assert (
        refused.status == "FAILED" and "reading_date=2022-06-18/" in refused.message and "--allow-shrink true" in refused.message
    )
    rejects = local_path(settings.datasets["stedi.rejects"]) / "accelerometer_trusted" / "2022-06-18_2022-06-18"
    assert not [p for p in rejects.rglob("*") if p.is_file() and "_staging" not in p.parts], "a refused run publishes nothing"
    load_script(REPO / job.script).main([*one_day, "--allow-shrink", "true"])
    after = _per_day(small_shuffles, table)
    day1, day2 = date(2022, 6, 18), date(2022, 6, 19)
    assert before[day1] > 0 and day1 not in after
    assert after[day2] == before[day2] > 0
    report = folder_report(job, "2022-06-18_2022-06-18")
    assert report.written == {table: 0} and report.records_rejected == 2
    assert len(small_shuffles.read.json(str(rejects)).collect()) == 2


def _per_day(spark, table: str) -> dict:
    return {row["reading_date"]: row["count"] for row in spark.read.parquet(table).groupBy("reading_date").count().collect()}


def test_too_many_rejects_fail_the_job_and_publish_nothing(small_shuffles, tmp_path, monkeypatch):
    monkeypatch.setenv("JOB_HELPERS_RUNTIME", "local")
    settings = lake_settings(
        tmp_path / "lake", write_key(tmp_path / "key", "reject-test-key-0123456789"), "stedi.max_reject_share=0.0001"
    )
    write_stedi_landing(Storage(), landing_urls(settings), customers=100, seed=3)
    job = settings.job("stedi_accelerometer_trusted")
    with pytest.raises(SystemExit) as stop:
        load_script(REPO / job.script).main(job_argv(job))
    assert stop.value.code == 1
    assert not local_path(settings.datasets["stedi.accelerometer_trusted"]).exists()
    report = folder_report(job)
    assert report.status == "FAILED" and "over the allowed share" in report.message


def test_ddl_registers_and_query_counts_match_the_job_reports(generated):
    settings, _, result, root = generated
    script = (
        "import sys; from job_helpers.control.cli import main\n"
        "assert main(sys.argv[1:4] + ['ddl']) == 0\n"
        "assert main(sys.argv[1:4] + ['query', '--json', '--file', 'sql/stedi/checks/row_counts.sql']) == 0\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, "--set", f"stedi.pseudonym_key_file={root / 'key'}", "--profile=local"],
        cwd=REPO,
        env={**_environment(), "LAKE_ROOT": str(root / "lake")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    answer = json.loads(completed.stdout.strip().splitlines()[-1])
    counted = {f"{data}.{zone}": rows for data, zone, rows in answer["rows"]}
    reported = table_counts(settings.datasets, pipeline_spec(settings, "stedi").tables, result.outcomes)
    names = {
        "customer.landing": "stedi.customer_landing",
        "customer.trusted": "stedi.customer_trusted",
        "customer.curated": "stedi.customer_curated",
        "accelerometer.landing": "stedi.accelerometer_landing",
        "accelerometer.trusted": "stedi.accelerometer_trusted",
        "step_trainer.landing": "stedi.step_trainer_landing",
        "step_trainer.trusted": "stedi.step_trainer_trusted",
        "machine_learning.curated": "stedi.machine_learning_curated",
    }
    assert {names[key]: rows for key, rows in counted.items()} == reported


def _environment() -> dict[str, str]:
    return {**os.environ, "SPARK_SHUFFLE_PARTITIONS": "2", "PYTHONPATH": str(Path(REPO))}
