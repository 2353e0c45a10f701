"""Every job script has one shape, so a new job copied from any of them is right the first time.

The shape (``jobs/sitewise_repartition.py`` is the model):

- ``OPTIONS, OPTIONAL`` come from the data set's ``parameters`` module (the names the parser reads);
- ``main(argv)`` is one ``with runtime.start_job(argv, OPTIONS, optional=OPTIONAL, spark=…) as job:``
  (``spark=False, tasks=True`` for a job that runs its work as tasks)
  whose first statement builds the typed ``params`` from ``job.args`` with that module's
  ``from_args`` and whose last statement is ``job.end(…)``;
- ``sys.argv`` is read only by ``if __name__ == "__main__": main(sys.argv)``;
- the script never indexes raw arguments, builds an AWS client, tests which profile it runs on,
  builds or writes a run report itself (the runtime writes ``job.report``).
"""

from __future__ import annotations

import ast
import dataclasses
import re
from functools import cache
from pathlib import Path

import pytest

from job_helpers import job_failed, runtime
from job_helpers.control.config import Settings, load_settings
from job_helpers.control.pipeline import job_argv, load_script
from job_helpers.relative_dates import LOGICAL_TIME

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((REPO / "jobs").glob("*.py"))
MODEL = REPO / "jobs" / "sitewise_repartition.py"
START = "runtime.start_job(argv, OPTIONS, optional=OPTIONAL, spark={})"
STARTS = (START.format(True), START.format(False), START.format("False, tasks=True"))
# Names a script must not reach for: the runtime and the data set packages hold them.
FORBIDDEN_NAMES = {
    "getResolvedOptions": "argv is resolved by runtime.start_job",
    "on_glue": "a job never tests which profile it runs on",
    "RUNTIME_ENV": "a job never tests which profile it runs on",
    "environ": "a job reads its settings from its arguments, not the environment",
}
# Calls a script must not make: the run's one report is job.report, which the runtime writes.
FORBIDDEN_CALLS = ("RunReport", "write_report", "write_reports")
FORBIDDEN_MODULES = ("boto3", "botocore", "job_helpers.aws", "os", "awsglue")


def parameters_modules(tree: ast.Module) -> set[str]:
    """The names a script imports a data set's ``parameters`` module under."""
    return {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("job_helpers.")
        for alias in node.names
        if alias.name == "parameters"
    }


def rooted_at(node: ast.expr, roots: set[str]) -> bool:
    """Whether ``node`` is ``root`` or ``root.attr…`` for one of ``roots``."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id in roots


def declared_owners(tree: ast.Module, roots: set[str]) -> tuple[str | None, list[str]]:
    """Where the module-level ``OPTIONS, OPTIONAL`` come from (the ``parameters`` object OPTIONS is on)."""
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and [ast.unparse(target) for target in node.targets] == ["(OPTIONS, OPTIONAL)"]):
            continue
        values = node.value.elts if isinstance(node.value, ast.Tuple) else []
        if len(values) != 2 or not all(isinstance(v, ast.Attribute) and rooted_at(v, roots) for v in values):
            return None, ["OPTIONS, OPTIONAL must be read from the data set's parameters module"]
        options, optional = values
        if (options.attr, optional.attr) != ("OPTIONS", "OPTIONAL"):
            return None, ["OPTIONS, OPTIONAL must be the parameters' OPTIONS and OPTIONAL"]
        return ast.unparse(options.value), []
    return None, ["declare OPTIONS, OPTIONAL = parameters.OPTIONS, parameters.OPTIONAL at the top of the script"]


def job_block(tree: ast.Module) -> ast.With | None:
    """``main(argv)``'s one statement, ``with … as job:``; None when main is anything else."""
    mains = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "main"]
    if len(mains) != 1 or [arg.arg for arg in mains[0].args.args] != ["argv"]:
        return None
    body = [node for node in mains[0].body if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
    return body[0] if len(body) == 1 and isinstance(body[0], ast.With) and len(body[0].items) == 1 else None


def main_problems(tree: ast.Module, owner: str | None) -> list[str]:
    """What ``main`` does otherwise than start the job, build its parameters, and end it."""
    block = job_block(tree)
    if block is None:
        return ["main(argv)'s body must be one `with runtime.start_job(...) as job:`"]
    problems = []
    item = block.items[0]
    started = f"{ast.unparse(item.context_expr)} as {ast.unparse(item.optional_vars) if item.optional_vars else '?'}"
    if started not in (f"{start} as job" for start in STARTS):
        problems.append(f"main must run as `with {START.format('True|False|False, tasks=True')} as job:`, not `{started}`")
    first, last = ast.unparse(block.body[0]), ast.unparse(block.body[-1])
    if owner is not None and first != f"params = {owner}.from_args(job.args)":
        problems.append(f"the job's first step must be `params = {owner}.from_args(job.args)`")
    if not re.fullmatch(r"job\.end\(('[a-z ]+')?\)", last):
        problems.append('the job\'s last step must be `job.end()` or `job.end("<unit>")`')
    return problems


def guard_problems(tree: ast.Module) -> list[str]:
    """``sys.argv`` read anywhere but the closing ``if __name__ == "__main__": main(sys.argv)``."""
    guard = tree.body[-1] if tree.body else None
    problems = []
    if not (isinstance(guard, ast.If) and ast.unparse(guard) == "if __name__ == '__main__':\n    main(sys.argv)"):
        problems.append('end the script with `if __name__ == "__main__": main(sys.argv)`')
    reads = [node for node in ast.walk(tree) if isinstance(node, ast.Attribute) and ast.unparse(node) == "sys.argv"]
    if len(reads) != 1 or problems:
        problems.append("sys.argv is read only by the __main__ guard")
    return problems


def name_of(node: ast.AST) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def node_problem(node: ast.AST) -> str | None:
    """Why one node of a script has no place in a job script, or None."""
    if isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("args", "job.args"):
        return f"`{ast.unparse(node)}`: a step reads params, the typed Parameters, never the raw arguments"
    if name_of(node) in FORBIDDEN_NAMES:
        return f"{name_of(node)}: {FORBIDDEN_NAMES[name_of(node)]}"
    if isinstance(node, ast.Call) and name_of(node.func).lstrip("_") in FORBIDDEN_CALLS:
        return f"{name_of(node.func)}(): the run's one report is job.report, which the runtime writes"
    if isinstance(node, ast.Call) and "client" in name_of(node.func).lower():
        return f"{ast.unparse(node.func)}(): AWS clients are built in the data set's read and write modules"
    return import_problem(node) if isinstance(node, (ast.Import, ast.ImportFrom)) else None


def import_problem(node: ast.Import | ast.ImportFrom) -> str | None:
    """Modules only the runtime and the data set packages import: AWS clients, argv parsing, the environment."""
    names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [alias.name for alias in node.names]
    banned = [name for name in names if name.split(".")[0] in FORBIDDEN_MODULES or name in FORBIDDEN_MODULES]
    return f"import {', '.join(banned)}: the runtime and the data set packages hold these" if banned else None


def usage_problems(tree: ast.Module) -> list[str]:
    """Raw arguments, AWS clients, profile tests and hand-made reports anywhere in the script."""
    problems = [problem for node in ast.walk(tree) if (problem := node_problem(node))]
    uses = [node for node in ast.walk(tree) if isinstance(node, ast.Attribute) and ast.unparse(node) == "job.args"]
    if len(uses) > 1:
        problems.append("job.args is read once, by the parameters' from_args; later steps read params")
    return problems


def shape_problems(source: str) -> list[str]:
    """Every way a job script's source departs from the one shape; empty when it has it."""
    tree = ast.parse(source)
    owner, problems = declared_owners(tree, parameters_modules(tree))
    return problems + main_problems(tree, owner) + guard_problems(tree) + usage_problems(tree)


def test_job_failed_lives_in_a_module_that_imports_nothing():
    """Argument parsing, data set code and the runtime raise it without pulling in Spark, boto3 or each other."""
    tree = ast.parse(Path(job_failed.__file__).read_text(encoding="utf-8"))
    imports = [ast.unparse(node) for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert imports == []
    assert runtime.JobFailed is job_failed.JobFailed


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_every_job_script_has_the_one_shape(script):
    assert shape_problems(script.read_text(encoding="utf-8")) == []


def model_with(old: str, new: str, script: Path = MODEL) -> str:
    source = script.read_text(encoding="utf-8")
    assert source.count(old) == 1, f"{script.name} no longer holds {old!r}: update the deviation"
    return source.replace(old, new)


FIRST_STEP = "        params = parameters.from_args(job.args)\n"
ENDING = '        job.end("day")\n'
DEVIATIONS = {
    "raw arguments indexed": (
        model_with(ENDING, '        job.report.details["cold"] = job.args["cold_tier"]\n' + ENDING),
        ["`job.args['cold_tier']`: a step reads params", "job.args is read once"],
    ),
    "its own parser": (
        model_with(FIRST_STEP, "        params = getResolvedOptions(argv, OPTIONS)\n"),
        ["first step must be `params = parameters.from_args(job.args)`", "getResolvedOptions: argv is resolved by"],
    ),
    "names declared by hand": (
        model_with("OPTIONS, OPTIONAL = parameters.OPTIONS, parameters.OPTIONAL", 'OPTIONS, OPTIONAL = ["from-date"], []'),
        ["OPTIONS, OPTIONAL must be read from the data set's parameters module"],
    ),
    "argv from sys": (
        model_with("runtime.start_job(argv,", "runtime.start_job(sys.argv,"),
        ["main must run as `with runtime.start_job(argv, OPTIONS", "sys.argv is read only by the __main__ guard"],
    ),
    "ends by raising": (
        model_with(ENDING, '        if summary.failed:\n            raise JobFailed("some days failed")\n'),
        ["last step must be `job.end()`"],
    ),
    "a boto3 client": (
        model_with(FIRST_STEP, FIRST_STEP + '        import boto3\n        boto3.client("s3").list_buckets()\n'),
        ["import boto3:", "boto3.client(): AWS clients are built in the data set's read and write modules"],
    ),
    "a profile test": (
        model_with("        storage = Storage()\n", "        storage = Storage() if runtime.on_glue() else None\n"),
        ["on_glue: a job never tests which profile it runs on"],
    ),
    "a report made by hand": (
        model_with("report(job.report, params, summary)", "report(RunReport(job='x'), params, summary)"),
        ["RunReport(): the run's one report is job.report"],
    ),
    "another job's parser": (
        model_with(
            "params = parameters.CustomerTrusted.from_args(job.args)",
            "params = parameters.CustomerCurated.from_args(job.args)",
            REPO / "jobs" / "stedi_customer_trusted.py",
        ),
        ["first step must be `params = parameters.CustomerTrusted.from_args(job.args)`"],
    ),
}


@pytest.mark.parametrize("source, expected", DEVIATIONS.values(), ids=DEVIATIONS.keys())
def test_a_job_that_leaves_the_shape_is_named_with_what_to_do(source, expected):
    problems = shape_problems(source)
    assert all(any(part in problem for problem in problems) for part in expected), problems
    assert len(problems) == len(expected), problems


@cache
def local_settings() -> Settings:
    return load_settings(REPO / "config.yml", "local", environ={})


class Recorded(dict):
    """Resolved arguments that remember each name a parser looked at."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.looked_at: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.looked_at.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.looked_at.add(str(key))
        return super().__contains__(key)


@pytest.mark.parametrize("key", sorted(local_settings().jobs))
def test_each_jobs_parameters_read_exactly_the_names_its_script_declares(key):
    """From the argv config.yml gives the job: no declared name goes unread, none is read undeclared."""
    job = local_settings().job(key)
    script = load_script(REPO / job.script)
    argv = [*job_argv(job), *(["--from-date", "2024-03-01", "--to-date", "2024-03-02"] if job.date_ranged else [])]
    args = Recorded(runtime.resolve_arguments(argv, script.OPTIONS, script.OPTIONAL))
    # The script's own first step (`params = ….from_args(job.args)`), evaluated in the script's namespace.
    first_step = job_block(ast.parse((REPO / job.script).read_text(encoding="utf-8"))).body[0]  # type: ignore[union-attr]
    params = eval(
        compile(ast.Expression(first_step.value), job.script, "eval"), {**vars(script), "job": runtime.JobRun(key, args)}
    )
    assert dataclasses.is_dataclass(params) and not isinstance(params, type)
    keys = {name.replace("-", "_") for name in script.OPTIONS}
    assert keys <= args.looked_at <= keys | {name.replace("-", "_") for name in (*script.OPTIONAL, LOGICAL_TIME)}
