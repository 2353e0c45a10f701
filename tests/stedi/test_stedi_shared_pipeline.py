"""The whole STEDI pipeline on the shared starter data: counts, invariants, pseudonyms, reruns."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F
from stedi_helpers import REPO, lake_settings, run_pipeline, run_time_only_join, shared_lake, write_key

from job_helpers.control.config import pipeline_spec
from job_helpers.control.pipeline import job_argv, load_script, table_counts
from job_helpers.stedi.pseudonym import pseudonym
from job_helpers.stedi.schemas import (
    ACCELEROMETER_TRUSTED,
    CUSTOMER_TRUSTED,
    IDENTIFIER_COLUMNS,
    STEP_TRAINER_TRUSTED,
    curated_customer_schema,
    machine_learning_schema,
)

KEY = "first-test-key-0123456789abcdef"
OTHER_KEY = "second-test-key-fedcba9876543210"


@pytest.fixture(scope="module")
def shared_run(small_shuffles, tmp_path_factory):
    root = tmp_path_factory.mktemp("stedi-shared")
    settings = lake_settings(shared_lake(root / "lake"), write_key(root / "key", KEY))
    first = run_pipeline(settings)
    tables = read_tables(small_shuffles, settings)
    snapshot = {name: sorted(map(tuple, frame.collect())) for name, frame in tables.items()}
    second = run_pipeline(settings)
    return settings, first, second, snapshot, root


def read_tables(spark, settings):
    paths = settings.datasets
    schemas = {
        "stedi.customer_trusted": CUSTOMER_TRUSTED,
        "stedi.accelerometer_trusted": ACCELEROMETER_TRUSTED,
        "stedi.step_trainer_trusted": STEP_TRAINER_TRUSTED,
        "stedi.customer_curated": curated_customer_schema(True),
        "stedi.machine_learning_curated": machine_learning_schema(True),
    }
    return {name: spark.read.schema(schema).parquet(paths[name]) for name, schema in schemas.items()}


def test_summary_counts_every_table(shared_run):
    settings, first, second, _, _ = shared_run
    expected = {
        "stedi.customer_landing": 956,
        "stedi.accelerometer_landing": 81_273,
        "stedi.step_trainer_landing": 28_680,
        "stedi.customer_trusted": 482,
        "stedi.accelerometer_trusted": 40_981,
        "stedi.step_trainer_trusted": 14_460,
        "stedi.customer_curated": 482,
        "stedi.machine_learning_curated": 40_981,
    }
    spec = pipeline_spec(settings, "stedi")
    assert table_counts(settings.datasets, spec.tables, first.outcomes) == expected
    assert table_counts(settings.datasets, spec.tables, second.outcomes) == expected
    assert all(outcome.report.records_rejected == 0 for outcome in first.outcomes)


def test_invariants(shared_run, small_shuffles):
    settings, _, _, _, _ = shared_run
    t = read_tables(small_shuffles, settings)
    consenting = t["stedi.customer_trusted"]
    assert consenting.where(F.col("shareWithResearchAsOfDate").isNull()).count() == 0
    emails = consenting.select(F.col("email").alias("user"))
    assert t["stedi.accelerometer_trusted"].join(emails, "user", "left_anti").count() == 0
    devices = t["stedi.customer_curated"].select("serialNumber")
    assert t["stedi.step_trainer_trusted"].join(devices, "serialNumber", "left_anti").count() == 0
    key = KEY.encode()
    readers = t["stedi.accelerometer_trusted"].select("user").distinct().collect()
    with_readings = {pseudonym(key, row["user"].strip().lower()) for row in readers}
    curated = {row["customerPseudonym"] for row in t["stedi.customer_curated"].collect()}
    assert curated == with_readings
    ml = t["stedi.machine_learning_curated"]
    assert ml.where(F.col("sensorReadingTime") != F.col("timestamp")).count() == 0
    owners = t["stedi.customer_curated"].select("serialNumber", "customerPseudonym")
    assert ml.join(owners, ["serialNumber", "customerPseudonym"], "left_anti").count() == 0
    for name in ("stedi.customer_curated", "stedi.machine_learning_curated"):
        on_disk = small_shuffles.read.parquet(settings.datasets[name]).columns
        assert not set(IDENTIFIER_COLUMNS) & set(on_disk), name
        assert "customerPseudonym" in on_disk


def test_second_run_gives_identical_outputs(shared_run, small_shuffles):
    settings, _, _, snapshot, _ = shared_run
    again = {name: sorted(map(tuple, frame.collect())) for name, frame in read_tables(small_shuffles, settings).items()}
    assert again == snapshot


def test_the_rubric_join_on_time_alone_gives_the_published_count(shared_run, small_shuffles, monkeypatch):
    settings, _, _, _, root = shared_run
    monkeypatch.setenv("JOB_HELPERS_RUNTIME", "local")
    rubric, _ = run_time_only_join(root)
    assert small_shuffles.read.parquet(rubric.datasets["stedi.machine_learning_curated"]).count() == 43_681


def test_pseudonyms_are_stable_per_key_and_differ_across_keys(shared_run, small_shuffles, monkeypatch):
    settings, _, _, _, root = shared_run
    monkeypatch.setenv("JOB_HELPERS_RUNTIME", "local")
    other = lake_settings(
        root / "lake",
        write_key(root / "other-key", OTHER_KEY),
        "datasets.stedi.customer_curated.prefix=customer/curated_other_key/",
        "datasets.stedi.reports.prefix=reports_other_key/",
    )
    job = other.job("stedi_customer_curated")
    load_script(REPO / job.script).main(job_argv(job))
    frame = small_shuffles.read.parquet(other.datasets["stedi.customer_curated"])
    by_device_other = {row["serialNumber"]: row["customerPseudonym"] for row in frame.collect()}
    curated = small_shuffles.read.parquet(settings.datasets["stedi.customer_curated"]).collect()
    by_device = {row["serialNumber"]: row["customerPseudonym"] for row in curated}
    assert by_device.keys() == by_device_other.keys()
    assert all(by_device[device] != by_device_other[device] for device in by_device)
    assert len(set(by_device.values())) == len(by_device)
