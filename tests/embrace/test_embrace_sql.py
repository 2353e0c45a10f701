"""The Embrace DDL renders for both profiles, parses, and covers every output."""

from __future__ import annotations

from embrace_helpers import REPO

from job_helpers.control.config import load_settings
from job_helpers.control.ddl import parse_check, render_statements


def test_embrace_ddl_renders_and_parses_with_projection(spark):
    for profile, scheme in (("local", "file://"), ("aws", "s3://")):
        settings = load_settings(REPO / "config.yml", profile)
        statements = [s for s in render_statements(REPO / "sql", settings) if s.source.startswith("sql/embrace/")]
        locations = {
            name: settings.datasets[f"embrace.{name}"]
            for name in ("clean", "timestream_ready", "duplicate_log", "wear_time", "devices", "rejects")
        }
        for name, url in locations.items():
            (statement,) = [s for s in statements if s.source == f"sql/embrace/embrace_{name}.sql"]
            assert f"LOCATION '{url}'" in statement.sql and url.startswith(scheme)
            assert "'projection.enabled'='true'" in statement.sql
            assert f"'storage.location.template'='{url}export=${{export}}/" in statement.sql
        parse_check(statements, spark)
