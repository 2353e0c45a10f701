"""config.yml: loaded once per command, expanded, overridden, validated, and turned into plain values.

Nothing else reads the file. Jobs never see it: the control plane resolves locations to URLs and
hands them to jobs as arguments. The sections a domain owns (``SECTIONS``) are parsed by that
domain's ``settings.parse`` and kept, typed, on ``Settings``. The file is read by ``config_document``;
jobs and pipelines are resolved by ``config_jobs``, the aws profile by ``aws_profile_settings``; every
value is read through ``job_helpers.config_fields``.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from job_helpers.config_fields import Share, Text, WholeNumber, read_fields
from job_helpers.config_keys import UNKNOWN_KEY, ConfigError, SectionContext, check_keys
from job_helpers.control import aws_profile_settings, glue_prices, local_on_aws, stack_settings
from job_helpers.control.config_document import read_document

# JobSpec, PipelineSpec, render_references and execution_class_problem are imported from here by the commands.
from job_helpers.control.config_jobs import JobSpec, PipelineSpec, resolve_jobs, resolve_pipelines
from job_helpers.control.config_jobs import execution_class_problem as execution_class_problem
from job_helpers.control.config_jobs import render_references as render_references
from job_helpers.control.config_shape import mapping_problems
from job_helpers.control.glue_prices import DEFAULT_GLUE_PRICES, GluePrices
from job_helpers.control.local_on_aws import LocalRunnerSettings
from job_helpers.control.stack_settings import StackSettings
from job_helpers.datasets import registered
from job_helpers.storage import file_url

PROFILES = ("local", "aws")


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
    document = read_document(path, overrides, environ)
    overridden = [override.partition("=")[0] for override in overrides]
    return _resolve(document, profile, base_dir=path.resolve().parent, overridden=overridden, environ=environ)


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
# Every job's name starts with it.
PREFIX = Text(
    re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"), "must be 1-64 letters, digits, '-' or '_' (it starts every job name)"
)
PROJECT_NUMBERS = {"max_jobs_per_batch": WholeNumber(400), "max_project_jobs": WholeNumber(900)}
MAX_ROW_LOSS = Share(0.5)
ATHENA_DATABASE = Text(re.compile(r"[a-z0-9_]{1,255}"), "must be lower case letters, digits and '_'", default="glue_etl")
LOCAL_PARALLEL_RUNS = WholeNumber(2)


@dataclass(frozen=True)
class _Project:
    """``project:``, checked: the prefix of job names, the tag, the batch limits, prices and the row-loss guard."""

    prefix: str
    tag_key: str
    tag_value: str
    max_row_loss: float
    settings: dict[str, Any]


def _resolve(
    document: dict, profile: str | None, base_dir: Path, overridden: Iterable[str] = (), environ: Mapping[str, str] | None = None
) -> Settings:
    problems = mapping_problems(document, DATASET_SECTIONS)
    if problems:
        raise ConfigError("config.yml is invalid:\n  " + "\n  ".join(_name_overrides(problems, overridden)))
    check_keys(document, TOP_LEVEL_KEYS, "", problems)
    profile = _profile(document, profile, problems)
    profiles = document.get("profiles") or {}
    options = profiles.get(profile) or {}
    project = _project(document.get("project") or {}, problems)
    athena = _athena(document.get("athena") or {}, problems)
    lake_root = _lake_root(options, base_dir, document.get("buckets") or {}, problems) if profile == "local" else None
    datasets = _resolve_datasets(document, profile, lake_root, problems)
    aws_kms_key = str((profiles.get("aws") or {}).get("kms_key_arn") or "") or None
    context = SectionContext(profile, base_dir, datasets, document.get("buckets") or {}, aws_kms_key)
    owned = _parse_dataset_sections(document, context, problems)
    sections = _parse_sections(document, context, problems)
    references = {
        **datasets,
        **_section_references(owned, datasets, problems),
        "project.max_row_loss": repr(project.max_row_loss),
    }
    jobs = resolve_jobs(document, options.get("job_arguments") or {}, project.prefix, references, problems)
    _check_profile_job_arguments(profiles, jobs, problems)
    pipelines = resolve_pipelines(document, jobs, datasets, problems)
    chosen = _local_settings(options, problems) if profile == "local" else _aws_settings(document, options, environ, problems)
    if problems:
        raise ConfigError("config.yml is invalid:\n  " + "\n  ".join(_name_overrides(problems, overridden)))
    resolved = copy.deepcopy(document)
    resolved["profile"] = profile
    resolved["paths"] = datasets
    return Settings(
        profile=profile,
        tag_key=project.tag_key,
        tag_value=project.tag_value,
        datasets=datasets,
        jobs=jobs,
        pipelines=pipelines,
        resolved=resolved,
        lake_root=lake_root,
        **athena,
        **project.settings,
        **chosen,
        **sections,
        sections=owned,
    )


def _profile(document: dict, profile: str | None, problems: list[str]) -> str:
    """The profile asked for (else config.yml's default, else local); the keys of every profile checked."""
    profile = profile or document.get("default_profile") or "local"
    if profile not in PROFILES:
        raise ConfigError(f"profile {profile!r} is unknown: use one of {', '.join(PROFILES)}")
    profiles = document.get("profiles") or {}
    check_keys(profiles, PROFILES, "profiles", problems)
    check_keys(profiles.get("local"), LOCAL_PROFILE_KEYS, "profiles.local", problems)
    check_keys(profiles.get("aws"), aws_profile_settings.KEYS, "profiles.aws", problems)
    return profile


def _check_profile_job_arguments(profiles: dict, jobs: Mapping[str, JobSpec], problems: list[str]) -> None:
    """``profiles.<profile>.job_arguments`` may name only jobs under ``jobs``."""
    for name, node in profiles.items():
        if isinstance(node, dict):
            check_keys(node.get("job_arguments"), jobs, f"profiles.{name}.job_arguments", problems)


def _project(project: dict, problems: list[str]) -> _Project:
    for old, new in RENAMED_PROJECT_KEYS.items():
        if old in project:
            problems.append(f"project.{old}: replaced by {new} (prices are kept per region)")
    check_keys({k: v for k, v in project.items() if k not in RENAMED_PROJECT_KEYS}, PROJECT_KEYS, "project", problems)
    prefix = PREFIX.read(project, "prefix", "project", problems)
    tag = project.get("tag") or {}
    check_keys(tag, TAG_KEYS, "project.tag", problems)
    return _Project(
        prefix=prefix,
        tag_key=str(tag.get("key") or "source"),
        tag_value=str(tag.get("value") or prefix),
        max_row_loss=MAX_ROW_LOSS.read(project, "max_row_loss", "project", problems),
        settings={
            **read_fields(project, PROJECT_NUMBERS, "project", problems),
            "glue_prices": glue_prices.parse(project.get("glue_prices"), problems),
        },
    )


def _athena(athena: dict, problems: list[str]) -> dict[str, Any]:
    check_keys(athena, ATHENA_KEYS, "athena", problems)
    return {
        "athena_database": ATHENA_DATABASE.read(athena, "database", "athena", problems),
        "athena_workgroup": str(athena.get("workgroup") or "primary"),
    }


def _lake_root(options: dict, base_dir: Path, buckets: dict, problems: list[str]) -> Path:
    """The local profile's lake folder, relative to config.yml's folder unless absolute; its folders, as the
    bucket folders under it, are named without Spark's pattern characters."""
    lake_root = Path(str(options.get("lake_root") or ".lake"))
    lake_root = (lake_root if lake_root.is_absolute() else base_dir / lake_root).resolve()
    named = {"profiles.local.lake_root": str(lake_root)} | {f"buckets.{name}": str(bucket) for name, bucket in buckets.items()}
    for key, text in named.items():
        if pattern := _pattern_characters(text):
            problems.append(
                f"{key}: {text!r} holds {pattern}, which Spark reads as a file name pattern, so the jobs would find "
                "no data or another folder's; name its folders without them (LAKE_ROOT=/path puts the lake elsewhere)"
            )
    return lake_root


def _pattern_characters(text: str) -> str:
    """The characters of ``text`` Spark would read as a glob (see SPARK_PATTERN_CHARACTERS), in order."""
    return " ".join(sorted(set(text) & set(SPARK_PATTERN_CHARACTERS)))


def _local_settings(options: dict, problems: list[str]) -> dict[str, Any]:
    return {
        "max_parallel_runs": LOCAL_PARALLEL_RUNS.read(options, "max_parallel_runs", "profiles.local", problems),
        "price_region": str(options.get("price_region") or "us-east-1"),
    }


def _aws_settings(document: dict, options: dict, environ: Mapping[str, str] | None, problems: list[str]) -> dict[str, Any]:
    """The aws profile's values, its prices' region (its own) and what still holds an example value."""
    chosen = aws_profile_settings.parse(options, os.environ if environ is None else environ, problems)
    return {**chosen, "price_region": chosen["region"] or "", "examples": example_values(document.get("buckets") or {}, options)}


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
# Spark (Hadoop's globStatus) reads every path it is given as a pattern, on S3 as in a folder: a name with
# [, { or \ matches no folder, and * or ? match its neighbours too, so a job would read nothing or another
# folder's files. Data set locations are refused with them, naming the key, not read.
SPARK_PATTERN_CHARACTERS = "[{\\*?"
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
            if pattern := _pattern_characters(prefix):
                problems.append(f"{key}.prefix: {prefix!r} holds {pattern}, which Spark reads as a file name pattern")
                return
            if lake_root is not None:
                found[name] = file_url(lake_root / bucket) + "/" + prefix
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


def pipeline_spec(settings: Settings, name: str) -> PipelineSpec:
    """The named pipeline of config.yml."""
    if name not in settings.pipelines:
        known = ", ".join(sorted(settings.pipelines)) or "none declared"
        raise ConfigError(f"pipelines.{name}: no such pipeline in config.yml (known: {known})")
    return settings.pipelines[name]
