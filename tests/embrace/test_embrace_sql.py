"""The Embrace DDL renders for both profiles, parses, and covers every output."""

from __future__ import annotations

from embrace_helpers import REPO

from job_helpers.control.config import load_settings
from job_helpers.control.ddl import parse_check, render_statements
from job_helpers.control.local_sql import translate_ddl


def test_embrace_ddl_renders_and_parses_with_projection(spark):
    for profile, scheme in (("local", "file://"), ("aws", "s3://")):
        settings = load_settings(REPO / "config.yml", profile)
        statements = [s for s in render_statements(REPO / "sql", settings) if s.source.startswith("sql/embrace/")]
        locations = {
            name: settings.datasets[f"embrace.{name}"]
            for name in ("clean", "timestream_ready", "duplicate_log", "wear_time", "devices", "rejects")
        }
        first_folders = {
            "clean": "stream=${stream}/date=${date}/",
            "timestream_ready": "${stream}/${date}/",
            "duplicate_log": "stream=${stream}/month=${month}/",
            "wear_time": "month=${month}/",
            "rejects": "export=${export}/stream=${stream}/",
        }
        for name, url in locations.items():
            (statement,) = [s for s in statements if s.source == f"sql/embrace/embrace_{name}.sql"]
            assert f"LOCATION '{url}'" in statement.sql and url.startswith(scheme)
            if name == "devices":  # one small table, no partitions
                assert "PARTITIONED BY" not in statement.sql and "projection" not in statement.sql
                continue
            assert "'projection.enabled'='true'" in statement.sql
            assert f"'storage.location.template'='{url}{first_folders[name]}'" in statement.sql
            # Only the rejects (lines of one export's files) keep an injected partition, which needs a filter.
            assert ("'projection.export.type'='injected'" in statement.sql) == (name == "rejects")
        parse_check(statements, spark)


def test_locally_only_the_bare_value_batch_load_table_goes_without_recovered_partitions():
    """The batch-load-ready folders have no key=, so the local engine cannot recover them: that table reads as empty locally."""
    settings = load_settings(REPO / "config.yml", "local")
    statements = [s for s in render_statements(REPO / "sql", settings) if s.source.startswith("sql/embrace/")]
    projected = {s.source.rsplit("/", 1)[-1]: translate_ddl(s).projected for s in statements}
    assert projected.pop("embrace_timestream_ready.sql") is False
    assert projected.pop("embrace_devices.sql") is False  # not partitioned: nothing to recover
    assert projected and all(projected.values())
