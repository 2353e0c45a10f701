"""The ``jobs:`` and ``pipelines:`` sections of config.yml: each job as Glue creates it, and the pipelines that run them.

A job's arguments may name data sets and options as ``{dotted.name}``; they are replaced here by
the values the profile resolved, so jobs receive plain URLs and values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from job_helpers.config_fields import MOST_API_INTEGER, Switch, WholeNumber, read_fields
from job_helpers.config_keys import DASHES, ConfigError, check_keys
from job_helpers.datasets import registered

COMMANDS = ("glueetl",)
# The worker types of Glue 5 Spark batch jobs (AWS Glue docs: worker types, CreateJob's WorkerType).
WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X", "G.12X", "G.16X", "R.1X", "R.2X", "R.4X", "R.8X")
# Glue runs Flex (spare capacity, lower price) for glueetl jobs of Glue 3.0+ on these worker types only.
EXECUTION_CLASSES = ("STANDARD", "FLEX")
FLEX_WORKER_TYPES = ("G.1X", "G.2X")
NOT_FOR_BATCH_JOBS = {"G.025X": "Glue runs it for streaming jobs only", "Z.2X": "Glue runs it for Ray jobs only"}
REFERENCE = re.compile(r"(?<!\$)\{([a-z_][a-z0-9_.]*)\}")
# The values a job argument may take, as the data sets declare them.
ARGUMENT_CHOICES = {name: choices for dataset in registered() for name, choices in dataset.argument_choices.items()}
DATE_RANGED = Switch(False)
# Glue's own limits: the most workers its API reference gives (NumberOfWorkers: 299 G.1X, 149 G.2X), and
# CreateJob's Timeout: "less than 7 days or 10080 minutes".
MOST_WORKERS = 299
MOST_TIMEOUT_MINUTES = 7 * 24 * 60
JOB_NUMBERS = {
    "number_of_workers": WholeNumber(2, most=MOST_WORKERS, why=" (Glue's most workers of a job, for G.1X)"),
    "timeout_minutes": WholeNumber(60, most=MOST_TIMEOUT_MINUTES, why=" (7 days, Glue's longest job timeout)"),
    "max_concurrent_runs": WholeNumber(1, most=MOST_API_INTEGER, why=" (the largest Integer Glue's API takes)"),
}


@dataclass(frozen=True)
class JobSpec:
    """One job as the control plane creates it; arguments are resolved for the profile."""

    key: str
    name_prefix: str
    script: str
    command: str
    worker_type: str
    number_of_workers: int
    timeout_minutes: int
    max_concurrent_runs: int
    date_ranged: bool
    arguments: dict[str, str]
    description: str = ""
    execution_class: str = "STANDARD"


JOB_KEYS = (
    "script",
    "description",
    "command",
    "worker_type",
    "number_of_workers",
    "timeout_minutes",
    "max_concurrent_runs",
    "date_ranged",
    "arguments",
    "name_prefix",
    "execution_class",
)


def resolve_jobs(
    document: dict, profile_arguments: dict, prefix: str, datasets: dict[str, str], problems: list[str]
) -> dict[str, JobSpec]:
    jobs: dict[str, JobSpec] = {}
    for key, job in (document.get("jobs") or {}).items():
        where = f"jobs.{key}"
        if not isinstance(job, dict):
            problems.append(f"{where}: expected a mapping of job settings")
            continue
        if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
            problems.append(f"{where}: job keys are lower case letters, digits and '_'")
        check_keys(job, JOB_KEYS, where, problems)
        problems.extend(f"{where}.{problem}" for problem in _glue_problems(key, job))
        arguments = {**(job.get("arguments") or {}), **(profile_arguments.get(key) or {})}
        jobs[key] = JobSpec(
            key=key,
            name_prefix=str(job.get("name_prefix") or f"{prefix}-{key.replace('_', '-')}"),
            script=str(job.get("script")),
            command=job.get("command", "glueetl"),
            worker_type=job.get("worker_type", "G.1X"),
            **read_fields(job, JOB_NUMBERS, where, problems),
            date_ranged=DATE_RANGED.read(job, "date_ranged", where, problems),
            arguments=_resolve_arguments(arguments, datasets, where, problems),
            description=str(job.get("description") or ""),
            execution_class=str(job.get("execution_class", "STANDARD")),
        )
    return jobs


def _glue_problems(key: str, job: dict) -> list[str]:
    """What Glue would refuse in the job's command, worker type, execution class or script, each after its key."""
    problems = []
    command = job.get("command", "glueetl")
    if command not in COMMANDS:
        problems.append(
            f"command: {command!r} is not supported: Glue 5 runs Python 3.11 only in glueetl jobs "
            "(Python shell jobs stop at Glue 3.0 and Python 3.9); use glueetl"
        )
    worker_type = job.get("worker_type", "G.1X")
    if worker_type not in WORKER_TYPES:
        why = f" ({NOT_FOR_BATCH_JOBS[worker_type]})" if worker_type in NOT_FOR_BATCH_JOBS else ""
        problems.append(
            f"worker_type: {worker_type!r} is not a worker type of Glue 5 batch jobs{why}; use one of {', '.join(WORKER_TYPES)}"
        )
    problem = execution_class_problem(str(job.get("execution_class", "STANDARD")), worker_type)
    if problem:
        problems.append(f"execution_class: {problem}")
    script = job.get("script")
    if not script or not str(script).endswith(".py"):
        problems.append(f"script: give the job's Python file, e.g. jobs/{key}.py")
    return problems


def execution_class_problem(execution_class: str, worker_type: str) -> str | None:
    """Why Glue would refuse this execution class for the worker type, or None."""
    if execution_class not in EXECUTION_CLASSES:
        return f"{execution_class!r} is not a Glue execution class; use {' or '.join(EXECUTION_CLASSES)}"
    if execution_class == "FLEX" and worker_type not in FLEX_WORKER_TYPES:
        return f"Glue runs FLEX on {' and '.join(FLEX_WORKER_TYPES)} workers only, not {worker_type}: change worker_type or use STANDARD"
    return None


def _resolve_arguments(arguments: dict, datasets: dict[str, str], where: str, problems: list[str]) -> dict[str, str]:
    resolved: dict[str, str] = {}
    for name, value in arguments.items():
        if not str(name).startswith("--"):
            problems.append(
                f"{where}.arguments.{name}: argument names start with '--'; did you mean --{str(name).lstrip(DASHES)}?"
            )
            continue
        text = str(value)
        try:
            text = render_references(text, datasets)
        except ConfigError as error:
            problems.append(f"{where}.arguments.{name}: {error}")
        choices = ARGUMENT_CHOICES.get(name)
        if choices and text not in choices:
            problems.append(f"{where}.arguments.{name}: {text!r} is not one of {', '.join(choices)}")
        resolved[name] = text
    return resolved


def render_references(text: str, values: Mapping[str, str]) -> str:
    """Replace each ``{dotted.name}`` with its value; ``${...}`` (Athena's own templates) is left alone."""

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise ConfigError(f"{{{name}}} is not defined; known names: {', '.join(sorted(values))}")
        return values[name]

    return REFERENCE.sub(substitute, text)


@dataclass(frozen=True)
class PipelineSpec:
    """Jobs run in order by ``pipeline``, and the tables whose row counts its summary shows."""

    name: str
    jobs: tuple[str, ...]
    tables: tuple[str, ...]
    description: str = ""


PIPELINE_KEYS = ("description", "jobs", "tables")


def resolve_pipelines(
    document: dict, jobs: Mapping[str, JobSpec], datasets: Mapping[str, str], problems: list[str]
) -> dict[str, PipelineSpec]:
    pipelines: dict[str, PipelineSpec] = {}
    for name, node in (document.get("pipelines") or {}).items():
        where = f"pipelines.{name}"
        check_keys(node, PIPELINE_KEYS, where, problems)
        if not isinstance(node, dict) or not isinstance(node.get("jobs"), list) or not node["jobs"]:
            problems.append(f"{where}.jobs: give the list of job keys to run in order")
            continue
        for key in node["jobs"]:
            if key not in jobs:
                problems.append(f"{where}.jobs: {key!r} is not a job under jobs ({', '.join(sorted(jobs))})")
        for table in node.get("tables") or []:
            if table not in datasets:
                problems.append(f"{where}.tables: {table!r} is not a data set (see `make paths`)")
        pipelines[name] = PipelineSpec(
            name, tuple(node["jobs"]), tuple(node.get("tables") or ()), str(node.get("description") or "")
        )
    return pipelines
