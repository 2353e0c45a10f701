"""Athena DDL in sql/: rendered from config, run on Athena, or parse-checked locally by Spark's SQL parser."""

from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from job_helpers.control.config import Settings, render_references

log = logging.getLogger(__name__)

ENDED_QUERY_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
STATEMENT_END = re.compile(r";\s*$", re.MULTILINE)


class DdlError(Exception):
    """A DDL statement failed to render, parse or run; the message names its file."""


@dataclass(frozen=True)
class Statement:
    source: str
    sql: str


def ddl_files(sql_dir: Path) -> list[Path]:
    """Every DDL file, in a stable order; named queries (sql/**/queries/) are not DDL."""
    return sorted(path for path in sql_dir.rglob("*.sql") if "queries" not in path.relative_to(sql_dir).parts)


def render_statements(sql_dir: Path, settings: Settings) -> Iterator[Statement]:
    values = {**settings.datasets, "database": settings.athena_database}
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


def parse_check(statements: list[Statement], spark: Any) -> None:
    """Parse each statement with Spark's SQL parser (Hive DDL grammar) without running it."""
    parser = spark._jsparkSession.sessionState().sqlParser()
    for statement in statements:
        try:
            parser.parsePlan(statement.sql)
        except Exception as error:
            message = str(error).strip().splitlines()[0]
            raise DdlError(f"{statement.source}: does not parse: {message}") from error


def run_on_athena(
    statements: list[Statement],
    athena: Any,
    settings: Settings,
    on_done: Callable[[Statement, str], None] = lambda statement, state: None,
) -> None:
    """Create the database, then run each statement and wait for it, backing off with jitter."""
    output = settings.datasets["athena_results"]
    database = Statement("(database)", f"CREATE DATABASE IF NOT EXISTS `{settings.athena_database}`")
    for statement in [database, *statements]:
        query_id = athena.start_query_execution(
            QueryString=statement.sql,
            WorkGroup=settings.athena_workgroup,
            ResultConfiguration={"OutputLocation": output},
        )["QueryExecutionId"]
        status = _wait_for_query(athena, query_id)
        if status["State"] != "SUCCEEDED":
            reason = status.get("StateChangeReason", "no reason given")
            raise DdlError(f"{statement.source}: Athena query {query_id} {status['State']}: {reason}")
        on_done(statement, status["State"])


def _wait_for_query(athena: Any, query_id: str, max_delay: float = 5.0) -> dict:
    delay = 0.2
    while True:
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] in ENDED_QUERY_STATES:
            return status
        time.sleep(random.uniform(0, delay))
        delay = min(max_delay, delay * 2)
