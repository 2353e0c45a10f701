"""``make new-job name=<job> dataset=<name>``: a new data set, or a job in one ``make new-job`` made, that passes its tests as made.

A new data set is its package in the common shape (parameters, read, transform, write,
sample_data, dataset), the job script, a DDL stub in sql/<name>/, its local and aws tests, its
config.yml entries (a bucket, its locations, the job) and one line in job_helpers/datasets.py. A
job in an existing data set adds its script, DDL, tests, its table's location and job to config.yml,
and its key to the data set's ``JOBS``. The files come from ``job_template/``, with ``__dataset__``,
``__job__`` and the like replaced; nothing is written unless every check passes first.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from job_helpers.control.config_yaml import describe_yaml_error, load_yaml

TEMPLATES = Path(__file__).parent / "job_template"
NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Names a data set cannot take: the control plane's own package and config.yml's other sections.
RESERVED = ("control", "project", "athena", "buckets", "datasets", "profiles", "jobs", "pipelines", "default_profile")
REGISTRY = "job_helpers/datasets.py"
REGISTRY_END = "\n)\n"
JOBS_LINE = re.compile(r"^JOBS = \((?P<jobs>[^)]*)\)$", re.MULTILINE)
TOP_LEVEL_KEY = re.compile(r"^[a-z_]+:", re.MULTILINE)
CREATE_TABLE = re.compile(r"CREATE\s+EXTERNAL\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`\{database\}`\.`(\w+)`", re.IGNORECASE)
# The locations every data set new-job makes has: a job cannot take their names.
LOCATIONS = ("landing", "rejects")


class NewJobError(Exception):
    """The job or data set cannot be made as asked; nothing was written. The message says what to change."""


@dataclass
class Plan:
    """What a ``new-job`` writes: new files, and files changed in place (their new text), by path."""

    created: dict[str, str] = field(default_factory=dict)
    changed: dict[str, str] = field(default_factory=dict)

    def write(self, root: Path) -> None:
        """Write the files, then sort their imports and format them as ``make lint`` wants (the names decide the order)."""
        for path, text in {**self.created, **self.changed}.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        python = sorted(path for path in {**self.created, **self.changed} if path.endswith(".py"))
        for command in (["check", "--fix", "--quiet", "--select", "I"], ["format", "--quiet"]):
            subprocess.run([sys.executable, "-m", "ruff", *command, *python], cwd=root, check=True)


def plan_new_job(root: Path, job: str, dataset: str) -> Plan:
    """The files to write for ``job`` of ``dataset`` in the repository at ``root``; ``NewJobError`` if it cannot be."""
    _check_names(root, job, dataset)
    values = _values(job, dataset)
    existing = _made(root, dataset)
    plan = Plan() if existing else _new_dataset(root, values)
    if existing:
        plan.changed[f"job_helpers/{dataset}/dataset.py"] = _with_job(root, dataset, job)
    config = plan.changed.get("config.yml", _read(root, "config.yml"))
    plan.changed["config.yml"] = _with_job_config(config, values)
    plan.created.update(
        {
            f"jobs/{job}.py": _render("job.py.tmpl", values),
            f"sql/{dataset}/{job}.sql": _render("table.sql.tmpl", values),
            f"tests/{dataset}/test_{job}.py": _render("tests_job.py.tmpl", values),
            f"tests/aws_e2e/test_{dataset}_{job}_on_glue.py": _render("tests_aws.py.tmpl", values),
        }
    )
    taken = sorted(path for path in plan.created if (root / path).exists())
    if taken:
        raise NewJobError(f"{', '.join(taken)} exist(s) already; remove or rename before making {job}")
    return plan


def _check_names(root: Path, job: str, dataset: str) -> None:
    """Refuse names the job or data set cannot take: not identifiers, or taken by a module, a location, a test or a table."""
    for what, name in (("name", job), ("dataset", dataset)):
        if not NAME.fullmatch(name) or keyword.iskeyword(name):
            raise NewJobError(
                f"{what}={name!r}: use lower case letters, digits and '_', starting with a letter (at most 40), not a Python keyword"
            )
    for what, name in (("name", job), ("dataset", dataset)):
        if load_yaml(name) != name:
            raise NewJobError(f"{what}={name!r}: config.yml would read it as {load_yaml(name)!r}, not as a name; choose another")
    if job in sys.stdlib_module_names or importlib.util.find_spec(job) is not None:
        raise NewJobError(f"name={job!r} is the name of a module jobs import (job scripts run beside each other); choose another")
    if dataset in RESERVED:
        raise NewJobError(f"dataset={dataset!r} is a name the project uses already; choose another")
    if job == dataset:
        raise NewJobError(f"name={job!r} is the data set's own name: name the job for what it makes of it, e.g. {dataset}_daily")
    if dataset in top_level_names(root):
        raise NewJobError(
            f"dataset={dataset!r} is a folder or module at the top of the repository (or one it makes, such as build/); "
            "choose another"
        )
    try:
        config = load_yaml(_read(root, "config.yml")) or {}
    except yaml.YAMLError as error:
        raise NewJobError(f"config.yml: {describe_yaml_error(error)}; fix it (make config-check) before making a job") from None
    _check_job_is_free(root, config, job)
    if not _made(root, dataset):
        _check_dataset_is_free(root, config, dataset)


def _check_job_is_free(root: Path, config: Mapping[str, Any], job: str) -> None:
    if job in (config.get("jobs") or {}) or job in ddl_tables(root) or job in LOCATIONS:
        raise NewJobError(f"name={job!r} is taken (a job, a table, or a location of the data set); choose another name")
    if any(path.name == f"test_{job}.py" for path in (root / "tests").rglob("test_*.py")):
        raise NewJobError(
            f"name={job!r}: a test module test_{job}.py exists already (test file names are unique); choose another"
        )


def _check_dataset_is_free(root: Path, config: Mapping[str, Any], dataset: str) -> None:
    taken = [f"{section}.{dataset}" for section in ("buckets", "datasets") if dataset in (config.get(section) or {})]
    taken += [f"{folder}/{dataset}/" for folder in ("sql", "tests") if (root / folder / dataset).exists()]
    taken += [path for path in (f"job_helpers/{dataset}.py", f"job_helpers/{dataset}/") if (root / path).exists()]
    if taken:
        raise NewJobError(f"dataset={dataset!r}: {', '.join(taken)} exist(s) already; choose another name")


def top_level_names(root: Path) -> set[str]:
    """The folders and modules at the top of the repository at ``root``, and those its .gitignore says it makes there.

    A data set's files go into ``tests/<name>/``, ``sql/<name>/`` and ``job_helpers/<name>/``, and the repository's
    root is on the path of its tests: a data set ``tests``, ``jobs`` or ``build`` would be found where those are.
    """
    names = {path.name if path.is_dir() else path.stem for path in root.iterdir() if path.is_dir() or path.suffix == ".py"}
    ignored = root / ".gitignore"
    if ignored.is_file():
        names.update(line.strip().strip("/") for line in ignored.read_text(encoding="utf-8").splitlines())
    return {name for name in names if NAME.fullmatch(name)}


def _made(root: Path, dataset: str) -> bool:
    """Whether the data set exists already: its package declares a DataSet."""
    return (root / "job_helpers" / dataset / "dataset.py").is_file()


def ddl_tables(root: Path) -> set[str]:
    """The tables of every DDL file under ``root``/sql (a new job's table must not take one)."""
    return {table for path in (root / "sql").rglob("*.sql") for table in CREATE_TABLE.findall(path.read_text(encoding="utf-8"))}


def _values(job: str, dataset: str) -> dict[str, str]:
    return {
        "__dataset__": dataset,
        "__job__": job,
        "__TITLE__": dataset.replace("_", " ").capitalize(),
        "__bucket__": f"{dataset.replace('_', '-')}-lake",
        "__ENV__": dataset.upper(),
    }


def _render(template: str, values: Mapping[str, str]) -> str:
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    for token, value in values.items():
        text = text.replace(token, value)
    return text


def _read(root: Path, path: str) -> str:
    return (root / path).read_text(encoding="utf-8")


def _new_dataset(root: Path, values: Mapping[str, str]) -> Plan:
    """The package, its registry line and its bucket and locations in config.yml."""
    dataset = values["__dataset__"]
    registry = _read(root, REGISTRY)
    if REGISTRY_END not in registry:
        raise NewJobError(f"{REGISTRY}: PACKAGES must end with a line ')'; add the line {dataset!r}, by hand")
    at = registry.index(REGISTRY_END)
    package = {
        f"job_helpers/{dataset}/{path.name.removesuffix('.tmpl')}": _render(f"package/{path.name}", values)
        for path in sorted((TEMPLATES / "package").glob("*.tmpl"))
    }
    config = _insert_in_section(_read(root, "config.yml"), "buckets", _render("config_bucket.yml.tmpl", values))
    config = _insert_in_section(config, "datasets", _render("config_datasets.yml.tmpl", values))
    return Plan(
        created=package,
        changed={REGISTRY: f'{registry[:at]}\n    "{dataset}",{registry[at:]}', "config.yml": config},
    )


def _with_job(root: Path, dataset: str, job: str) -> str:
    """The data set's dataset.py with ``job`` added to its ``JOBS`` (only data sets ``new-job`` made have that line)."""
    text = _read(root, f"job_helpers/{dataset}/dataset.py")
    match = JOBS_LINE.search(text)
    if match is None:
        raise NewJobError(
            f"job_helpers/{dataset}/dataset.py has no `JOBS = (...)` line: new-job adds jobs only to data sets it made; "
            f"add {job} to its DataSet by hand, or make a new data set"
        )
    jobs = [name.strip().strip("\"'") for name in match.group("jobs").split(",") if name.strip()]
    listed = ", ".join(f'"{name}"' for name in [*jobs, job])
    return text[: match.start()] + f"JOBS = ({listed},)" + text[match.end() :]


def _with_job_config(config: str, values: Mapping[str, str]) -> str:
    """config.yml with the job's table under ``datasets.<dataset>`` and the job at the end of ``jobs``."""
    dataset = values["__dataset__"]
    block = re.search(rf"^  {dataset}:\n((?:    .*\n|\s*\n)*)", config[config.index("\ndatasets:") :], re.MULTILINE)
    if block is None:
        raise NewJobError(f"config.yml has no datasets.{dataset}; give the data set's locations there first")
    end = config.index("\ndatasets:") + block.end()
    while config[:end].endswith("\n\n"):
        end -= 1
    config = config[:end] + _render("config_dataset_table.yml.tmpl", values) + config[end:]
    return _insert_in_section(config, "jobs", _render("config_job.yml.tmpl", values))


def _insert_in_section(config: str, section: str, lines: str) -> str:
    """``lines`` added at the end of a top-level section, before the comments and blank lines that lead the next one."""
    start = re.search(rf"^{section}:", config, re.MULTILINE)
    if start is None:
        raise NewJobError(f"config.yml has no {section}: section")
    following = TOP_LEVEL_KEY.search(config, start.end())
    end = following.start() if following else len(config)
    body = config[:end].split("\n")
    while body and (not body[-1].strip() or body[-1].startswith("#")):
        body.pop()
    at = len("\n".join(body)) + 1
    return config[:at] + lines + config[at:]
