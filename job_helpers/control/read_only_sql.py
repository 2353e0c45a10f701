"""`make query` reads and never writes, on both profiles: each query is checked before an engine sees it.

The query is parsed with sqlglot in Athena's dialect, the one `make query` takes on both profiles,
and runs only if it is one statement that reads:

* a SELECT (with WITH, UNION/INTERSECT/EXCEPT and subqueries) in which no node is a statement of
  its own (an INSERT in a CTE, a CREATE, a command), no SELECT has an INTO (which creates a table),
  and no function with side effects is called: Spark's ``reflect``, ``java_method`` and
  ``try_reflect`` call any static Java method (``System.exit`` included), Athena's table
  functions (``TABLE(system.query(...))``) hand text to a federated source to run, and DuckDB's
  ``query('…')`` runs text this check never sees;
* DESCRIBE, or SHOW (kept as text by sqlglot; every SHOW of Spark and Athena reads);
* EXPLAIN of a query that passes this check (Athena's EXPLAIN ANALYZE runs it).

Everything else is refused, whatever the engine would make of it: INSERT (also OVERWRITE
DIRECTORY), CREATE (also CTAS and functions), DROP, ALTER, DELETE, UPDATE, MERGE, TRUNCATE, MSCK,
UNLOAD, SET, USE, CACHE, REFRESH, LOAD DATA, ANALYZE, GRANT, transactions, Spark's ADD JAR and
TRANSFORM … USING (a shell command), DuckDB's COPY, ATTACH, INSTALL and LOAD, and text sqlglot does
not parse. Locally DuckDB runs sqlglot's rendering of the checked tree, not the text given, so a
comment cannot hide a second statement (and its settings are locked: see ``local_sql``);
Athena runs one statement per request. ``make ddl`` is the one writer and does not come here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import sqlglot
from sqlglot import exp

from job_helpers.control.ddl import DdlError

READS = "SELECT, WITH, SHOW, DESCRIBE and EXPLAIN"
# Statement nodes wherever they sit in a tree (named, so a sqlglot without one of them still loads).
STATEMENT_NAMES = (
    "DDL DML Command Drop Alter Set Use Cache Uncache Refresh LoadData Transaction Commit Rollback Grant Revoke "
    "Analyze Pragma TruncateTable Kill QueryTransform Describe Show Summarize Declare Execute Attach Detach Install "
    "Export Into"
).split()
STATEMENTS = tuple(getattr(exp, name) for name in STATEMENT_NAMES if hasattr(exp, name))
READ_ROOTS = (exp.Select, exp.SetOperation, exp.Subquery)
WRITER_HINT = " (`make ddl` creates and replaces the tables)"
SIDE_EFFECT_FUNCTIONS = {
    "reflect": "calls a Java method",
    "java_method": "calls a Java method",
    "try_reflect": "calls a Java method",
    "table": "passes text to a federated source as a table function",
    "query": "runs SQL text this check cannot see (the local engine's table function)",
}
EXPLAIN_OPTIONS = re.compile(
    r"^\s*(?:ANALYZE\s+(?:VERBOSE\s+)?|\(\s*(?:FORMAT|TYPE)\b[^)]*\)\s*|(?:EXTENDED|CODEGEN|COST|FORMATTED|LOGICAL)\s+)*",
    re.IGNORECASE,
)


class QueryRefused(DdlError):
    """The query is not a single read; the message says what it would have done."""


def check_read_only(sql: str) -> exp.Expr:
    """The parsed statement if ``sql`` only reads; raises ``QueryRefused`` (``DdlError`` if it does not parse)."""
    statement = parse_one_statement(sql)
    if isinstance(statement, exp.Command):
        keyword = str(statement.this).upper()
        if keyword == "SHOW":
            return statement
        if keyword == "EXPLAIN":
            check_read_only(EXPLAIN_OPTIONS.sub("", str(statement.expression.this if statement.expression else "")))
            return statement
        raise _refused(f"is {_statement(statement)}, not a read", WRITER_HINT)
    if isinstance(statement, exp.Describe):
        _check_nodes(statement, root=statement)
        return statement
    if not isinstance(statement, READ_ROOTS):
        raise _refused(f"is {_statement(statement)}, not a read", WRITER_HINT)
    _check_nodes(statement, root=statement)
    return statement


def parse_one_statement(sql: str) -> exp.Expr:
    """Exactly one statement in Athena's dialect; a parse or tokenizer error names where it failed."""
    try:
        with _quiet_sqlglot():
            statements = [statement for statement in sqlglot.parse(sql, read="athena") if statement is not None]
    except sqlglot.errors.ParseError as error:
        raise DdlError(f"the query does not parse as Athena SQL: {_parse_detail(error)}") from error
    except sqlglot.errors.TokenError as error:
        raise DdlError(f"the query does not parse as Athena SQL: {_token_detail(error)}") from error
    if not statements:
        raise DdlError("the query is empty")
    if len(statements) > 1:
        raise _refused(f"holds {len(statements)} statements: give one")
    return statements[0]


def _check_nodes(tree: exp.Expr, root: exp.Expr) -> None:
    for node in tree.walk():
        if node is not root and isinstance(node, STATEMENTS):
            what = "SELECT … INTO, which creates a table" if isinstance(node, exp.Into) else f"{_statement(node)}, not a read"
            raise _refused(f"contains {what}", WRITER_HINT)
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in SIDE_EFFECT_FUNCTIONS:
                raise _refused(f"calls {name}, which {SIDE_EFFECT_FUNCTIONS[name]}")


def _statement(node: exp.Expr) -> str:
    """``INSERT …``: a statement named by its first keyword as sqlglot writes it back."""
    words = str(node.this).split() if isinstance(node, exp.Command) else node.sql(dialect="athena").split()
    return f"{(words[0] if words else node.key).upper()} …"


def _refused(reason: str, hint: str = "") -> QueryRefused:
    return QueryRefused(f"make query runs reads only ({READS}): this query {reason}{hint}")


def _parse_detail(error: sqlglot.errors.ParseError) -> str:
    if not error.errors:
        return str(error).splitlines()[0]
    first = error.errors[0]
    return f"{first['description']} at line {first['line']}, column {first['col']}"


def _token_detail(error: sqlglot.errors.TokenError) -> str:
    """sqlglot names the text it stopped at; an unclosed quote or comment is the usual cause."""
    return f"{str(error).splitlines()[0]} (is a quote or comment left open?)"


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot logs a warning for each statement it keeps as text (SHOW, EXPLAIN); the check says what matters."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
