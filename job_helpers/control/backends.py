"""Where a command's backends come from: the one place that turns the profile (and ``--runner``) into them.

Job runs (``runs.Backend``): on aws every chunk is a Glue job (``GlueBackend``); locally a process
started by a local runner and recorded in the registry under the lake root; ``--runner local`` on
aws runs the chunks as local processes too, against the profile's S3 locations, with their own
registry under the build folder. SQL (``sql_engines.SqlEngine``): Athena, or DuckDB over the lake.
Schedules (``schedulers.Scheduler``): EventBridge Scheduler, or a printed crontab line. A pipeline's
jobs (``pipeline.Runner``): one Glue job after another, or each in this process's Spark session.
Each is built only when a command needs it, so ``--dry-run`` and ``--help`` need no credentials.
"""

from __future__ import annotations

from collections.abc import Callable

from job_helpers.control import local_on_aws
from job_helpers.control.build import BuildMissing, current_artifact
from job_helpers.control.config import PipelineSpec, refuse_examples
from job_helpers.control.context import CliContext
from job_helpers.control.failures import UsageError
from job_helpers.control.local_on_aws import RunnerError, choose_runner
from job_helpers.control.pipeline import BackendRunner, LocalRunner, Runner
from job_helpers.control.plan import new_batch_id
from job_helpers.control.runs import Backend
from job_helpers.control.schedulers import CrontabScheduler, Scheduler
from job_helpers.control.sql_engines import AthenaEngine, LocalSqlEngine, SqlEngine


def runner_of(context: CliContext, runner: str | None) -> str:
    """The runner ``--runner`` names, or the profile's default; one the profile cannot use is bad input."""
    try:
        return choose_runner(context.settings.profile, runner)
    except RunnerError as error:
        raise UsageError(str(error)) from error


def make_backend(context: CliContext, runner: str | None = None) -> Backend:
    """The backend of the profile and runner."""
    settings = context.settings
    runner = runner_of(context, runner)
    if settings.profile == "local":
        return _local_backend(context)
    if runner == local_on_aws.LOCAL:
        return _local_backend_on_aws(context)
    from job_helpers.control.glue_backend import GlueBackend

    return GlueBackend.from_settings(settings, context.boto3_session)


def make_sql_engine(context: CliContext) -> SqlEngine:
    """Where the profile's SQL runs: Athena on aws, the local engine locally."""
    settings = context.settings
    if settings.profile == "aws":
        return AthenaEngine(settings, lambda: context.boto3_session)
    return LocalSqlEngine(settings)


def make_pipeline_runner(context: CliContext, spec: PipelineSpec, say: Callable[[str], None]) -> Runner:
    """What runs a pipeline's jobs: on aws Glue jobs of the current build, one batch; locally this process's Spark."""
    settings = context.settings
    if settings.profile == "aws":
        refuse_examples(settings)
        try:
            artifact = current_artifact(context.build_dir, settings.datasets["glue_assets"], context.storage)
        except BuildMissing as error:
            raise UsageError(str(error)) from error
        backend = make_backend(context)
        batch = new_batch_id()
        say(f"Pipeline {spec.name}: batch {batch}, {len(spec.jobs)} job(s) on AWS Glue")
        return BackendRunner(settings, backend, artifact, batch)
    from job_helpers.runtime import local_spark

    say(f"Pipeline {spec.name}: {len(spec.jobs)} job(s) in this process")
    local_spark(f"pipeline-{spec.name}")
    return LocalRunner(context.repo_root)


def make_scheduler(context: CliContext) -> Scheduler:
    """Where the profile's schedules go: EventBridge Scheduler on aws, a crontab line locally."""
    if context.settings.profile == "aws":
        from job_helpers.control.eventbridge_scheduler import EventBridgeScheduler

        return EventBridgeScheduler(context)
    return CrontabScheduler(context)


def _local_backend(context: CliContext) -> Backend:
    from job_helpers.control.local_backend import LocalBackend
    from job_helpers.control.local_registry import Registry, registry_path, run_report_of

    settings = context.settings
    registry = Registry(registry_path(settings.lake), reports=run_report_of(context.storage))
    return LocalBackend(registry, context.build_dir / "logs", context.repo_root, settings.max_parallel_runs)


def _local_backend_on_aws(context: CliContext) -> Backend:
    from job_helpers.control.local_backend import LocalBackend
    from job_helpers.control.local_registry import Registry, registry_path, run_report_of

    settings = context.settings
    try:
        options = settings.local_runner or local_on_aws.LocalRunnerSettings()
        buckets = {url.removeprefix("s3://").partition("/")[0] for url in settings.datasets.values() if url.startswith("s3://")}
        environment = local_on_aws.job_environment(options, settings.region, settings.aws_profile, buckets)
    except RunnerError as error:
        raise UsageError(str(error)) from error
    root = local_on_aws.root(context.build_dir)
    return LocalBackend(
        Registry(registry_path(root), reports=run_report_of(context.storage)),
        context.build_dir / "logs",
        context.repo_root,
        options.max_parallel_runs,
        environment=environment,
        storage=context.storage,
        fetched_builds=root / "builds",
    )
