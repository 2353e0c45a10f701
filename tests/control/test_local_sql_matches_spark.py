"""The local engine (DuckDB) gives what the engine before it (Spark SQL on a Hive metastore) gives, table by table.

On one lake of sample data, written by the sample-data writers and the real jobs (every table of
sql/ has rows), both engines register the DDL of sql/ and answer the same requests: every table's
``SELECT *``, every ``make query`` example of the README and every named query of
``sql/**/queries`` and ``sql/**/checks``. Spark's answers are recorded in this run by
``tests/support/spark_sql_reference.py`` in a process of its own (Hive SerDe tables need a Hive-enabled
session), so nothing here is a number written down. Rows are compared as multisets (in order when
the query sorts), column names where the query names them, doubles to 12 significant digits
(sums and averages add in another order).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlglot import exp

from job_helpers.control.config import load_settings, pipeline_spec
from job_helpers.control.ddl import QUERY_FOLDERS, ddl_files, render_statements
from job_helpers.control.local_sql import register, run_query
from job_helpers.control.pipeline import LocalRunner, job_argv, load_script, run_jobs
from job_helpers.control.read_only_sql import parse_one_statement
from job_helpers.control.table_definition import from_ddl
from job_helpers.embrace.archives import HEADERS
from job_helpers.embrace.sample_data import write_embrace_sample
from job_helpers.sensors.sample_data import write_sensor_sample
from job_helpers.sitewise.sample_data import write_cold_tier
from job_helpers.stedi.sample_data import write_stedi_landing
from job_helpers.storage import Storage, local_path
from tests.support.spark_sql_reference import comparable

REPO = Path(__file__).resolve().parents[2]
SQL = REPO / "sql"
DAY = date(2024, 3, 1)
# The values of each named query's ? markers, in order: a query with markers and no entry fails the test.
QUERY_PARAMS = {"sql/sensors/queries/hourly_customer_temperature.sql": [DAY.isoformat(), DAY.isoformat()]}
README_EXAMPLE = re.compile(r"make query[^\n\"]*? sql=\"([^\"]+)\"")


def table_names() -> list[str]:
    return sorted(path.stem for path in ddl_files(SQL))


def named_queries() -> list[str]:
    return sorted(path.relative_to(REPO).as_posix() for path in SQL.rglob("*.sql") if set(QUERY_FOLDERS) & set(path.parts))


def readme_examples() -> list[str]:
    return sorted(set(README_EXAMPLE.findall((REPO / "README.md").read_text(encoding="utf-8"))))


def query_text(path: str, database: str) -> str:
    """The query as ``make query file=`` sends it: comment lines out, ``{database}`` filled in."""
    text = (REPO / path).read_text(encoding="utf-8")
    body = "\n".join(line for line in text.split("\n") if not line.lstrip().startswith("--")).strip().rstrip(";")
    return body.replace("{database}", database)


def requests(database: str) -> list[dict[str, Any]]:
    every = [{"name": f"table {name}", "sql": f'SELECT * FROM "{database}"."{name}"', "params": []} for name in table_names()]
    every += [{"name": f"readme {sql}", "sql": sql, "params": []} for sql in readme_examples()]
    for path in named_queries():
        sql = query_text(path, database)
        if "?" in sql:
            assert path in QUERY_PARAMS, f"{path} has ? markers: give their values in QUERY_PARAMS"
        every.append({"name": f"query {path}", "sql": sql, "params": QUERY_PARAMS.get(path, [])})
    return every


def run_job(settings: Any, key: str, first: date, last: date) -> None:
    job = settings.job(key)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JOB_HELPERS_RUNTIME", "local")
        load_script(REPO / job.script).main([*job_argv(job), "--from-date", first.isoformat(), "--to-date", last.isoformat()])


@pytest.fixture(scope="module")
def sample_lake(spark, tmp_path_factory) -> tuple[Path, Any]:
    """Every data set's sample data and what its jobs write from it, small."""
    lake = tmp_path_factory.mktemp("sample-lake")
    key_file = lake.parent / f"{lake.name}.key"
    key_file.write_bytes(b"k" * 32)
    key_file.chmod(0o600)
    settings = load_settings(
        REPO / "config.yml", "local", [f"stedi.pseudonym_key_file={key_file}"], environ={"LAKE_ROOT": str(lake)}
    )
    storage, datasets = Storage(), settings.datasets
    landings = {name: datasets[f"stedi.{name}_landing"] for name in ("customer", "accelerometer", "step_trainer")}
    write_stedi_landing(storage, landings, customers=100, seed=3)
    result = run_jobs(settings, pipeline_spec(settings, "stedi"), LocalRunner(REPO), storage)
    assert result.succeeded, [(o.job, o.state, o.error) for o in result.outcomes]
    write_sensor_sample(storage, datasets, DAY, days=1, seed=3, sensors=4, hours_per_day=2)
    run_job(settings, "sensor_timeseries_export", DAY, DAY)
    write_embrace_sample(storage, datasets["embrace.landing"], start=DAY, days=2, seconds_per_day=20, seed=3)
    run_job(settings, "embrace_dedupe", DAY, date(2024, 3, 31))
    write_refused_lines(local_path(datasets["embrace.landing"]))
    run_job(settings, "embrace_dedupe", DAY, date(2024, 3, 31))
    write_cold_tier(storage, datasets["sitewise.cold_tier"], DAY, days=2, series=6, records_per_file=20, seed=3)
    run_job(settings, "sitewise_repartition", DAY, date(2024, 3, 2))
    write_hostile_files(datasets)
    return lake, settings


def write_refused_lines(landing: Path) -> None:
    """An export with a line the job rejects and a member it refuses, so the rejects table has rows."""
    first = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)
    with zipfile.ZipFile(landing / "Sensors_U03_ALLSITES_20240301_20240331.zip", "w") as archive:
        archive.writestr("U03/FC/096/DEV1/eda.csv", f"{','.join(HEADERS['eda'])}\n{first},0.5\n{first + 250},abc\n")
        archive.writestr("U03/FC/../DEV1/temp.csv", f"{','.join(HEADERS['temp'])}\n{first},30.5\n")


def write_hostile_files(datasets: dict[str, str]) -> None:
    """Lines and files both engines must read alike, beside the jobs' own: the class, not only the sample's cases."""
    landing = local_path(datasets["stedi.customer_landing"])
    (landing / "hostile.json").write_text(
        "\n".join(
            [
                '{"customerName": "Ok", "email": "ok@x.org", "registrationDate": 1655424000000}',
                "not json at all",
                "",
                "   ",
                '{"customerName": "Types", "registrationDate": "12", "lastUpdateDate": 1.5, "serialNumber": 42}',
                '{"customerName": {"nested": [1, 2]}, "phone": true, "email": null, "birthDay": "1999-01-01"}',
                '{"EMAIL": "other@case.org", "customerName": "Case"}',
                "[1, 2]",
                '"just a string"',
                '{"customerName": "Ünïcode ✓", "shareWithResearchAsOfDate": 99999999999999999999}',
                '{"customerName": "crlf"}\r',
                '{"customerName": "cut", "email": ',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    (landing / "empty.json").write_text("", encoding="utf-8")
    (landing / "_staging").mkdir(exist_ok=True)
    (landing / "_staging" / "skipped.json").write_text('{"customerName": "staged"}\n', encoding="utf-8")
    (landing / ".hidden.json").write_text('{"customerName": "hidden"}\n', encoding="utf-8")
    mapping = local_path(datasets["sensors.sensor_mapping"])
    (mapping / "more.csv").write_text(
        'sensor_id,customer_id\n"sensor-x, quoted",2001\nsensor-empty,\n"say ""hi""",2002\nsensor-short\n', encoding="utf-8"
    )
    ready = local_path(datasets["embrace.timestream_ready"])
    folder = next(path for path in sorted(ready.glob("eda/*")) if path.is_dir())
    (folder / "hostile.csv").write_text(
        "time,ppt_id,dev_id,x\n1,p,d,0.5\n2,p,d,\n3,p,d,abc\n\\N,\\N,d,1\n4,p\n5,p,d,1,2,3,4\n\n6,p,d,7\r\n", encoding="utf-8"
    )


@pytest.fixture(scope="module")
def answers(sample_lake, tmp_path_factory) -> tuple[dict[str, Any], dict[str, Any]]:
    """Spark's answers (recorded now, in a process of its own) and ours, by request name."""
    lake, settings = sample_lake
    database = settings.athena_database
    asked = requests(database)
    scratch = tmp_path_factory.mktemp("reference")
    (scratch / "requests.json").write_text(json.dumps(asked), encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.spark_sql_reference",
            str(lake),
            str(scratch / "requests.json"),
            str(scratch / "answers.json"),
        ],
        cwd=REPO,
        env={**os.environ, "TZ": "UTC", "PYSPARK_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    theirs = json.loads((scratch / "answers.json").read_text(encoding="utf-8"))
    register(render_statements(SQL, settings), lake, database)
    ours = {}
    for request in asked:
        columns, rows = run_query(request["sql"], lake, database, request["params"])
        ours[request["name"]] = {"columns": columns, "rows": comparable(rows)}
    return theirs, ours


def request_names() -> list[str]:
    return [request["name"] for request in requests("db")]


def named_columns(sql: str) -> list[str | None]:
    """The output names a query gives itself (aliases, columns); None where each engine makes one up (``count(*)``)."""
    statement = parse_one_statement(sql)
    select = statement if isinstance(statement, exp.Select) else statement.find(exp.Select)
    if select is None or any(isinstance(e, exp.Star) for e in select.expressions):
        return []
    return [e.alias_or_name if isinstance(e, exp.Alias | exp.Column) else None for e in select.expressions]


def without_header_lines(name: str, theirs: dict[str, Any], settings: Any) -> list[list[Any]]:
    """Spark's rows less the header line of each file of a table with ``skip.header.line.count``.

    Spark ignored that property: the engine before DuckDB showed each CSV file's header as a row,
    Athena skips it and so does the local engine now. A header row is the one whose text columns
    hold their own names; there must be one per file.
    """
    rows = theirs["rows"]
    if not name.startswith("table "):
        return rows
    statement = next(s for s in render_statements(SQL, settings) if s.source.endswith(f"/{name[len('table ') :]}.sql"))
    definition = from_ddl(statement.sql)
    if definition.properties.get("skip.header.line.count") != "1":
        return rows
    named = [index for index, (_, kind) in enumerate(definition.columns) if kind == "string"]
    columns = [column.lower() for column in theirs["columns"]]

    def header(row: list[Any]) -> bool:
        return all(str(row[index]).lower() == columns[index] for index in named)

    root = local_path(definition.location)
    files = [
        p for p in root.rglob("*") if p.is_file() and p.stat().st_size and not re.search(r"(^|/)[_.]", str(p.relative_to(root)))
    ]
    kept = [row for row in rows if not header(row)]
    assert len(rows) - len(kept) == len(files), f"{len(rows) - len(kept)} header rows in Spark's answer, {len(files)} files"
    return kept


def sort_key(row: list[Any]) -> tuple:
    return tuple((value is None, f"{value:.12g}" if isinstance(value, float) else str(value)) for value in row)


def same(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, float) and isinstance(theirs, float):
        return math.isclose(ours, theirs, rel_tol=1e-12) or (math.isnan(ours) and math.isnan(theirs))
    return ours == theirs and type(ours) is type(theirs)


@pytest.mark.parametrize("name", request_names())
def test_the_local_engine_answers_as_spark_did(answers, sample_lake, name):
    theirs, ours = answers[0][name], answers[1][name]
    assert "error" not in theirs, f"Spark failed: {theirs.get('error')}"
    _, settings = sample_lake
    sql = next(r["sql"] for r in requests(settings.athena_database) if r["name"] == name)
    expected = named_columns(sql) or theirs["columns"]
    assert len(ours["columns"]) == len(theirs["columns"])
    assert [n for n, e in zip(ours["columns"], expected) if e is not None] == [e for e in expected if e is not None]
    ordered = isinstance(parse_one_statement(sql), exp.Select) and parse_one_statement(sql).args.get("order")
    mine, reference = ours["rows"], without_header_lines(name, theirs, settings)
    if not ordered:
        mine, reference = sorted(mine, key=sort_key), sorted(reference, key=sort_key)
    assert len(mine) == len(reference), f"{len(mine)} rows, Spark {len(reference)}"
    differing = [
        (index, row, other)
        for index, (row, other) in enumerate(zip(mine, reference))
        if len(row) != len(other) or not all(same(a, b) for a, b in zip(row, other))
    ]
    assert not differing, f"{len(differing)} row(s) differ; first (index, ours, Spark's): {differing[0]}"


def test_every_table_has_rows_to_compare(answers):
    """A table both engines read as empty would prove nothing."""
    _, ours = answers
    empty = [name for name in request_names() if name.startswith("table ") and not ours[name]["rows"]]
    assert not empty, f"no sample rows in {empty}: have the fixture write some"
