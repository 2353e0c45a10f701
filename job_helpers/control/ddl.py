"""Athena DDL in sql/: rendered from config, applied to Athena and the Glue catalog (``local_sql`` registers it locally)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from job_helpers.backoff import Backoff, DeadlinePassed, Pending, poll
from job_helpers.control.config import Settings, render_references
from job_helpers.control.table_definition import (
    DefinitionError,
    TableDefinition,
    differences,
    from_catalog,
    from_ddl,
    table_input,
)
from job_helpers.datasets import registered

log = logging.getLogger(__name__)

ENDED_QUERY_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
QUERY_POLL = Backoff(base=0.2, cap=5.0)
QUERY_TIMEOUT_SECONDS = 30 * 60
STATEMENT_END = re.compile(r";\s*$", re.MULTILINE)


class DdlError(Exception):
    """A DDL statement failed to render, parse or run; the message names its file."""


@dataclass(frozen=True)
class Statement:
    source: str
    sql: str


QUERY_FOLDERS = ("queries", "checks")


def ddl_files(sql_dir: Path) -> list[Path]:
    """Every DDL file, in a stable order; named queries (sql/**/queries/, sql/**/checks/) are not DDL."""
    return sorted(path for path in sql_dir.rglob("*.sql") if not set(QUERY_FOLDERS) & set(path.relative_to(sql_dir).parts))


def template_values(settings: Settings) -> dict[str, str]:
    """Every ``{name}`` a SQL file may use: data set URLs, ``{database}`` and what each data set adds (its ``sql_values``)."""
    values = {**settings.datasets, "database": settings.athena_database}
    for dataset in registered():
        if dataset.sql_values:
            values.update(dataset.sql_values(settings.section(dataset.name)))
    return values


def render_statements(sql_dir: Path, settings: Settings) -> Iterator[Statement]:
    values = template_values(settings)
    for path in ddl_files(sql_dir):
        source = path.relative_to(sql_dir.parent).as_posix()
        try:
            text = render_references(path.read_text(encoding="utf-8"), values)
        except Exception as error:
            raise DdlError(f"{source}: {error}") from error
        for chunk in STATEMENT_END.split(_strip_comments(text)):
            if chunk.strip():
                yield Statement(source, chunk.strip())


def _strip_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


def run_on_athena(
    statements: list[Statement],
    athena: Any,
    glue: Any,
    settings: Settings,
    on_done: Callable[[Statement, str, list[str]], None] = lambda statement, outcome, changes: None,
) -> None:
    """Create the database, then bring each table in the Glue catalog to its DDL's definition.

    A missing table is created by Athena; one whose definition differs (columns, partition keys,
    location, SerDe and formats, the properties the DDL sets) is replaced in one Glue
    ``UpdateTable``, which is atomic and keeps the table's Lake Formation grants and its earlier
    versions: a replace that fails leaves the old table as it was (a DROP then CREATE would leave
    none). An unchanged table is left alone. ``on_done`` gets each statement with ``CREATED``,
    ``REPLACED`` (and what changed) or ``UNCHANGED``.
    """
    database = Statement("(database)", f"CREATE DATABASE IF NOT EXISTS `{settings.athena_database}`")
    _run_query(athena, settings, database)
    on_done(database, "SUCCEEDED", [])
    for statement in statements:
        try:
            wanted = from_ddl(statement.sql)
        except DefinitionError as error:
            raise DdlError(f"{statement.source}: {error}") from error
        held = _catalog_table(glue, wanted.database, wanted.name, statement.source)
        if held is None:
            _run_query(athena, settings, statement)
            on_done(statement, "CREATED", [])
            continue
        changes = differences(wanted, from_catalog(held))
        if changes:
            _replace_table(glue, wanted, statement.source)
        on_done(statement, "REPLACED" if changes else "UNCHANGED", changes)


def _replace_table(glue: Any, wanted: TableDefinition, source: str) -> None:
    try:
        glue.update_table(DatabaseName=wanted.database, TableInput=table_input(wanted))
    except ClientError as error:
        raise DdlError(
            f"{source}: the Glue catalog refused to update {wanted.database}.{wanted.name} ({error}); the table is left as it was"
        ) from error


def _catalog_table(glue: Any, database: str, name: str, source: str) -> dict | None:
    try:
        return glue.get_table(DatabaseName=database, Name=name)["Table"]
    except glue.exceptions.EntityNotFoundException:
        return None
    except ClientError as error:
        raise DdlError(f"{source}: cannot read {database}.{name} from the Glue catalog: {error}") from error


def _run_query(athena: Any, settings: Settings, statement: Statement) -> None:
    query_id = athena.start_query_execution(
        QueryString=statement.sql,
        WorkGroup=settings.athena_workgroup,
        ResultConfiguration={"OutputLocation": settings.datasets["athena_results"]},
    )["QueryExecutionId"]
    status = _wait_for_query(athena, query_id)
    if status["State"] != "SUCCEEDED":
        reason = status.get("StateChangeReason", "no reason given")
        raise DdlError(f"{statement.source}: Athena query {query_id} {status['State']}: {reason}")


def _string_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _wait_for_query(athena: Any, query_id: str) -> dict:
    """The query's final status; DdlError if it has not ended within QUERY_TIMEOUT_SECONDS.

    A query this command gives up on, at its deadline or on Ctrl-C, is stopped: Athena would
    otherwise go on running (and billing) it.
    """
    state = "QUEUED"

    def check() -> dict | Pending:
        nonlocal state
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        state = status["State"]
        return status if state in ENDED_QUERY_STATES else Pending()

    try:
        return poll(check, QUERY_POLL, deadline=time.monotonic() + QUERY_TIMEOUT_SECONDS)
    except DeadlinePassed as error:
        athena.stop_query_execution(QueryExecutionId=query_id)
        raise DdlError(
            f"Athena query {query_id} was still {state} after {QUERY_TIMEOUT_SECONDS // 60} minutes; it was stopped"
        ) from error
    except KeyboardInterrupt:
        athena.stop_query_execution(QueryExecutionId=query_id)
        raise


def query_on_athena(
    athena: Any, sql: str, settings: Settings, params: Sequence[str] = ()
) -> tuple[list[str], list[list[str | None]]]:
    """Run one query in the configured database and return its column names and rows (every page).

    ``params`` fill the query's ``?`` markers as string literals, as Spark binds them locally. Only a
    read is sent (``read_only_sql``); ``make ddl`` runs its statements through ``run_on_athena``.
    """
    from job_helpers.control.read_only_sql import check_read_only  # it builds on this module's DdlError

    check_read_only(sql)
    execution_parameters = {"ExecutionParameters": [_string_literal(p) for p in params]} if params else {}
    query_id = athena.start_query_execution(
        QueryString=sql,
        **execution_parameters,
        QueryExecutionContext={"Database": settings.athena_database},
        WorkGroup=settings.athena_workgroup,
        ResultConfiguration={"OutputLocation": settings.datasets["athena_results"]},
    )["QueryExecutionId"]
    status = _wait_for_query(athena, query_id)
    if status["State"] != "SUCCEEDED":
        raise DdlError(f"Athena query {query_id} {status['State']}: {status.get('StateChangeReason', 'no reason given')}")
    columns: list[str] = []
    rows: list[list[str | None]] = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
        result = page["ResultSet"]
        if not columns:
            columns = [c["Name"] for c in result.get("ResultSetMetadata", {}).get("ColumnInfo", [])]
        rows.extend([cell.get("VarCharValue") for cell in row["Data"]] for row in result.get("Rows", []))
    if rows and rows[0] == columns:
        rows = rows[1:]
    return columns, rows
