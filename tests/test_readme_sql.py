"""Every SQL example in the README runs on Athena (issue 19 §2: its embrace_duplicate_log example did not).

An example is a ```sql block, or a ``make query`` (or ``python -m job_helpers query``) line in any
code block, fenced or indented, with ``sql="…"``/``--sql "…"`` or ``file=…``/``--file …``; a
synopsis in running text (``make query sql='…'``) is no example. Each is read as ``make query``
reads it (``query_cmd.query_text``: comment lines dropped, ``{database}`` and data set names filled
in for the aws profile) and checked as Athena would take it:

* it parses in Athena's dialect and only reads (``read_only_sql.check_read_only``, sqlglot);
* every table it names is one of ``sql/``'s DDL, and every column one of that table's (sqlglot's
  qualify, with identifiers compared case-insensitively, as Athena and the Glue catalog do);
* a table whose partition projection has an ``injected`` column (found in the DDL's
  TBLPROPERTIES, not listed here) is filtered on it as Athena requires: "the WHERE clause must
  contain only static equality conditions, and at least one such condition must be present"
  (CONSTRAINT_VIOLATION otherwise; docs.aws.amazon.com/athena/latest/ug/partition-projection-dynamic-id-partitioning.html).
  A static value is a literal, a ``?`` parameter, or an expression of them.
"""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from markdown_it import MarkdownIt
from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope

from job_helpers.control.commands.query_cmd import query_text
from job_helpers.control.config import load_settings
from job_helpers.control.ddl import DdlError, render_statements
from job_helpers.control.read_only_sql import check_read_only
from job_helpers.control.table_definition import TableDefinition, from_ddl

REPO = Path(__file__).resolve().parent.parent
QUERY_COMMAND = re.compile(r"(?:\bmake\s+query|\bjob_helpers\s+query)\b(?P<arguments>.*)")


@dataclass(frozen=True)
class Example:
    where: str  # README.md:<line>
    sql: str | None
    file: str | None


def examples(markdown: str, source: str = "README.md") -> list[Example]:
    """The SQL examples of a Markdown text: ```sql blocks, and query commands in code blocks."""
    found = []
    for token in MarkdownIt().parse(markdown):
        if token.type not in ("fence", "code_block") or token.map is None:
            continue
        first_line = token.map[0] + (2 if token.type == "fence" else 1)
        if token.type == "fence" and token.info.strip().lower() == "sql":
            found.append(Example(f"{source}:{first_line}", token.content, None))
            continue
        lines = token.content.split("\n")
        number = 0
        while number < len(lines):
            start, line = number, lines[number]
            while line.endswith("\\") and number + 1 < len(lines):  # a command continued with a backslash
                number += 1
                line = line[:-1] + " " + lines[number]
            number += 1
            command = QUERY_COMMAND.search(line)
            if command is None:
                continue
            where = f"{source}:{first_line + start}"
            words = shlex.split(command["arguments"], comments=True)
            for word, following in zip(words, [*words[1:], ""], strict=True):
                name, _, value = word.partition("=")
                if name in ("sql", "--sql"):
                    found.append(Example(where, value or following, None))
                elif name in ("file", "--file"):
                    found.append(Example(where, None, value or following))
    return found


README_EXAMPLES = examples((REPO / "README.md").read_text(encoding="utf-8"))


@pytest.fixture
def settings():
    return load_settings(REPO / "config.yml", "aws", environ={})


@pytest.fixture
def tables(settings) -> dict[str, TableDefinition]:
    definitions = [from_ddl(statement.sql) for statement in render_statements(REPO / "sql", settings)]
    return {definition.name: definition for definition in definitions}


def injected_columns(definition: TableDefinition) -> set[str]:
    """The partition columns Athena injects from the query: projection on, type ``injected``."""
    props = definition.properties
    if props.get("projection.enabled", "").strip().lower() != "true":
        return set()
    return {name for name, _ in definition.partition_keys if props.get(f"projection.{name}.type", "").strip() == "injected"}


def athena_problems(sql: str, tables: dict[str, TableDefinition], database: str) -> list[str]:
    """Why Athena would refuse the query, or nothing."""
    try:
        statement = check_read_only(sql)
    except DdlError as error:
        return [str(error)]
    if not isinstance(statement, (exp.Query, exp.Subquery)):
        return []  # SHOW, DESCRIBE, EXPLAIN of a checked query: nothing more to resolve
    tree = statement.copy()
    for identifier in tree.find_all(exp.Identifier):
        identifier.set("this", identifier.this.lower())
        identifier.set("quoted", False)
    unknown = sorted({t.name for t in tree.find_all(exp.Table) if t.name not in tables} - _cte_names(tree))
    if unknown:
        return [f"no DDL in sql/ defines {', '.join(unknown)}"]
    schema = {database: {name: _columns(definition) for name, definition in tables.items()}}
    try:
        tree = qualify(tree, schema=schema, db=database, dialect="athena", validate_qualify_columns=True)
    except OptimizeError as error:
        return [str(error)]
    problems = []
    for scope in traverse_scope(tree):
        for alias, source in scope.sources.items():
            if isinstance(source, exp.Table) and source.name in tables:
                for column in sorted(injected_columns(tables[source.name])):
                    problem = _injected_filter_problem(scope.expression.args.get("where"), alias, column)
                    if problem:
                        problems.append(f"{source.name}.{column} (projection type injected): {problem}")
    return problems


def _cte_names(tree: exp.Expr) -> set[str]:
    return {cte.alias_or_name for cte in tree.find_all(exp.CTE)}


def _columns(definition: TableDefinition) -> dict[str, str]:
    # The types play no part in resolving names; Hive's struct<…> text is no Athena type name for sqlglot.
    return {name: "varchar" for name, _ in (*definition.columns, *definition.partition_keys)}


def _is(node: exp.Expr, alias: str, column: str) -> bool:
    return isinstance(node, exp.Column) and node.name == column and node.table == alias


def _static(node: exp.Expr) -> bool:
    return not any(isinstance(inner, (exp.Column, exp.Query)) for inner in node.walk())


def _equality(node: exp.Expr, alias: str, column: str) -> bool:
    """``col = static``, ``static = col``, ``col IN (static, …)``, or an OR of those."""
    node = node.unnest()
    if isinstance(node, exp.EQ):
        return (_is(node.this, alias, column) and _static(node.expression)) or (
            _is(node.expression, alias, column) and _static(node.this)
        )
    if isinstance(node, exp.In):
        return _is(node.this, alias, column) and not node.args.get("query") and all(map(_static, node.expressions))
    if isinstance(node, exp.Or):
        return _equality(node.this, alias, column) and _equality(node.expression, alias, column)
    return False


def _injected_filter_problem(where: exp.Where | None, alias: str, column: str) -> str | None:
    conjuncts = list(where.this.flatten()) if where is not None and isinstance(where.this, exp.And) else []
    if where is not None and not conjuncts:
        conjuncts = [where.this]
    mentioning = [c for c in conjuncts if any(_is(node, alias, column) for node in c.walk())]
    if not mentioning:
        return f"no WHERE condition on {column}; add {column} = '…' (or {column} IN ('…', …))"
    if not all(_equality(condition, alias, column) for condition in mentioning):
        return f"only static equality conditions on {column} are allowed (= or IN of literals), not: " + "; ".join(
            condition.sql("athena") for condition in mentioning if not _equality(condition, alias, column)
        )
    return None


def _text(example: Example, settings) -> str:
    arguments = argparse.Namespace(sql=example.sql, file=Path(example.file) if example.file else None)
    return query_text(arguments, SimpleNamespace(settings=settings))


def test_the_readme_has_sql_examples_and_each_is_found():
    """The examples as this test sees them: a change in how the README writes them must not hide them."""
    assert len(README_EXAMPLES) >= 4
    assert {example.file for example in README_EXAMPLES if example.file} >= {"sql/stedi/checks/row_counts.sql"}
    assert any("embrace_duplicate_log" in (example.sql or "") for example in README_EXAMPLES)


@pytest.mark.parametrize("example", README_EXAMPLES, ids=[example.where for example in README_EXAMPLES])
def test_every_readme_sql_example_runs_on_athena(example, settings, tables, monkeypatch):
    monkeypatch.chdir(REPO)  # file= paths are the repository's, as make runs from there
    assert athena_problems(_text(example, settings), tables, settings.athena_database) == [], example.where


def test_the_injected_columns_come_from_the_ddl(tables):
    injected = {name: injected_columns(definition) for name, definition in tables.items() if injected_columns(definition)}
    assert injected, "some table of sql/ has an injected projection column"
    for name, columns in injected.items():
        for column in columns:
            assert tables[name].properties[f"projection.{column}.type"] == "injected"


# --- the check itself, on examples made up here ------------------------------------------------------


def _an_injected_table(tables) -> tuple[str, str, str]:
    """A table of sql/ with an injected column, that column, and one of its other columns."""
    for name, definition in sorted(tables.items()):
        for column in sorted(injected_columns(definition)):
            return name, column, definition.columns[0][0]
    raise AssertionError("no table of sql/ has an injected projection column")


@pytest.mark.parametrize(
    "where, problem",
    [
        ("", "no WHERE condition on {col}"),
        ("WHERE {other} = 'x'", "no WHERE condition on {col}"),
        ("WHERE {col} = 'a'", None),
        ("WHERE {col} IN ('a', 'b') AND {other} > 'x'", None),
        ("WHERE ({col} = 'a' OR {col} = 'b')", None),
        ("WHERE {col} = ?", None),
        ("WHERE {col} = concat('Sensors_', 'U02')", None),
        ("WHERE 'a' = {COL}", None),
        ("WHERE {col} LIKE 'Sensors_%'", "only static equality conditions"),
        ("WHERE {col} = 'a' AND {col} <> 'b'", "only static equality conditions"),
        ("WHERE {col} = 'a' OR {other} = 'x'", "only static equality conditions"),
        ("WHERE {col} = {other}", "only static equality conditions"),
        ("WHERE {col} IN (SELECT 'a')", "only static equality conditions"),
    ],
)
def test_an_injected_column_needs_static_equality_filters(tables, settings, where, problem):
    table, column, other = _an_injected_table(tables)
    sql = f"SELECT count(*) FROM {table} " + where.format(col=column, COL=column.upper(), other=other)
    problems = athena_problems(sql, tables, settings.athena_database)
    if problem is None:
        assert problems == []
    else:
        (found,) = problems
        assert found.startswith(f"{table}.{column} (projection type injected): {problem.format(col=column)}")


def test_subqueries_ctes_and_joins_are_checked_per_reference(tables, settings):
    table, column, other = _an_injected_table(tables)
    database = settings.athena_database
    ok = f"(SELECT {other} FROM {table} WHERE {column} = 'a')"
    assert athena_problems(f"WITH x AS {ok} SELECT count(*) FROM x", tables, database) == []
    assert len(athena_problems(f"WITH x AS (SELECT {other} FROM {table}) SELECT count(*) FROM x", tables, database)) == 1
    joined = f"SELECT count(*) FROM {table} a JOIN {table} b ON a.{other} = b.{other} WHERE a.{column} = 'x'"
    (problem,) = athena_problems(joined, tables, database)
    assert problem.startswith(f"{table}.{column} (projection type injected): no WHERE condition")
    assert athena_problems(joined + f" AND b.{column} IN ('x')", tables, database) == []


@pytest.mark.parametrize(
    "sql, problem",
    [
        ("SELECT nope FROM customer_curated", "Column 'nope' could not be resolved"),
        ("SELECT count(*) FROM customer_cruated", "no DDL in sql/ defines customer_cruated"),
        ('SELECT "serialNumber" FROM "customer_curated"', None),
        ("SELECT `email` FROM customer_curated", "does not parse as Athena SQL"),  # Spark's quotes, not Athena's
        ("DROP TABLE customer_curated", "make query runs reads only"),
        ("SHOW TABLES", None),
    ],
)
def test_names_dialect_and_writes_are_checked_too(tables, settings, sql, problem):
    problems = athena_problems(sql, tables, settings.athena_database)
    if problem is None:
        assert problems == []
    else:
        (found,) = problems
        assert problem in found


def test_examples_are_found_in_sql_blocks_and_query_commands_of_code_blocks_only():
    markdown = "\n".join(
        [
            "Run `make query sql='…'` to query.",  # a synopsis in running text
            "```sql",
            "SELECT 1",
            "```",
            "```sh",
            'make ddl && make query sql="SELECT 2" json=1',
            "make query \\",
            "  profile=aws sql='SELECT 3'   # a comment",
            "make query file=sql/x.sql",
            "python -m job_helpers query --sql 'SELECT 4'",
            "make ddl",
            "```",
            "",
            "    make query --file sql/y.sql",
        ]
    )
    found = [(e.where, e.sql, e.file) for e in examples(markdown, "x.md")]
    assert found == [
        ("x.md:3", "SELECT 1\n", None),
        ("x.md:6", "SELECT 2", None),
        ("x.md:7", "SELECT 3", None),
        ("x.md:9", None, "sql/x.sql"),
        ("x.md:10", "SELECT 4", None),
        ("x.md:14", None, "sql/y.sql"),
    ]
