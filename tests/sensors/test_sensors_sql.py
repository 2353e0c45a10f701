"""The sensor DDL parses as Hive DDL, and the customer join query finds every mapped sensor."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from job_helpers.control.config import load_settings, render_references
from job_helpers.control.ddl import parse_check, render_statements
from job_helpers.control.local_sql import translate_query
from job_helpers.sensors.transform import READING_SCHEMA, second_grid

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


def test_customer_join_query_returns_every_mapped_sensor(spark):
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
    rows = [(*r.values(), f"{r['time']:%Y-%m-%d}", f"{r['time']:%H}") for r in grid.to_pylist()]
    spark.createDataFrame(
        rows, "sensor_id string, time timestamp, temperature double, status string, dt string, hour string"
    ).createOrReplaceGlobalTempView("sensor_timeseries")
    spark.createDataFrame(sorted(mapping.items()), "sensor_id string, customer_id string").createOrReplaceGlobalTempView(
        "sensor_mapping"
    )
    spark.createDataFrame(
        [tuple(row.values()) for row in customers],
        "customer_id string, company_name string, contact_person string, contract_type string",
    ).createOrReplaceGlobalTempView("customer_data")

    text = translate_query(render_references(QUERY.read_text(encoding="utf-8"), {"database": "global_temp"}))
    rows = spark.sql(text, args=["2024-03-01", "2024-03-01"]).collect()

    per_customer = Counter(mapping.values())
    assert {row["customer_id"]: row["sensors"] for row in rows} == dict(per_customer)
    assert sum(row["sensors"] for row in rows) == len(mapping)
    contract = {row["customer_id"]: row["contract_type"] for row in customers}
    for row in rows:
        assert (row["dt"], row["hour"], row["contract_type"]) == ("2024-03-01", "06", contract[row["customer_id"]])
        # Each sensor: seconds 0..2 OK (rising towards 170), second 3 ERROR.
        assert row["error_seconds"] == per_customer[row["customer_id"]]
    assert spark.sql(text, args=["2024-03-02", "2024-03-05"]).count() == 0
