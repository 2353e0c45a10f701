"""`make query` on the local profile: a count on a small table, start-up included, against the old refresh-everything way.

Builds a lake with generated STEDI landing data (500 customers) and a month of hourly partitions
in every projected table, registers the tables (`ddl`), then times the whole command
`python -m job_helpers query --sql "SELECT count(*) FROM customer_landing"` as a user runs it.
Inside one session it also times what a query spends recovering partitions: only the tables the
query names (ours) against every projected table of the database (the baseline, what each query
did before). Target on an idle 2-core machine: the command under 10 s. Human lines first, one JSON
object last.

    JAVA_HOME=... .venv/bin/python benchmarks/local_query.py
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from job_helpers.control.config import load_settings  # noqa: E402
from job_helpers.control.ddl import render_statements  # noqa: E402
from job_helpers.control.local_sql import query_tables, refresh_projected, sql_session, translate_ddl  # noqa: E402
from job_helpers.stedi.sample_data import write_stedi_landing  # noqa: E402
from job_helpers.storage import Storage, local_path  # noqa: E402

QUERY = "SELECT count(*) FROM customer_landing"
DAYS = 30
TARGET_SECONDS = 10.0


def cli(lake: Path, *args: str) -> tuple[float, str]:
    env = {**os.environ, "LAKE_ROOT": str(lake), "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "job_helpers", "--profile=local", *args], cwd=REPO, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout


def fill_partitions(settings) -> list[str]:
    """A small Parquet file in each of a month of day (and hour) partitions of every projected table."""
    projected = []
    for statement in render_statements(REPO / "sql", settings):
        local = translate_ddl(statement)
        if not local.projected:
            continue
        projected.append(local.table.split(".")[-1].strip("`"))
        keys = [k.strip(" `") for k in re.search(r"PARTITIONED BY \(([^)]*)\)", local.sql).group(1).split(",")]
        for day in range(1, DAYS + 1):
            for hour in range(24 if "hour" in keys else 1):
                values = {"hour": f"{hour:02d}"}
                parts = [f"{key}={values.get(key, f'2024-03-{day:02d}')}" for key in keys]
                folder = local_path(local.location.rstrip("/") + "/" + "/".join(parts))
                folder.mkdir(parents=True, exist_ok=True)
                pq.write_table(pa.table({"n": [day]}), folder / "part-0.parquet")
    return projected


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="query-bench-") as scratch:
        lake = Path(scratch) / "lake"
        settings = load_settings(REPO / "config.yml", "local", [], environ={"LAKE_ROOT": str(lake)})
        urls = {name: settings.datasets[f"stedi.{name}_landing"] for name in ("customer", "accelerometer", "step_trainer")}
        write_stedi_landing(Storage(), urls, customers=500, seed=7)
        projected = fill_partitions(settings)
        ddl_seconds, _ = cli(lake, "ddl")
        database = settings.athena_database
        command_seconds, answer = cli(lake, "query", "--json", "--sql", QUERY)
        spark = sql_session(lake, "query-benchmark")
        spark.catalog.setCurrentDatabase(database)
        refresh_projected(spark, database, query_tables(QUERY, database))  # warm-up, not timed
        started = time.perf_counter()
        refresh_projected(spark, database, query_tables(QUERY, database))
        named_seconds = time.perf_counter() - started
        started = time.perf_counter()
        refresh_projected(spark, database, projected)
        all_seconds = time.perf_counter() - started
        spark.stop()
    rows = json.loads(answer)["rows"]
    print(f"ddl {ddl_seconds:.1f}s; {len(projected)} projected tables with {DAYS} days of partitions")
    print(f"make query '{QUERY}': {command_seconds:.1f}s (target < {TARGET_SECONDS:.0f}s), answer {rows}")
    print(f"partition recovery per query: named tables {named_seconds:.2f}s, every projected table {all_seconds:.2f}s")
    print(
        json.dumps(
            {
                "benchmark": "local_query",
                "query_command_s": round(command_seconds, 2),
                "refresh_named_s": round(named_seconds, 2),
                "baseline_refresh_all_s": round(all_seconds, 2),
                "projected_tables": len(projected),
                "target_s": TARGET_SECONDS,
                "target_met": command_seconds < TARGET_SECONDS,
            }
        )
    )


if __name__ == "__main__":
    main()
