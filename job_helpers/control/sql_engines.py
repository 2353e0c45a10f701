"""Where ``ddl`` and ``query`` run their SQL: Athena on aws, the local engine (DuckDB over the lake) locally.

``SqlEngine`` (``apply`` DDL, ``answer`` a query) is to SQL what ``runs.Backend`` is to job runs: the commands call it and never ask
which profile they are in; ``backends.make_sql_engine`` picks the implementation. Both engines
refuse what is not read-only before a query reaches them (``read_only_sql``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from job_helpers.aws import client
from job_helpers.control.config import Settings, refuse_examples
from job_helpers.control.ddl import Statement, query_on_athena, run_on_athena
from job_helpers.control.failures import Failure, UsageError

Say = Callable[[str], None]
Rows = tuple[list[str], list[list[Any]]]


class SqlEngine(Protocol):
    def apply(self, statements: list[Statement], say: Say) -> None:
        """Bring every table to its statement's definition, saying what became of each."""

    def answer(self, sql: str, params: Sequence[str], log: Say | None = None) -> Rows:
        """Run one read-only query; ``params`` fill its ``?`` markers as strings. Returns column names and rows."""


class AthenaEngine:
    """Athena and the Glue catalog of the aws profile; the session is asked for only when SQL is run."""

    def __init__(self, settings: Settings, session: Callable[[], Any]) -> None:
        self.settings = settings
        self.session = session

    def apply(self, statements: list[Statement], say: Say) -> None:
        refuse_examples(self.settings)
        athena = client("athena", self.session())
        glue = client("glue", self.session())

        def done(statement: Statement, outcome: str, changes: list[str]) -> None:
            say(f"{outcome:<10} {statement.source}")
            for change in changes:
                say(f"           {change}")

        run_on_athena(statements, athena, glue, self.settings, done)

    def answer(self, sql: str, params: Sequence[str], log: Say | None = None) -> Rows:
        return query_on_athena(client("athena", self.session()), sql, self.settings, params)


class LocalSqlEngine:
    """DuckDB over the local lake, with the tables ``ddl`` registered under the lake's catalog folder."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def apply(self, statements: list[Statement], say: Say) -> None:
        from job_helpers.control.local_sql import register

        for table in register(statements, self.settings.lake, self.settings.athena_database):
            say(f"REGISTERED {table.source} as {table.database}.{table.name}")

    def answer(self, sql: str, params: Sequence[str], log: Say | None = None) -> Rows:
        """DuckDB's errors: a query it cannot bind is the user's to fix (2), one that fails while it runs is a failure (1)."""
        import duckdb

        from job_helpers.control.local_sql import run_query

        try:
            return run_query(sql, self.settings.lake, self.settings.athena_database, params, log=log)
        except (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException, duckdb.InvalidInputException) as error:
            hint = "; make ddl registers the tables of sql/ (SHOW TABLES lists them)" if "Table with name" in str(error) else ""
            raise UsageError(f"the query failed: {_first_line(error)}{hint}") from error
        except duckdb.Error as error:
            raise Failure(f"the query failed while running: {_first_line(error)}") from error


def _first_line(error: Exception) -> str:
    return next((line.strip() for line in str(error).split("\n") if line.strip()), type(error).__name__)
