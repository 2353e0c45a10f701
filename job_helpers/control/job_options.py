"""The argument names each job declares, checked against config.yml and ``--set`` before any job starts.

A job script declares what it takes as ``OPTIONS`` and ``OPTIONAL`` (names without the dashes) and
hands the same lists to ``runtime.start_job``, which refuses any other name when the job starts.
Reading them here first means a misspelt ``--timeseries-tpye`` fails ``execute``, ``retry``,
``schedule`` and ``config check`` with the name it was meant to be, before anything is created,
on both profiles. Besides its own names a job may be given the job parameters Glue documents;
those Glue or ``execute`` set themselves are refused with why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from job_helpers import job_arguments
from job_helpers.config_keys import ConfigError
from job_helpers.control.config import Settings
from job_helpers.control.pipeline import load_script
from job_helpers.control.plan import FROM_ARGUMENT, TO_ARGUMENT
from job_helpers.relative_dates import LOGICAL_TIME

# What execute passes every job from the build, the config and the batch.
SET_BY_EXECUTE = frozenset(
    {"extra-py-files", "job-language", "enable-continuous-cloudwatch-log", job_arguments.RUN_REPORTS, LOGICAL_TIME}
)
UNKNOWN_ARGUMENT = "unknown argument"


@dataclass(frozen=True)
class Declared:
    """The names one job script takes."""

    script: str
    names: frozenset[str]


@cache
def _declared(path: Path, modified: float) -> frozenset[str]:
    module = load_script(path)
    options, optional = getattr(module, "OPTIONS", None), getattr(module, "OPTIONAL", None)
    if not isinstance(options, (list, tuple)) or not isinstance(optional, (list, tuple)):
        raise ConfigError(
            f"{path}: declare the job's arguments at the top of the script as OPTIONS and OPTIONAL "
            "(lists of names without the dashes) and pass them to runtime.start_job"
        )
    return frozenset(map(str, [*options, *optional]))


def declared(repo_root: Path, script: str) -> Declared:
    """The names ``script`` declares, read once per version of the file."""
    path = repo_root / script
    try:
        modified = path.stat().st_mtime
    except OSError as error:
        raise ConfigError(
            f"{script}: cannot read the job script ({error.strerror}); check the job's script in config.yml"
        ) from None
    return Declared(script, _declared(path, modified))


def name_problem(name: str, declared: Declared, date_ranged: bool) -> str | None:
    """Why a job given ``--<name>`` in config.yml or ``--set`` would not use it as meant, or None."""
    bare = name[2:]
    if bare in declared.names:
        if date_ranged and name in (FROM_ARGUMENT, TO_ARGUMENT):
            return "execute sets it for each chunk from --from and --to; remove it here"
        return None
    if bare in SET_BY_EXECUTE:
        return "execute sets it (from the build and config.yml); remove it here"
    if bare in job_arguments.GLUE_SETS:
        return "Glue sets it on every run; remove it here"
    if bare in job_arguments.GLUE_JOB_PARAMETERS:
        return None
    close = job_arguments.closest(bare, declared.names) or job_arguments.closest(bare, job_arguments.GLUE_JOB_PARAMETERS)
    hint = f"did you mean --{close}?" if close else f"it takes {', '.join(f'--{n}' for n in sorted(declared.names))}"
    return f"{UNKNOWN_ARGUMENT}: {declared.script} takes no --{bare}; {hint}"


def _given(resolved: Mapping[str, Any], key: str) -> list[tuple[str, str]]:
    """Each argument name given to job ``key``, with the dotted key it was given under."""
    given = [
        (f"jobs.{key}.arguments", str(name)) for name in ((resolved.get("jobs") or {}).get(key) or {}).get("arguments") or {}
    ]
    profile = resolved.get("profile")
    by_job = (((resolved.get("profiles") or {}).get(profile) or {}).get("job_arguments") or {}).get(key) or {}
    return given + [(f"profiles.{profile}.job_arguments.{key}", str(name)) for name in by_job]


def argument_problems(settings: Settings, repo_root: Path, keys: Iterable[str], overridden: Iterable[str] = ()) -> list[str]:
    """One line per argument name given to the jobs ``keys`` that the job would not use as meant."""
    from_set = tuple(overridden)
    problems = []
    for key in keys:
        job = settings.job(key)
        names = declared(repo_root, job.script)
        for where, name in _given(settings.resolved, key):
            problem = name_problem(name, names, job.date_ranged)
            if problem:
                dotted = f"{where}.{name}"
                problems.append(f"{'--set ' if dotted in from_set else ''}{dotted}: {problem}")
    return problems


def check_job_arguments(settings: Settings, repo_root: Path, keys: Iterable[str], overrides: Iterable[str] = ()) -> None:
    """Raise ConfigError naming every argument of ``keys`` a job would not use as meant.

    ``overrides`` are the command's ``--set dotted.key=value``: a problem one of them brought in says so.
    """
    overridden = [override.partition("=")[0] for override in overrides]
    problems = argument_problems(settings, repo_root, keys, overridden)
    if problems:
        raise ConfigError("job arguments a job would not use:\n  " + "\n  ".join(problems))
