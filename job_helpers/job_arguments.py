"""Typed values from a job's resolved ``--name value`` arguments, with errors that name the argument.

``getResolvedOptions`` hands every value over as a string keyed with ``_`` for ``-``; jobs turn
them into dates, choices and numbers here, so a bad value fails the run with one clear line.

A job takes only the names it declares (each job script's ``OPTIONS`` and ``OPTIONAL``) and
those Glue passes or reads itself (``GLUE_ARGUMENTS``): ``getResolvedOptions`` ignores any other
name, so ``--timeseries-tpye DISASSOCIATED`` would run with the default type. ``undeclared``
names each stranger with the declared name it was probably meant to be; the job refuses them at
start-up and ``execute``, ``retry`` and ``config check`` refuse them before any job starts.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date

from job_helpers.config_keys import DASHES
from job_helpers.job_failed import JobFailed
from job_helpers.publish import ShrinkGuard
from job_helpers.relative_dates import FORMS, LOGICAL_TIME, DayOutOfRange, NotADate, logical_day, resolve_day, utc_today

# The job parameters AWS Glue documents ("Using job parameters in AWS Glue jobs", the job parameter
# reference): a job definition may set them and Glue reads them, or passes them to the script.
GLUE_JOB_PARAMETERS = frozenset(
    {
        "additional-python-modules",
        "auto-scale-within-microbatch",
        "class",
        "continuous-log-conversionPattern",
        "continuous-log-logGroup",
        "continuous-log-logStreamPrefix",
        "customer-driver-env-vars",
        "customer-executor-env-vars",
        "datalake-formats",
        "disable-proxy-v2",
        "enable-auto-scaling",
        "enable-continuous-cloudwatch-log",
        "enable-continuous-log-filter",
        "enable-glue-datacatalog",
        "enable-job-insights",
        "enable-lakeformation-fine-grained-access",
        "enable-metrics",
        "enable-observability-metrics",
        "enable-rename-algorithm-v2",
        "enable-s3-parquet-optimized-committer",
        "enable-spark-ui",
        "encryption-type",
        "executor-cores",
        "extra-files",
        "extra-jars",
        "extra-py-files",
        "job-bookmark-option",
        "job-language",
        "python-modules-installer-option",
        "scriptLocation",
        "spark-event-logs-path",
        "TempDir",
        "use-postgres-driver",
        "user-jars-first",
        "write-shuffle-files-to-s3",
        "write-shuffle-spills-to-s3",
    }
)
# Names Glue sets on every run itself: the ones its documentation says never to set, and the ids,
# bookmark range and options ``awsglue``'s Job and getResolvedOptions reserve.
GLUE_SETS = frozenset(
    {
        "conf",
        "debug",
        "mode",
        "JOB_NAME",
        "JOB_ID",
        "JOB_RUN_ID",
        "SECURITY_CONFIGURATION",
        "job-bookmark-from",
        "job-bookmark-to",
        "continuation-option",
        "RedshiftTempDir",
        "enable-data-lineage",
    }
)
GLUE_ARGUMENTS = GLUE_JOB_PARAMETERS | GLUE_SETS
# What ``execute`` passes every job besides its own arguments: where to write the run report.
RUN_REPORTS = "run-reports"


# A whole number in ASCII digits, short enough for int() (Python refuses more than 4,300 digits).
DIGITS = re.compile(r"[0-9]{1,18}")
# A decimal in ASCII digits, with an exponent as Python writes small floats (1e-05): float() alone also
# took other scripts' digits (０.５), underscores (0.0_1), spaces, nan and inf.
DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?")


def argument_names(argv: Sequence[str]) -> list[str]:
    """The name of every option in a job's argv (``--name=value`` too), in order, without its dashes.

    A name typed with an en or em dash counts too: argparse would pass it over as a value.
    """
    names = []
    for item in argv[1:]:
        if item.startswith("--") and len(item) > 2:
            names.append(item[2:].partition("=")[0])
        elif item[:1] in ("\u2013", "\u2014") and len(item) > 1:
            names.append(item.partition("=")[0])
    return names


def closest(name: str, declared: Iterable[str]) -> str | None:
    """The declared name ``name`` was most likely meant to be: the same letters in another case, else
    the nearest spelling (a transposition, a letter too many or too few), else None."""
    candidates = sorted(declared)
    folded = {candidate.lower().replace("_", "-"): candidate for candidate in candidates}
    key = name.lower().replace("_", "-").lstrip(DASHES)
    if key in folded:
        return folded[key]
    near = difflib.get_close_matches(key, list(folded), n=1, cutoff=0.75)
    return folded[near[0]] if near else None


def undeclared(names: Iterable[str], declared: Collection[str], others: Collection[str] = GLUE_ARGUMENTS) -> list[str]:
    """One line per name that is neither declared nor in ``others``, naming the closest declared name."""
    problems = []
    for name in names:
        if name in declared or name in others:
            continue
        close = closest(name, declared) or closest(name, others)
        hint = f"did you mean --{close}?" if close else f"it takes {', '.join(f'--{n}' for n in sorted(declared))}"
        problems.append(f"{name if name[:1] in DASHES else '--' + name}: the job takes no such argument; {hint}")
    return problems


def _value(args: Mapping[str, str], name: str) -> str:
    return args[name.replace("-", "_")]


def day(args: Mapping[str, str], name: str, today: date | None = None) -> date:
    """A date argument: ``YYYY-MM-DD``, or ``today``, ``yesterday``, ``today-N`` resolved now (UTC).

    Relative dates let one scheduled trigger pass the same arguments every day.
    """
    value = _value(args, name)
    try:
        return resolve_day(value, today)
    except DayOutOfRange as error:
        raise JobFailed(f"--{name} {error}") from error
    except NotADate as error:
        raise JobFailed(f"--{name} {value!r} is not a date; give {FORMS}") from error


def scheduled_day(args: Mapping[str, str]) -> date | None:
    """The day of ``--logical-time`` when a schedule gave one (relative dates count from it), else None."""
    if LOGICAL_TIME.replace("-", "_") not in args:
        return None
    value = _value(args, LOGICAL_TIME)
    try:
        return logical_day(value)
    except NotADate as error:
        raise JobFailed(f"--{LOGICAL_TIME} {value!r}: {error}") from error


def day_range(args: Mapping[str, str], today: date | None = None) -> tuple[date, date]:
    """``--from-date`` and ``--to-date``, both included, in order; relative ones resolved against one today.

    That today is the day of ``--logical-time`` in a run a schedule started, so a re-run of it
    covers the same days; else today in UTC.
    """
    today = today or scheduled_day(args) or utc_today()
    first, last = day(args, "from-date", today), day(args, "to-date", today)
    if last < first:
        raise JobFailed(f"--to-date {last} is before --from-date {first}")
    return first, last


def choice(args: Mapping[str, str], name: str, choices: Sequence[str]) -> str:
    value = _value(args, name)
    if value not in choices:
        raise JobFailed(f"--{name} {value!r} is not one of {', '.join(choices)}")
    return value


def positive_int(args: Mapping[str, str], name: str) -> int:
    return whole_number(args, name, 1)


def switch(args: Mapping[str, str], name: str) -> bool:
    """``true`` or ``false`` (any case, surrounding spaces ignored)."""
    value = _value(args, name).strip().lower()
    if value not in ("true", "false"):
        raise JobFailed(f"--{name} {_value(args, name)!r} must be true or false")
    return value == "true"


def optional_day_range(args: Mapping[str, str], today: date | None = None) -> tuple[date, date] | None:
    """``--from-date`` and ``--to-date`` when both are given, None when neither is."""
    given = [name for name in ("from-date", "to-date") if name.replace("-", "_") in args]
    if not given:
        return None
    if len(given) == 1:
        raise JobFailed(f"--{given[0]} needs its partner: give both --from-date and --to-date, or neither")
    return day_range(args, today)


def whole_number(args: Mapping[str, str], name: str, minimum: int, hint: str = "") -> int:
    """A whole number of at least ``minimum``; ``hint`` shows the user a sensible value."""
    value = _value(args, name)
    if not DIGITS.fullmatch(value) or int(value) < minimum:
        raise JobFailed(f"--{name} {value!r} must be a whole number of at least {minimum}{f' ({hint})' if hint else ''}")
    return int(value)


def share(args: Mapping[str, str], name: str) -> float:
    """A share from 0 to 1 (0.01 is 1%)."""
    value = _value(args, name)
    number = float(value) if DECIMAL.fullmatch(value) else -1.0
    if not 0.0 <= number <= 1.0:
        raise JobFailed(f"--{name} {value!r} must be a number from 0 to 1 in ASCII digits, e.g. 0.01 for 1%")
    return number


def optional_switch(args: Mapping[str, str], name: str) -> bool:
    """A ``switch`` that is false when the argument is not given."""
    return name.replace("-", "_") in args and switch(args, name)


def shrink_guard(args: Mapping[str, str]) -> ShrinkGuard:
    """``--allow-shrink`` (false when absent) and ``--max-row-loss``, the share of a scope's rows a publish
    may lose (config.yml ``project.max_row_loss``; the guard's default when absent)."""
    allowed = optional_switch(args, "allow-shrink")
    if "max_row_loss" not in args:
        return ShrinkGuard(allowed=allowed)
    return ShrinkGuard(allowed=allowed, max_loss=share(args, "max-row-loss"))
