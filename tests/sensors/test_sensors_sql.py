"""The sensor DDL parses as Hive DDL, and the customer join query finds every mapped sensor on the local engine."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from job_helpers.control.config import load_settings, render_references
from job_helpers.control.ddl import render_statements
from job_helpers.control.local_sql import register, run_query
from job_helpers.sensors.transform import READING_SCHEMA, second_grid
from job_helpers.storage import local_path
from tests.support.spark_sql_reference import parse_check

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared" / "data" / "sensors"
QUERY = REPO / "sql" / "sensors" / "queries" / "hourly_customer_temperature.sql"


def test_sensor_ddl_renders_for_both_profiles_and_parses(spark):
    for profile, scheme in (("local", "file://"), ("aws", "s3://")):
        settings = load_settings(REPO / "config.yml", profile)
        statements = [s for s in render_statements(REPO / "sql", settings) if s.source.startswith("sql/sensors/")]
        assert sorted(s.source for s in statements) == [
            "sql/sensors/customer_data.sql",
            "sql/sensors/sensor_mapping.sql",
            "sql/sensors/sensor_raw.sql",
            "sql/sensors/sensor_timeseries.sql",
        ]
        assert all(f"LOCATION '{scheme}" in s.sql for s in statements)
        parse_check(statements, spark)


def test_customer_join_query_returns_every_mapped_sensor(tmp_path):
    if not (SHARED / "sensor_mapping.csv").is_file():
        pytest.skip(f"reference data not found at {SHARED.resolve()} (the shared folder beside the repository)")
    with open(SHARED / "sensor_mapping.csv", encoding="utf-8-sig", newline="") as handle:
        mapping = {row["sensor_id"]: row["customer_id"] for row in csv.DictReader(handle)}
    with open(SHARED / "customer_data.csv", encoding="utf-8-sig", newline="") as handle:
        customers = list(csv.DictReader(handle))
    hour = int(datetime(2024, 3, 1, 6, tzinfo=UTC).timestamp() * 1000)
    readings = [
        row
        for number, sensor in enumerate(sorted(mapping))
        for row in (
            (sensor, 100.0 + number % 7, "OK", hour + 500),
            (sensor, 170.0, "ERROR", hour + 3_000),
        )
    ]
    readings.append(("sensor-unmapped", 20.0, "OK", hour))
    grid = second_grid(pa.Table.from_pylist([dict(zip(READING_SCHEMA.names, r)) for r in readings], schema=READING_SCHEMA))
    settings = load_settings(REPO / "config.yml", "local", environ={"LAKE_ROOT": str(tmp_path)})
    curated = local_path(settings.datasets["sensors.curated"]) / "dt=2024-03-01" / "hour=06"
    curated.mkdir(parents=True)
    pq.write_table(grid, curated / "part-0.parquet")
    for table in ("sensor_mapping", "customer_data"):
        folder = local_path(settings.datasets[f"sensors.{table}"])
        folder.mkdir(parents=True)
        (folder / f"{table}.csv").symlink_to((SHARED / f"{table}.csv").resolve())  # read in place, never copied
    database = settings.athena_database
    register([s for s in render_statements(REPO / "sql", settings) if s.source.startswith("sql/sensors/")], tmp_path, database)

    text = render_references(QUERY.read_text(encoding="utf-8"), {"database": database})
    columns, answer = run_query(text, tmp_path, database, ["2024-03-01", "2024-03-01"])
    rows = [dict(zip(columns, row)) for row in answer]

    per_customer = Counter(mapping.values())
    assert {row["customer_id"]: row["sensors"] for row in rows} == dict(per_customer)
    assert sum(row["sensors"] for row in rows) == len(mapping)
    contract = {row["customer_id"]: row["contract_type"] for row in customers}
    for row in rows:
        assert (row["dt"], row["hour"], row["contract_type"]) == ("2024-03-01", 6, contract[row["customer_id"]])
        # Each sensor: seconds 0..2 OK (rising towards 170), second 3 ERROR.
        assert row["error_seconds"] == per_customer[row["customer_id"]]
    assert run_query(text, tmp_path, database, ["2024-03-02", "2024-03-05"])[1] == []
