"""`make query` and `make ddl` on the local profile, from the command line (process start included), against their floors.

Builds a lake with generated STEDI landing data (500 customers) and a month of day (and hour)
partitions in every projected table, then times, in rounds that interleave the sides:

* ours: ``python -m job_helpers ddl`` and ``python -m job_helpers query --json --sql …`` as a user
  runs them (the count on the JSON landing table, and on a Parquet table of 30 partitions);
* the floor: a bare ``python -c 'import duckdb; …'`` process counting the same files;
* the engine before (Spark SQL on a Hive metastore, kept as the tests' reference in
  ``tests/support/spark_sql_reference.py``): registering the tables, then the same count, each in a
  process of its own (``--no-spark`` leaves it out).

Three rounds; min and median of each side's wall time, and of its CPU time (user + system of the
process and the children it waits for), which a busy machine stretches far less; Spark's CPU is not
shown, as its JVM is not waited for by the process that starts it. Targets on an idle 2-core
machine: query ≤ 2 s, ddl ≤ 3 s (wall). Human lines first, one JSON object last, with the ratio of
the Spark engine's median to ours for each command.

    JAVA_HOME=... .venv/bin/python benchmarks/local_query.py [--rounds 3] [--no-spark]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from job_helpers.control.config import load_settings  # noqa: E402
from job_helpers.control.ddl import render_statements  # noqa: E402
from job_helpers.control.local_tables import local_table  # noqa: E402
from job_helpers.control.table_definition import from_ddl  # noqa: E402
from job_helpers.stedi.sample_data import write_stedi_landing  # noqa: E402
from job_helpers.storage import Storage, local_path  # noqa: E402

QUERIES = {"json": "customer_landing", "parquet": "step_trainer_trusted"}
DAYS = 30
TARGETS = {"query": 2.0, "ddl": 3.0}
FLOOR = textwrap.dedent(
    """
    import sys, duckdb
    kind, folder = sys.argv[1], sys.argv[2]
    scan = (f"read_parquet('{folder}/*/*.parquet')" if kind == "parquet"
            else f"read_json_objects('{folder}/*', format='newline_delimited', ignore_errors=true)")
    print(duckdb.sql(f"SELECT count(*) FROM {scan}").fetchall()[0][0])
    """
)
SPARK = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tests.support import spark_sql_reference as reference
    from job_helpers.control.config import load_settings
    from job_helpers.control.ddl import render_statements

    lake, what = Path(sys.argv[2]), sys.argv[3]
    settings = load_settings(Path(sys.argv[1]) / "config.yml", "local", environ={"LAKE_ROOT": str(lake)})
    spark = reference.sql_session(lake)
    if what == "ddl":
        statements = list(render_statements(Path(sys.argv[1]) / "sql", settings))
        reference.parse_check(statements, spark)
        reference.register(spark, statements, settings.athena_database)
    else:
        print(reference.run_query(spark, what, settings.athena_database)[1][0][0])
    """
)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system, the process and its children) and standard output of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])}… failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu, done.stdout


def fill_partitions(settings) -> int:
    """A small Parquet file in each of a month of day (and hour) partitions of every projected table."""
    projected = 0
    for statement in render_statements(REPO / "sql", settings):
        definition = from_ddl(statement.sql)
        table = local_table(statement.source, statement.sql, definition)
        if definition.properties.get("projection.enabled") != "true" or table.kind != "parquet":
            continue
        projected += 1
        keys = [level.key for level in table.folders]
        for day in range(1, DAYS + 1):
            for hour in range(24 if "hour" in keys else 1):
                values = {"hour": f"{hour:02d}", "export": "E1", "stream": "acc"}
                folder = local_path(table.location).joinpath(
                    *(f"{level.prefix}{values.get(level.key, f'2024-03-{day:02d}')}{level.suffix}" for level in table.folders)
                )
                folder.mkdir(parents=True, exist_ok=True)
                pq.write_table(pa.table({"n": [day]}), folder / "part-0.parquet")
    return projected


def summary(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 2), "median": round(statistics.median(values), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-spark", action="store_true", help="leave out the Spark engine (it takes 20-40 s a round)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="query-bench-") as scratch:
        lake = Path(scratch) / "lake"
        settings = load_settings(REPO / "config.yml", "local", [], environ={"LAKE_ROOT": str(lake)})
        urls = {name: settings.datasets[f"stedi.{name}_landing"] for name in ("customer", "accelerometer", "step_trainer")}
        write_stedi_landing(Storage(), urls, customers=500, seed=7)
        projected = fill_partitions(settings)
        env = {**os.environ, "LAKE_ROOT": str(lake), "PYTHONPATH": str(REPO)}
        cli = [sys.executable, "-m", "job_helpers", "--profile=local"]
        folders = {
            "json": str(local_path(urls["customer"])).rstrip("/"),
            "parquet": str(local_path(settings.datasets["stedi.step_trainer_trusted"])).rstrip("/"),
        }
        times: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}
        answers: dict[str, set[str]] = {}

        def record(side: str, seconds: float, cpu_seconds: float, answer: str = "") -> None:
            times.setdefault(side, []).append(seconds)
            cpu.setdefault(side, []).append(cpu_seconds)
            if answer:
                answers.setdefault(side.split(" ")[-1], set()).add(answer.strip())

        for _ in range(options.rounds):
            record("ours ddl", *timed([*cli, "ddl"], env)[:2])
            for kind, table in QUERIES.items():
                seconds, cpu_seconds, out = timed([*cli, "query", "--json", "--sql", f"SELECT count(*) FROM {table}"], env)
                record(f"ours query {kind}", seconds, cpu_seconds, str(json.loads(out)["rows"][0][0]))
                record(f"duckdb floor {kind}", *timed([sys.executable, "-c", FLOOR, kind, folders[kind]], env))
            if not options.no_spark:
                spark_cli = [sys.executable, "-c", SPARK, str(REPO), str(lake)]
                record("spark ddl", *timed([*spark_cli, "ddl"], env)[:2])
                for kind, table in QUERIES.items():
                    record(f"spark query {kind}", *timed([*spark_cli, f"SELECT count(*) FROM {table}"], env))
    different = {kind: sorted(values) for kind, values in answers.items() if len(values) != 1}
    if different:
        raise SystemExit(f"the sides counted differently: {different}")
    results = {side: summary(values) for side, values in sorted(times.items())}
    cpu_results = {side: summary(values) for side, values in sorted(cpu.items()) if not side.startswith("spark")}
    for side, result in results.items():
        cpu_text = (
            f"CPU min {cpu_results[side]['min']:>6.2f} s  median {cpu_results[side]['median']:>6.2f} s"
            if side in cpu_results
            else "CPU not measured (the JVM is not waited for)"
        )
        print(f"{side:<26} wall min {result['min']:>6.2f} s  median {result['median']:>6.2f} s   {cpu_text}")
    commands = ["ddl", *(f"query {kind}" for kind in QUERIES)]
    spark_to_ours = (
        {}
        if options.no_spark
        else {
            command: round(results[f"spark {command}"]["median"] / results[f"ours {command}"]["median"], 1)
            for command in commands
        }
    )
    if spark_to_ours:
        print("Spark engine / ours (median): " + ", ".join(f"{command} {ratio}x" for command, ratio in spark_to_ours.items()))
    print(f"counts: { ({kind: next(iter(values)) for kind, values in answers.items()}) }; {projected} projected Parquet tables")
    met = {
        "query": all(results[f"ours query {kind}"]["median"] <= TARGETS["query"] for kind in QUERIES),
        "ddl": results["ours ddl"]["median"] <= TARGETS["ddl"],
    }
    load = os.getloadavg()[0]
    print(
        f"targets (median): query <= {TARGETS['query']} s {met['query']}, ddl <= {TARGETS['ddl']} s {met['ddl']}; load {load:.1f}"
    )
    print(
        json.dumps(
            {
                "benchmark": "local_query",
                "rounds": options.rounds,
                "seconds": results,
                "cpu_seconds": cpu_results,
                "ratio_spark_to_ours": spark_to_ours,
                "ratio_query_json_to_floor": round(
                    results["ours query json"]["median"] / results["duckdb floor json"]["median"], 1
                ),
                "targets_s": TARGETS,
                "targets_met": met,
                "load_average_1min": round(load, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
