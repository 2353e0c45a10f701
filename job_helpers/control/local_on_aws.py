"""``--runner local`` on the aws profile: chunks run on this machine against the profile's S3 locations.

The jobs, the registry and the runners are the local profile's; what differs is what the runners
pass on to each job: the profile's region and AWS profile (so boto3 in the job resolves the same
identity as the command) and the variables that give a local SparkSession S3A (``job_helpers.s3a``).
Options live under ``profiles.aws.local_runner`` in config.yml.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from job_helpers import s3a
from job_helpers.config_fields import WholeNumber
from job_helpers.config_keys import SectionContext, check_keys

GLUE = "glue"
LOCAL = "local"
RUNNERS = (GLUE, LOCAL)
# Under the build folder: the registry of runs started this way and the builds fetched from S3 for them.
ROOT = "aws-local"
SECTION = "profiles.aws.local_runner"
KEYS = ("max_parallel_runs", "s3a_jars", "s3a_packages")
MAX_PARALLEL_RUNS = WholeNumber(2)


class RunnerError(ValueError):
    """The runner cannot be used with this profile or its options; the message says what to change."""


@dataclass(frozen=True)
class LocalRunnerSettings:
    """The ``profiles.aws.local_runner`` block, validated; the defaults stand when it is absent."""

    max_parallel_runs: int = 2
    s3a_jars: tuple[str, ...] = ()
    s3a_packages: str = ""


def choose_runner(profile: str, runner: str | None) -> str:
    """Glue by default on aws; the local profile has no Glue to run on."""
    if runner is None:
        return GLUE if profile == "aws" else LOCAL
    if runner not in RUNNERS:
        raise RunnerError(f"--runner {runner!r}: use one of {', '.join(RUNNERS)}")
    if profile == "local" and runner == GLUE:
        raise RunnerError("--runner glue needs --profile aws: the local profile always runs its jobs locally")
    return runner


def parse(node: Any, context: SectionContext, problems: list[str]) -> LocalRunnerSettings | None:
    """The ``local_runner`` section of the aws profile; each bad value is added to ``problems``.

    Other profiles check only its keys and have no such settings: they run every job locally anyway.
    """
    check_keys(node, KEYS, SECTION, problems)
    if context.profile != "aws":
        return None
    if node is None:
        node = {}
    if not isinstance(node, Mapping):
        problems.append(f"{SECTION}: expected a mapping (max_parallel_runs, s3a_jars, s3a_packages)")
        return LocalRunnerSettings()
    parallel = MAX_PARALLEL_RUNS.read(node, "max_parallel_runs", SECTION, problems)
    return LocalRunnerSettings(parallel, _jars(node.get("s3a_jars"), problems), _packages(node.get("s3a_packages"), problems))


def _jars(value: Any, problems: list[str]) -> tuple[str, ...]:
    """``s3a_jars``: comma-separated paths of .jar files."""
    jars = tuple(path.strip() for path in str(value or "").split(",") if path.strip())
    for path in jars:
        if not path.endswith(".jar"):
            problems.append(f"{SECTION}.s3a_jars: {path!r} is not a .jar file (comma-separated jar paths)")
    return jars


def _packages(value: Any, problems: list[str]) -> str:
    """``s3a_packages``: comma-separated Maven coordinates, group:artifact:version."""
    packages = str(value or "").strip()
    for coordinate in filter(None, (part.strip() for part in packages.split(","))):
        if coordinate.count(":") != 2:
            problems.append(f"{SECTION}.s3a_packages: {coordinate!r} is not Maven coordinates group:artifact:version")
    return packages


def job_environment(
    options: LocalRunnerSettings, region: str | None, aws_profile: str | None, buckets: Iterable[str] = ()
) -> dict[str, str]:
    """What the runners add to their environment, and so to every job's, on the aws profile;
    ``buckets`` are those the jobs use (S3A reaches dotted names path-style)."""
    try:
        environment = s3a.environment(list(options.s3a_jars), options.s3a_packages, buckets)
    except s3a.S3ASetupError as error:
        raise RunnerError(str(error)) from error
    if region:
        environment["AWS_REGION"] = environment["AWS_DEFAULT_REGION"] = region
    if aws_profile:
        environment["AWS_PROFILE"] = aws_profile
    return environment


def root(build_dir: Path) -> Path:
    """Where the aws profile's local registry and fetched builds live."""
    return build_dir / ROOT
