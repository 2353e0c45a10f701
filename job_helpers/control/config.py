"""config.yml: loaded once per command, expanded, overridden, validated, and turned into plain values.

Nothing else reads the file. Jobs never see it: the control plane resolves locations to URLs and
hands them to jobs as arguments. The sections a domain owns (``SECTIONS``) are parsed by that
domain's ``settings.parse`` and kept, typed, on ``Settings``.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from job_helpers.config_keys import DASHES, UNKNOWN_KEY, ConfigError, SectionContext, check_keys
from job_helpers.control import aws_region, local_on_aws, stack_settings
from job_helpers.control.config_yaml import TooDeepError, describe_yaml_error, load_yaml
from job_helpers.control.local_on_aws import LocalRunnerSettings
from job_helpers.control.stack_settings import StackSettings
from job_helpers.datasets import registered

PROFILES = ("local", "aws")
COMMANDS = ("glueetl",)
# The worker types of Glue 5 Spark batch jobs (AWS Glue docs: worker types, CreateJob's WorkerType).
WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X", "G.12X", "G.16X", "R.1X", "R.2X", "R.4X", "R.8X")
# Glue runs Flex (spare capacity, lower price) for glueetl jobs of Glue 3.0+ on these worker types only.
EXECUTION_CLASSES = ("STANDARD", "FLEX")
FLEX_WORKER_TYPES = ("G.1X", "G.2X")
NOT_FOR_BATCH_JOBS = {"G.025X": "Glue runs it for streaming jobs only", "Z.2X": "Glue runs it for Ray jobs only"}
IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
REFERENCE = re.compile(r"(?<!\$)\{([a-z_][a-z0-9_.]*)\}")
# The values a job argument may take, as the data sets declare them.
ARGUMENT_CHOICES = {name: choices for dataset in registered() for name, choices in dataset.argument_choices.items()}


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


@dataclass(frozen=True)
class GluePrices:
    """USD per DPU-hour of Glue jobs in one region; ``memory_optimized`` per M-DPU-hour (R workers), if known."""

    standard: float
    flex: float
    memory_optimized: float | None = None


# Glue's list prices in us-east-1 (https://aws.amazon.com/glue/pricing/), the default table.
DEFAULT_GLUE_PRICES = {"us-east-1": GluePrices(0.44, 0.29)}
PRICE_KEYS = ("standard", "flex", "memory_optimized")
RENAMED_PROJECT_KEYS = {
    "price_per_dpu_hour": "project.glue_prices.<region>.standard",
    "flex_price_per_dpu_hour": "project.glue_prices.<region>.flex",
}


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of one profile."""

    profile: str
    tag_key: str
    tag_value: str
    datasets: dict[str, str]
    jobs: dict[str, JobSpec]
    pipelines: dict[str, PipelineSpec]
    resolved: dict[str, Any] = field(repr=False)
    athena_database: str = "glue_etl"
    athena_workgroup: str = "primary"
    lake_root: Path | None = None
    max_parallel_runs: int = 1
    max_jobs_per_batch: int = 400
    # Glue's default quota is 1,000 jobs per account; execute refuses a batch that would pass this.
    max_project_jobs: int = 900
    glue_prices: dict[str, GluePrices] = field(default_factory=lambda: dict(DEFAULT_GLUE_PRICES))
    # The region whose prices a batch's cost is shown at: the aws profile's region; locally
    # profiles.local.price_region (local runs are estimates of what Glue would bill).
    price_region: str = "us-east-1"
    aws_profile: str | None = None
    # The aws profile's region as boto3 resolves it (profiles.aws.region first), and where it came from.
    region: str | None = None
    region_source: str | None = None
    cross_region_buckets: bool = False
    glue_role_arn: str | None = None
    glue_version: str | None = None
    kms_key_arn: str | None = None
    # The role EventBridge Scheduler starts the schedules' Glue jobs as (make schedule; make stack creates it).
    scheduler_role_arn: str | None = None
    examples: tuple[str, ...] = ()
    # The sections of SECTIONS, parsed; None when config.yml has no such section. A data set's
    # section (its name, e.g. stedi:) is kept under ``sections``, typed by its package.
    sections: Mapping[str, Any] = field(default_factory=dict)
    local_runner: LocalRunnerSettings | None = None
    stack: StackSettings | None = None

    @property
    def tags(self) -> dict[str, str]:
        return {self.tag_key: self.tag_value}

    @property
    def lake(self) -> Path:
        """The local lake folder; only the local profile has one."""
        if self.lake_root is None:
            raise ConfigError(f"profile {self.profile} has no local lake folder (profiles.local.lake_root)")
        return self.lake_root

    def section(self, name: str) -> Any:
        """The parsed section a data set owns in config.yml (``stedi``, ``embrace``, ``ingest``…), or None."""
        return self.sections.get(name)

    def job(self, key: str) -> JobSpec:
        if key not in self.jobs:
            raise ConfigError(f"unknown job {key!r}: choose one of {', '.join(sorted(self.jobs))}")
        return self.jobs[key]


def load_settings(
    path: Path,
    profile: str | None = None,
    overrides: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read config.yml, expand ${VAR}, apply ``dotted.key=value`` overrides, validate, resolve."""
    environ = os.environ if environ is None else environ
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(f"{path}: no such file; run commands from the repository root or pass --config") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {describe_yaml_error(error)}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    document = _expand(raw, environ, "")
    for override in overrides:
        _apply_override(document, override)
        _let_job_argument_override_win(document, override)
    overridden = [override.partition("=")[0] for override in overrides]
    return _resolve(document, profile, base_dir=path.resolve().parent, overridden=overridden, environ=environ)


def _expand(value: Any, environ: Mapping[str, str], key: str) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, environ, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, environ, key) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ and environ[name] != "":
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{key}: environment variable {name} is not set; set it or write ${{{name}:-default}}")

    return ENV_REFERENCE.sub(substitute, value)


def _apply_override(document: dict, override: str) -> None:
    dotted, sep, text = override.partition("=")
    if not sep or not dotted:
        raise ConfigError(f"--set {override!r}: expected dotted.key=value")
    node = document
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted}: {part!r} holds a value, not a section")
        node = child
    if len(parts) > 2 and parts[-2] == "arguments":
        node[parts[-1]] = text
        return
    try:
        value = load_yaml(text) if text else ""
    except TooDeepError as error:
        raise ConfigError(f"--set {dotted}: {error}") from error
    except yaml.YAMLError:
        value = text
    node[parts[-1]] = text if isinstance(value, (dict, list)) or value is None else value


def _let_job_argument_override_win(document: dict, override: str) -> None:
    """``--set jobs.J.arguments.A=V`` beats ``profiles.P.job_arguments.J.A``, which would otherwise be merged over it."""
    parts = override.partition("=")[0].split(".")
    if len(parts) != 4 or parts[0] != "jobs" or parts[2] != "arguments":
        return
    for options in (document.get("profiles") or {}).values():
        job_arguments = ((options or {}).get("job_arguments") or {}).get(parts[1])
        if isinstance(job_arguments, dict):
            job_arguments.pop(parts[3], None)


# The sections the data sets own, by name (the top-level key of config.yml) → the data set's parser;
# each result is kept in Settings.sections.
DATASET_SECTIONS = {dataset.name: dataset.settings for dataset in registered() if dataset.settings}
# The control plane's own sections: where each is in config.yml → its parser; each result is kept
# on Settings under the last part of the path.
SECTIONS = {
    "profiles.aws.local_runner": local_on_aws.parse,
    "profiles.aws.stack": stack_settings.parse,
}
# The sections of config.yml; each section's own keys are declared next to the code that reads it.
TOP_LEVEL_KEYS = (
    "default_profile",
    "project",
    "athena",
    "buckets",
    "datasets",
    "profiles",
    "jobs",
    "pipelines",
    *DATASET_SECTIONS,
)
PROJECT_KEYS = (
    "prefix",
    "tag",
    "max_jobs_per_batch",
    "max_project_jobs",
    "glue_prices",
    "max_row_loss",
)
TAG_KEYS = ("key", "value")
ATHENA_KEYS = ("database", "workgroup")
LOCAL_PROFILE_KEYS = ("lake_root", "max_parallel_runs", "job_arguments", "price_region")


def _resolve(
    document: dict, profile: str | None, base_dir: Path, overridden: Iterable[str] = (), environ: Mapping[str, str] | None = None
) -> Settings:
    problems: list[str] = []
    check_keys(document, TOP_LEVEL_KEYS, "", problems)
    profile = profile or document.get("default_profile") or "local"
    if profile not in PROFILES:
        raise ConfigError(f"profile {profile!r} is unknown: use one of {', '.join(PROFILES)}")
    profiles = document.get("profiles") or {}
    options = profiles.get(profile) or {}
    check_keys(profiles, PROFILES, "profiles", problems)
    check_keys(profiles.get("local"), LOCAL_PROFILE_KEYS, "profiles.local", problems)
    check_keys(profiles.get("aws"), AWS_PROFILE_KEYS, "profiles.aws", problems)

    project = document.get("project") or {}
    for old, new in RENAMED_PROJECT_KEYS.items():
        if old in project:
            problems.append(f"project.{old}: replaced by {new} (prices are kept per region)")
    check_keys({k: v for k, v in project.items() if k not in RENAMED_PROJECT_KEYS}, PROJECT_KEYS, "project", problems)
    prefix = str(project.get("prefix") or "")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", prefix):
        problems.append("project.prefix: must be 1-64 letters, digits, '-' or '_' (it starts every job name)")
    tag = project.get("tag") or {}
    check_keys(tag, TAG_KEYS, "project.tag", problems)
    tag_key = str(tag.get("key") or "source")
    tag_value = str(tag.get("value") or prefix)

    athena = document.get("athena") or {}
    check_keys(athena, ATHENA_KEYS, "athena", problems)
    database = str(athena.get("database") or "glue_etl")
    if not re.fullmatch(r"[a-z0-9_]{1,255}", database):
        problems.append(f"athena.database: {database!r} must be lower case letters, digits and '_'")

    lake_root = None
    if profile == "local":
        lake_root = Path(str(options.get("lake_root") or ".lake"))
        if not lake_root.is_absolute():
            lake_root = base_dir / lake_root
        lake_root = lake_root.resolve()
    datasets = _resolve_datasets(document, profile, lake_root, problems)
    aws_kms_key = str((profiles.get("aws") or {}).get("kms_key_arn") or "") or None
    context = SectionContext(profile, base_dir, datasets, document.get("buckets") or {}, aws_kms_key)
    owned = _parse_dataset_sections(document, context, problems)
    sections = _parse_sections(document, context, problems)
    references = {
        **datasets,
        **_section_references(owned, datasets, problems),
        "project.max_row_loss": repr(_share(project, "max_row_loss", 0.5, problems)),
    }
    jobs = _resolve_jobs(document, options.get("job_arguments") or {}, prefix, references, problems)
    for name, node in profiles.items():
        if isinstance(node, dict):
            check_keys(node.get("job_arguments"), jobs, f"profiles.{name}.job_arguments", problems)
    pipelines = _resolve_pipelines(document, jobs, datasets, problems)

    settings: dict[str, Any] = {
        "max_jobs_per_batch": _positive_int(project, "max_jobs_per_batch", 400, "project", problems),
        "max_project_jobs": _positive_int(project, "max_project_jobs", 900, "project", problems),
        "glue_prices": _glue_prices(project.get("glue_prices"), problems),
    }
    if profile == "local":
        settings["max_parallel_runs"] = _positive_int(options, "max_parallel_runs", 2, f"profiles.{profile}", problems)
        settings["price_region"] = str(options.get("price_region") or "us-east-1")
    else:
        settings.update(_aws_settings(options, os.environ if environ is None else environ, problems))
        settings["price_region"] = settings["region"] or ""
        settings["examples"] = example_values(document.get("buckets") or {}, options)
    if problems:
        raise ConfigError("config.yml is invalid:\n  " + "\n  ".join(_name_overrides(problems, overridden)))
    resolved = copy.deepcopy(document)
    resolved["profile"] = profile
    resolved["paths"] = datasets
    return Settings(
        profile=profile,
        tag_key=tag_key,
        tag_value=tag_value,
        datasets=datasets,
        jobs=jobs,
        pipelines=pipelines,
        resolved=resolved,
        lake_root=lake_root,
        athena_database=database,
        athena_workgroup=str(athena.get("workgroup") or "primary"),
        **settings,
        **sections,
        sections=owned,
    )


def _parse_dataset_sections(document: dict, context: SectionContext, problems: list[str]) -> dict[str, Any]:
    """Each data set's section that config.yml has, parsed by its package; None for one it lacks."""
    return {
        name: parse(document[name], context, problems) if name in document else None for name, parse in DATASET_SECTIONS.items()
    }


def _parse_sections(document: dict, context: SectionContext, problems: list[str]) -> dict[str, Any]:
    """Each section of SECTIONS that config.yml has, parsed by its domain, by its Settings name."""
    parsed: dict[str, Any] = {}
    for path, parse in SECTIONS.items():
        *parents, name = path.split(".")
        node: Any = document
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        parsed[name] = parse(node[name], context, problems) if isinstance(node, dict) and name in node else None
    return parsed


def _section_references(sections: Mapping[str, Any], datasets: Mapping[str, str], problems: list[str]) -> dict[str, str]:
    """The values a data set's section lends job arguments (``{stedi.<option>}``, ``{embrace.limits.<name>}``).

    A section defines them with a ``references()`` method; each is checked not to shadow a data set
    name. A config without the section (a project without those jobs) defines none of them.
    """
    references: dict[str, str] = {}
    for section in sections.values():
        references.update(section.references() if hasattr(section, "references") else {})
    for name in references:
        if name in datasets:
            problems.append(f"datasets.{name}: the name is taken by the option {name} of config.yml; rename the data set")
    return references


def _name_overrides(problems: list[str], overridden: Iterable[str]) -> list[str]:
    """Say ``--set`` in front of an unknown key that an override brought in, so the user looks there."""
    dotted = tuple(overridden)

    def named(problem: str) -> str:
        path, _, rest = problem.partition(": ")
        from_set = any(key == path or key.startswith(path + ".") for key in dotted)
        return f"--set {problem}" if from_set and rest.startswith(UNKNOWN_KEY) else problem

    return [named(problem) for problem in problems]


DATASET_KEYS = ("bucket", "prefix")
# Directory buckets (S3 Express One Zone) are named <base>--<zone id>--x-s3.
DIRECTORY_BUCKET_SUFFIX = "--x-s3"


def _resolve_datasets(document: dict, profile: str, lake_root: Path | None, problems: list[str]) -> dict[str, str]:
    buckets = document.get("buckets") or {}
    found: dict[str, str] = {}

    def visit(node: Any, name: str) -> None:
        if isinstance(node, dict) and "bucket" in node:
            key = f"datasets.{name}"
            check_keys(node, DATASET_KEYS, key, problems)
            logical = node["bucket"]
            prefix = str(node.get("prefix") or "")
            if logical not in buckets:
                problems.append(f"{key}.bucket: {logical!r} is not declared under buckets ({', '.join(buckets)})")
                return
            bucket = str(buckets[logical])
            if prefix and not prefix.endswith("/"):
                problems.append(f"{key}.prefix: {prefix!r} must end with '/' (write {prefix}/)")
                return
            if prefix.startswith("/"):
                problems.append(f"{key}.prefix: {prefix!r} must not start with '/'")
                return
            if lake_root is not None:
                found[name] = (lake_root / bucket).as_uri() + "/" + prefix
            elif not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
                problems.append(f"buckets.{logical}: {bucket!r} is not a valid S3 bucket name")
            elif bucket.endswith(DIRECTORY_BUCKET_SUFFIX):
                problems.append(
                    f"buckets.{logical}: {bucket!r} is an S3 Express One Zone directory bucket; the jobs need general purpose "
                    "buckets (listing in key order, storage classes, Hadoop S3A), so give a general purpose bucket"
                )
            else:
                found[name] = f"s3://{bucket}/{prefix}"
        elif isinstance(node, dict):
            for child, value in node.items():
                visit(value, f"{name}.{child}" if name else str(child))
        else:
            problems.append(f"datasets.{name}: expected {{bucket: ..., prefix: ...}}")

    visit(document.get("datasets") or {}, "")
    return found


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


def _resolve_jobs(
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
        command = job.get("command", "glueetl")
        if command not in COMMANDS:
            problems.append(
                f"{where}.command: {command!r} is not supported: Glue 5 runs Python 3.11 only in glueetl jobs "
                "(Python shell jobs stop at Glue 3.0 and Python 3.9); use glueetl"
            )
        worker_type = job.get("worker_type", "G.1X")
        if worker_type not in WORKER_TYPES:
            why = f" ({NOT_FOR_BATCH_JOBS[worker_type]})" if worker_type in NOT_FOR_BATCH_JOBS else ""
            problems.append(
                f"{where}.worker_type: {worker_type!r} is not a worker type of Glue 5 batch jobs{why}; "
                f"use one of {', '.join(WORKER_TYPES)}"
            )
        execution_class = str(job.get("execution_class", "STANDARD"))
        problem = execution_class_problem(execution_class, worker_type)
        if problem:
            problems.append(f"{where}.execution_class: {problem}")
        script = job.get("script")
        if not script or not str(script).endswith(".py"):
            problems.append(f"{where}.script: give the job's Python file, e.g. jobs/{key}.py")
        arguments = {**(job.get("arguments") or {}), **(profile_arguments.get(key) or {})}
        jobs[key] = JobSpec(
            key=key,
            name_prefix=str(job.get("name_prefix") or f"{prefix}-{key.replace('_', '-')}"),
            script=str(script),
            command=command,
            worker_type=worker_type,
            number_of_workers=_positive_int(job, "number_of_workers", 2, where, problems),
            timeout_minutes=_positive_int(job, "timeout_minutes", 60, where, problems),
            max_concurrent_runs=_positive_int(job, "max_concurrent_runs", 1, where, problems),
            date_ranged=bool(job.get("date_ranged", False)),
            arguments=_resolve_arguments(arguments, datasets, where, problems),
            description=str(job.get("description") or ""),
            execution_class=execution_class,
        )
    return jobs


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


# The example values config.yml ships with: fine against an emulator, never meant for a real account.
EXAMPLE_ACCOUNT = "123456789012"
EXAMPLE_BUCKETS = frozenset({"glue-etl-assets", *(bucket for dataset in registered() for bucket in dataset.example_buckets)})


def example_values(buckets: Mapping[str, Any], aws_options: Mapping[str, Any]) -> tuple[str, ...]:
    """One line per aws setting still holding an example value: the documentation account, a shipped bucket name."""
    found = [
        f"profiles.aws.{key}: {value} is in the example account {EXAMPLE_ACCOUNT}; set {env} or edit config.yml"
        for key, env in (("glue_role_arn", "GLUE_ROLE_ARN"), ("kms_key_arn", "KMS_KEY_ARN"))
        if f":{EXAMPLE_ACCOUNT}:" in (value := str(aws_options.get(key) or ""))
    ]
    found += [
        f"buckets.{name}: {bucket} is the example name; give your bucket in config.yml or its environment variable"
        for name, bucket in buckets.items()
        if str(bucket) in EXAMPLE_BUCKETS
    ]
    return tuple(found)


def refuse_examples(settings: Settings, environ: Mapping[str, str] | None = None) -> None:
    """Refuse to create AWS resources with example values, except against an emulator (AWS_ENDPOINT_URL set)."""
    environ = os.environ if environ is None else environ
    if settings.profile == "aws" and settings.examples and not environ.get("AWS_ENDPOINT_URL"):
        raise ConfigError(
            "the aws profile still has example values from config.yml; give real ones before creating AWS "
            "resources (with AWS_ENDPOINT_URL set, as for moto, examples are allowed):\n  " + "\n  ".join(settings.examples)
        )


AWS_PROFILE_KEYS = (
    "aws_profile",
    "region",
    "cross_region_buckets",
    "glue_role_arn",
    "glue_version",
    "kms_key_arn",
    "scheduler_role_arn",
    "job_arguments",
    "local_runner",
    "stack",
)


def _aws_settings(options: dict, environ: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    where = "profiles.aws"
    role = str(options.get("glue_role_arn") or "")
    if not IAM_ROLE_ARN.match(role):
        problems.append(
            f"{where}.glue_role_arn: {role!r} is not an IAM role ARN "
            "(arn:aws:iam::<12-digit account>:role/<name>); set GLUE_ROLE_ARN or edit config.yml"
        )
    version = str(options.get("glue_version") or "")
    if not re.fullmatch(r"\d+\.\d+", version) or tuple(map(int, version.split("."))) < (5, 0):
        problems.append(f"{where}.glue_version: {version!r} must be 5.0 or newer (the jobs need Python 3.11)")
    aws_profile = str(options.get("aws_profile") or "") or None
    region, problem = aws_region.region_problem(str(options.get("region") or ""), aws_profile, environ)
    if problem:
        problems.append(problem)
    elif region and not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region.name):
        problems.append(f"{where}.region: {region.name!r} ({region.source}) is not an AWS region such as us-east-1")
    cross_region = options.get("cross_region_buckets", False)
    if not isinstance(cross_region, bool):
        problems.append(f"{where}.cross_region_buckets: {cross_region!r} must be true or false")
    kms = str(options.get("kms_key_arn") or "") or None
    if kms and not kms.startswith("arn:aws"):
        problems.append(f"{where}.kms_key_arn: {kms!r} must be a KMS key ARN or empty")
    scheduler_role = str(options.get("scheduler_role_arn") or "") or None
    if scheduler_role and not (IAM_ROLE_ARN.match(scheduler_role) and _account_of(scheduler_role) == _account_of(role)):
        problems.append(
            f"{where}.scheduler_role_arn: {scheduler_role!r} must be an IAM role ARN in the account of glue_role_arn, "
            "or empty; set SCHEDULER_ROLE_ARN or edit config.yml"
        )
    return {
        "aws_profile": aws_profile,
        "region": region.name if region else None,
        "region_source": region.source if region else None,
        "cross_region_buckets": cross_region is True,
        "glue_role_arn": role,
        "glue_version": version,
        "kms_key_arn": kms,
        "scheduler_role_arn": scheduler_role,
    }


def _account_of(role_arn: str) -> str:
    return role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""


def _glue_prices(node: Any, problems: list[str]) -> dict[str, GluePrices]:
    """``project.glue_prices``: per region, USD per DPU-hour (standard, flex) and per M-DPU-hour (memory_optimized)."""
    if node is None:
        return dict(DEFAULT_GLUE_PRICES)
    if not isinstance(node, dict):
        problems.append("project.glue_prices: must map regions to {standard, flex[, memory_optimized]}")
        return dict(DEFAULT_GLUE_PRICES)
    prices = {}
    for region, entry in node.items():
        where = f"project.glue_prices.{region}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping of {', '.join(PRICE_KEYS)}")
            continue
        check_keys(entry, PRICE_KEYS, where, problems)
        found = {name: _price(entry, name, where, problems) for name in PRICE_KEYS if name in entry}
        if "standard" not in found or "flex" not in found:
            problems.append(f"{where}: needs standard and flex (USD per DPU-hour), e.g. {{standard: 0.44, flex: 0.29}}")
            continue
        prices[str(region)] = GluePrices(**found)
    return prices


def _price(node: dict, name: str, where: str, problems: list[str]) -> float:
    value = node[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        problems.append(f"{where}.{name}: {value!r} must be a price in USD, e.g. 0.44")
        return 0.0
    return float(value)


def _share(node: dict, name: str, default: float, problems: list[str]) -> float:
    value = node.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        problems.append(f"project.{name}: {value!r} must be a share from 0 to 1, e.g. {default} for {default:.0%}")
        return default
    return float(value)


def _positive_int(node: dict, name: str, default: int, where: str, problems: list[str]) -> int:
    value = node.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems.append(f"{where}.{name}: {value!r} must be a positive whole number")
        return default
    return value


@dataclass(frozen=True)
class PipelineSpec:
    """Jobs run in order by ``pipeline``, and the tables whose row counts its summary shows."""

    name: str
    jobs: tuple[str, ...]
    tables: tuple[str, ...]
    description: str = ""


PIPELINE_KEYS = ("description", "jobs", "tables")


def _resolve_pipelines(
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


def pipeline_spec(settings: Settings, name: str) -> PipelineSpec:
    """The named pipeline of config.yml."""
    if name not in settings.pipelines:
        known = ", ".join(sorted(settings.pipelines)) or "none declared"
        raise ConfigError(f"pipelines.{name}: no such pipeline in config.yml (known: {known})")
    return settings.pipelines[name]
