"""``retry``: start again each chunk of a batch (or a schedule's runs) whose latest run failed.

A chunk whose run report says SUCCEEDED is left alone (its job published everything before its
run ended badly), and so is one another retry claimed first. ``--set`` applies to the retried
runs, checked like execute's; with ``--json`` the talk goes to standard error and the data to
standard output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from job_helpers.control import output
from job_helpers.control.backends import make_backend
from job_helpers.control.batches import progress, view
from job_helpers.control.batches.lookup import find, read_again
from job_helpers.control.batches.summarise import run_reports, summarise
from job_helpers.control.config import Settings, load_settings, refuse_examples
from job_helpers.control.context import CliContext
from job_helpers.control.failures import UsageError
from job_helpers.control.job_options import check_job_arguments
from job_helpers.control.output import TextConsole
from job_helpers.control.plan import PlanError, retry_arguments
from job_helpers.control.runs import SUCCEEDED, Backend, BatchStatus, RunStatus, StartedRun, StartFailed, chunk_name, to_retry


@dataclass(frozen=True)
class RetryRequest:
    """``retry``'s options as given."""

    batch: str | None = None
    schedule: str | None = None
    wait: bool = False
    json: bool = False


def retry(context: CliContext, request: RetryRequest) -> int:
    backend = make_backend(context)
    found = find(backend, context, request.batch, request.schedule)
    console = context.messages if request.json else context.console
    if found is None:
        console.print(view.NO_BATCH)
        return view.print_json({"batch": None, "retried": [], "left_alone": {}}) if request.json else 0
    overrides = retry_overrides(context, found)
    failed, reported = split_by_report(context, to_retry(found))
    for name, why in reported.items():
        console.print(f"  {name}: not retried, {why}", markup=False, soft_wrap=True)
    if not failed:
        console.print(f"Nothing to retry in {view.where(found.batch)[0]}: no chunk's latest run failed.", soft_wrap=True)
        return view.print_json({"batch": found.batch, "retried": [], "left_alone": reported}) if request.json else 0
    refuse_examples(context.settings)
    console.print(
        f"Retrying {len(failed)} of {len(found.runs) + len(found.never_started)} chunk(s) of {view.where(found.batch)[0]}; "
        "the others are left alone.",
        soft_wrap=True,
    )
    try:
        restarted = backend.restart_runs(failed, overrides, lambda _: None)
    except StartFailed as error:
        output.error(error)
        view.print_started(console, backend, found.batch, error.started)
        if request.json:
            view.print_json({"batch": found.batch, "retried": view.started_json(error.started), "error": str(error)})
        return 1
    for name, who in restarted.taken.items():
        console.print(f"  {name}: not started again, {who}", markup=False, soft_wrap=True)
    view.print_started(console, backend, found.batch, restarted.started)
    left_alone = {**reported, **restarted.taken}
    result = {"batch": found.batch, "retried": view.started_json(restarted.started), "left_alone": left_alone}
    if not request.wait:
        return view.print_json(result) if request.json else 0
    return _follow(context, console, backend, found, restarted.started, result, request.json)


def _follow(
    context: CliContext,
    console: TextConsole,
    backend: Backend,
    found: BatchStatus,
    started: Sequence[StartedRun],
    result: dict,
    as_json: bool,
) -> int:
    """Wait for the new runs, then print the batch's summary (as JSON, within ``result``)."""
    try:
        final = progress.wait(console, backend, started)
    except KeyboardInterrupt:
        console.print(
            f"Stopped watching; the runs go on. Follow them with: make status {view.where(found.batch)[1]}", soft_wrap=True
        )
        return 130
    after = read_again(backend, context, found)
    if as_json:
        view.print_json({**result, "summary": summarise(context, backend, after) if after else None})
    elif after is not None:
        view.print_summary(context.console, backend, after, summarise(context, backend, after))
    return progress.exit_status(final)


def retry_overrides(context: CliContext, found: BatchStatus) -> dict[str, dict[str, str]]:
    """By job name, the run arguments that apply this command's ``--set`` to the batch's retried runs.

    The overrides are checked like execute's (an argument a job does not declare is refused with
    the closest name); one a retry cannot apply is refused, never silently dropped.
    """
    settings = context.settings
    keys = [key for key in found.job_keys if key in settings.jobs]
    check_job_arguments(settings, context.repo_root, keys, context.overrides)
    if not context.overrides:
        return {}
    created: Settings = load_settings(context.config_path, settings.profile)
    try:
        by_key = {key: retry_arguments(created.job(key), settings.job(key)) for key in keys}
    except PlanError as error:
        raise UsageError(str(error)) from error
    return {name: by_key[key] for name, key in found.job_of.items() if by_key.get(key)}


def split_by_report(context: CliContext, failed: Sequence[RunStatus]) -> tuple[list[RunStatus], dict[str, str]]:
    """The failed runs to restart, and by job those whose own run report says SUCCEEDED (with why they stay).

    A run can end FAILED or TIMEOUT after its job published everything and reported so (a crash
    at exit, a timeout while it shut down); running it again would only redo published work.
    """
    reports = run_reports(context, failed)
    published = [run for run, report in zip(failed, reports) if report is not None and report.status == SUCCEEDED]
    succeeded = {
        chunk_name(run.job_name, run.logical_time): f"its run {run.run_id} ended {run.state}, but its run report says SUCCEEDED"
        for run in published
    }
    return [run for run in failed if run not in published], succeeded
