"""Start planned runs as one batch, and follow it when asked: where execute and catchup end.

Before anything is created: the config holds no example values, the build is uploaded and holds
the job's script, and the project has room for the batch's jobs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from job_helpers.control import output
from job_helpers.control.backends import make_backend
from job_helpers.control.batches import progress, view
from job_helpers.control.batches.summarise import summarise
from job_helpers.control.build import Artifact, BuildMissing, current_artifact
from job_helpers.control.config import JobSpec, refuse_examples
from job_helpers.control.context import CliContext
from job_helpers.control.failures import UsageError
from job_helpers.control.job_quota import check_room
from job_helpers.control.plan import PlanError, PlannedRun
from job_helpers.control.runs import Backend, StartFailed, batch_status


def start_batch(
    context: CliContext,
    job: JobSpec,
    batch: str,
    planned: Sequence[PlannedRun],
    tags: Mapping[str, str],
    wait: bool,
    runner: str | None = None,
) -> int:
    """Create and start the planned runs as one batch tagged ``tags``; with ``wait``, follow them and print the summary."""
    settings = context.settings
    artifact = _uploaded_build(context, job)
    backend = make_backend(context, runner)
    try:
        check_room(backend, settings.tags, len(planned), settings.max_project_jobs)
    except PlanError as error:
        raise UsageError(str(error)) from error
    console = context.console
    try:
        started = progress.start_runs(console, backend, job, artifact, planned, tags)
    except StartFailed as error:
        output.error(error)
        view.print_started(console, backend, batch, error.started)
        return 1
    view.print_started(console, backend, batch, started)
    if not wait:
        return 0
    try:
        final = progress.wait(console, backend, started)
    except KeyboardInterrupt:
        console.print(f"Stopped watching; the runs go on. Follow them with: make status batch={batch}", soft_wrap=True)
        return 130
    _print_batch(context, backend, batch)
    return progress.exit_status(final)


def _uploaded_build(context: CliContext, job: JobSpec) -> Artifact:
    """The current build, uploaded for this profile with the job's script; example values in the config refused first."""
    refuse_examples(context.settings)
    try:
        artifact = current_artifact(context.build_dir, context.settings.datasets["glue_assets"], context.storage)
        artifact.script_url(job.script)
    except BuildMissing as error:
        raise UsageError(str(error)) from error
    return artifact


def _print_batch(context: CliContext, backend: Backend, batch: str) -> None:
    found = batch_status(backend, context.settings.tags, batch)
    if found is not None:
        view.print_summary(context.console, backend, found, summarise(context, backend, found))
