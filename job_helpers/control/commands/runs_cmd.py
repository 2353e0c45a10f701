"""`execute`, `status` and `cleanup`: run a job over a date range in chunks, follow it, tidy up.

The same commands work on both profiles: on aws every chunk is a Glue job, locally a process
started by a local runner and recorded in the registry under the lake root; ``--runner local``
on aws runs the chunks as local processes too, against the profile's S3 locations. All console
output (tables, progress) is here; the logic lives in ``plan``, ``runs``, ``cleanup`` and the backends.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TimeElapsedColumn
from rich.table import Table

from job_helpers.cli import CliContext, UsageError
from job_helpers.control import local_on_aws, output
from job_helpers.control.build import BuildMissing, current_artifact
from job_helpers.control.cleanup import SKIPPED, CleanupResult, cleanup
from job_helpers.control.config import Settings, execution_class_problem, load_settings, refuse_examples
from job_helpers.control.cost import Rates
from job_helpers.control.job_options import check_job_arguments
from job_helpers.control.local_on_aws import RUNNERS, RunnerError, choose_runner
from job_helpers.control.output import ProgressText, TextConsole
from job_helpers.control.plan import (
    PlanError,
    PlannedRun,
    check_batch_size,
    check_project_jobs,
    job_tags,
    new_batch_id,
    plan_runs,
    retry_arguments,
)
from job_helpers.control.report import render
from job_helpers.control.runs import (
    ENDED_STATES,
    SUCCEEDED,
    Backend,
    BatchStatus,
    RunStatus,
    StartedRun,
    StartFailed,
    batch_status,
    latest_batch,
    to_retry,
    wait_for_runs,
)
from job_helpers.control.summary import batch_summary, chunk_label, cost_line, rows_published
from job_helpers.publish import OpenClaim, open_claims
from job_helpers.relative_dates import is_relative, local_today, local_zone, utc_today
from job_helpers.run_report import read_report, report_url, reports_prefix

# Where "today" is for relative dates: UTC, or the machine's time zone (a crontab line's).
DATE_ZONES = ("utc", "local")
STATE_STYLES = {
    "SUCCEEDED": "green",
    "FAILED": "bold red",
    "ERROR": "bold red",
    "TIMEOUT": "bold red",
    "EXPIRED": "red",
    "STOPPED": "yellow",
    "RUNNING": "cyan",
    "STARTING": "cyan",
    "STOPPING": "yellow",
    "WAITING": "dim",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    execute = subparsers.add_parser(
        "execute",
        help="create and start one job per chunk of a date range",
        description=(
            "Split --from..--to into chunks of at most --days-per-job days and create and start one "
            "job per chunk, named <name_prefix>-<batch>-<from>-<to> and tagged with the project tag, "
            "the batch id and the job key. The batch id is the UTC start time with milliseconds, e.g. "
            "20261125T101500.123Z. A job that is not date-ranged runs once without dates: give it "
            "none of --from, --to and --days-per-job (an empty value counts as not given, as the "
            "Makefile passes all three). Bad input exits with status 2 and creates nothing."
        ),
    )
    execute.add_argument("--job", required=True, metavar="KEY", help="job key from config.yml")
    execute.add_argument(
        "--from",
        dest="start",
        metavar="DATE",
        help="first day: YYYY-MM-DD, today, yesterday or today-N in UTC (date-ranged jobs only)",
    )
    execute.add_argument(
        "--to", dest="end", metavar="DATE", help="last day, inclusive, in the same forms (date-ranged jobs only)"
    )
    execute.add_argument(
        "--days-per-job", dest="days_per_job", metavar="N", help="days per chunk (date-ranged jobs only; default 1)"
    )
    execute.add_argument(
        "--dates-in",
        dest="dates_in",
        type=str.lower,
        choices=DATE_ZONES,
        default="utc",
        help="the zone whose today relative dates count from: utc (default) or local, this machine's "
        "time zone, as a crontab line that make schedule prints fires in",
    )
    execute.add_argument("--wait", action="store_true", help="show progress until every run ends, then a summary")
    execute.add_argument(
        "--dry-run", action="store_true", help="print the plan and create nothing (no build or credentials needed)"
    )
    execute.add_argument("--json", action="store_true", help="with --dry-run: print the plan as a JSON array")
    execute.add_argument("--yes", action="store_true", help="start a batch of more jobs than project.max_jobs_per_batch")
    _add_runner(execute)
    execute.add_argument(
        "--execution-class",
        dest="execution_class",
        type=str.upper,
        metavar="STANDARD|FLEX",
        help="Glue execution class of this batch's jobs (default: the job's execution_class, else STANDARD)",
    )
    execute.set_defaults(handler=run)

    status = subparsers.add_parser(
        "status",
        help="summary of a batch's runs (the latest batch by default)",
        description=(
            "Reads every run of the jobs tagged with the batch id: per chunk its state, attempts, duration, "
            "DPU-hours, records read and written and error, then the batch's cost and where each failure's log is."
        ),
    )
    status.add_argument("--batch", metavar="ID", help="batch id printed by execute (default: the latest batch)")
    _add_runner(status)
    status.add_argument("--json", action="store_true", help="print the summary as JSON (nothing else on standard output)")
    status.add_argument(
        "--log-lines",
        type=_log_lines,
        default=0,
        metavar="N",
        help="under each failed chunk, the last N lines of its log (Glue: the driver's output, with the traceback)",
    )
    status.set_defaults(handler=run)

    again = subparsers.add_parser(
        "retry",
        help="start again the chunks of a batch whose latest run failed",
        description=(
            "Starts one new run of each chunk of the batch whose latest run ended FAILED, ERROR, TIMEOUT or "
            "STOPPED, on the job the batch created (same build, same arguments). Succeeded and still "
            "active chunks are left alone, and so is a chunk whose run report says it succeeded. Each "
            "chunk is claimed before it starts, so two retries at once start it once."
        ),
    )
    again.add_argument("--batch", metavar="ID", help="batch id printed by execute (default: the latest batch)")
    again.add_argument("--wait", action="store_true", help="show progress until every new run ends, then a summary")
    again.add_argument("--json", action="store_true", help="print the started runs (and the summary) as JSON")
    again.set_defaults(handler=run)

    page = subparsers.add_parser(
        "report",
        help="write a batch's timeline, DPU-hours and failures as one HTML file under build/reports/",
        description="A self-contained page (inline CSS and SVG, nothing fetched) drawn from the same data as status --json.",
    )
    page.add_argument("--batch", metavar="ID", help="batch id printed by execute (default: the latest batch)")
    page.set_defaults(handler=run)

    clean = subparsers.add_parser(
        "cleanup",
        help="delete the project's jobs whose latest run has ended",
        description=(
            "Considers only jobs carrying the project tag. Jobs with a run still waiting or running are "
            "skipped; jobs never started are kept unless --include-never-run is given."
        ),
    )
    clean.add_argument("--dry-run", action="store_true", help="list what would be removed; delete nothing")
    clean.add_argument("--include-never-run", action="store_true", help="also delete jobs that were never started")
    _add_runner(clean)
    clean.add_argument("--json", action="store_true", help="print the counts and one entry per job as JSON (nothing else)")
    clean.set_defaults(handler=run)


def _add_runner(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runner",
        choices=RUNNERS,
        help="where the chunks run: glue (the aws default) or local processes (the local profile always; "
        "on aws against its S3 locations, with their own registry)",
    )


def run(args: argparse.Namespace, context: CliContext) -> int:
    handlers = {"execute": execute, "status": status, "cleanup": run_cleanup, "retry": retry, "report": write_report}
    return handlers[args.command](args, context)


def make_backend(context: CliContext, runner: str | None = None) -> Backend:
    """The backend of the profile and runner, built only when a command needs it."""
    settings = context.settings
    runner = _runner(context, runner)
    if settings.profile == "local":
        from job_helpers.control.local_backend import LocalBackend
        from job_helpers.control.local_registry import Registry, registry_path, run_report_of

        registry = Registry(registry_path(settings.lake), reports=run_report_of(context.storage))
        return LocalBackend(registry, context.build_dir / "logs", context.repo_root, settings.max_parallel_runs)
    if runner == "local":
        return _local_backend_on_aws(context)
    from job_helpers.control.glue_backend import GlueBackend

    return GlueBackend.from_settings(settings, context.boto3_session)


def _runner(context: CliContext, runner: str | None) -> str:
    try:
        return choose_runner(context.settings.profile, runner)
    except RunnerError as error:
        raise UsageError(str(error)) from error


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


def execute(args: argparse.Namespace, context: CliContext) -> int:
    settings = context.settings
    job = settings.job(args.job)
    check_job_arguments(settings, context.repo_root, [job.key], context.overrides)
    if args.execution_class:
        problem = execution_class_problem(args.execution_class, job.worker_type)
        if problem:
            raise UsageError(f"--execution-class: {problem}")
        job = replace(job, execution_class=args.execution_class)
    if args.json and not args.dry_run:
        raise UsageError("--json prints the plan: use it with --dry-run")
    _runner(context, args.runner)
    batch = new_batch_id()
    today = local_today() if args.dates_in == "local" else utc_today()
    try:
        planned = plan_runs(job, batch, args.start or None, args.end or None, args.days_per_job or None, today)
        check_batch_size(len(planned), settings.max_jobs_per_batch, confirmed=args.yes or args.dry_run)
    except PlanError as error:
        raise UsageError(str(error)) from error
    _print_resolved(context.messages if args.json else context.console, args, planned)
    if args.dry_run:
        _print_plan(context, job.key, batch, planned, as_json=args.json)
        return 0
    refuse_examples(settings)
    try:
        artifact = current_artifact(context.build_dir, settings.datasets["glue_assets"], context.storage)
        artifact.script_url(job.script)
    except BuildMissing as error:
        raise UsageError(str(error)) from error

    backend = make_backend(context, args.runner)
    try:
        check_project_jobs(len(backend.tagged_jobs(settings.tags)), len(planned), settings.max_project_jobs)
    except PlanError as error:
        raise UsageError(str(error)) from error
    console = context.console
    try:
        with Progress(
            SpinnerColumn(),
            ProgressText("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("Creating and starting jobs", total=len(planned))
            started = backend.start_runs(
                job, artifact, planned, job_tags(settings.tags, batch, job.key), lambda _: progress.advance(task)
            )
    except StartFailed as error:
        output.error(error)
        _print_started(context.console, backend, batch, error.started)
        return 1
    _print_started(context.console, backend, batch, started)
    if not args.wait:
        return 0
    try:
        final = _wait(context.console, backend, started)
    except KeyboardInterrupt:
        console.print(f"Stopped watching; the runs go on. Follow them with: make status batch={batch}", soft_wrap=True)
        return 130
    found = batch_status(backend, settings.tags, batch)
    if found is not None:
        _print_summary(context, backend, found)
    return _exit_status(final)


def _exit_status(final: Sequence[RunStatus]) -> int:
    return 0 if all(run.state == SUCCEEDED for run in final) else 1


def _find_batch(backend: Backend, context: CliContext, batch: str | None) -> BatchStatus | None:
    """The asked-for batch (the latest by default); None when there is no batch at all."""
    batch = batch or latest_batch(backend, context.settings.tags)
    if batch is None:
        return None
    found = batch_status(backend, context.settings.tags, batch)
    if found is None:
        raise UsageError(f"no project job carries batch {batch!r}: check the id, or omit --batch for the latest batch")
    return found


def status(args: argparse.Namespace, context: CliContext) -> int:
    backend = make_backend(context, args.runner)
    found = _find_batch(backend, context, args.batch)
    if found is None:
        if args.json:
            output.json_data(None)
        else:
            context.console.print("No batches yet: start one with `make execute`.")
        return 0
    if args.json:
        output.json_data(summarise(context, backend, found))
    else:
        _print_summary(context, backend, found, args.log_lines)
    return 0


def retry(args: argparse.Namespace, context: CliContext) -> int:
    """Restart the failed chunks; with --json the talk goes to standard error and the data to standard output."""
    backend = make_backend(context)
    found = _find_batch(backend, context, args.batch)
    console = context.messages if args.json else context.console
    if found is None:
        console.print("No batches yet: start one with `make execute`.")
        return _print_json({"batch": None, "retried": [], "left_alone": {}}) if args.json else 0
    overrides = _retry_overrides(context, found)
    failed, reported = _split_by_report(context, to_retry(found))
    for name, why in reported.items():
        console.print(f"  {name}: not retried, {why}", markup=False, soft_wrap=True)
    if not failed:
        console.print(f"Nothing to retry in batch {found.batch}: no chunk's latest run failed.", soft_wrap=True)
        return _print_json({"batch": found.batch, "retried": [], "left_alone": reported}) if args.json else 0
    refuse_examples(context.settings)
    console.print(
        f"Retrying {len(failed)} of {len(found.runs) + len(found.never_started)} chunk(s) of batch {found.batch}; "
        "the others are left alone.",
        soft_wrap=True,
    )
    try:
        restarted = backend.restart_runs(failed, overrides, lambda _: None)
    except StartFailed as error:
        output.error(error)
        _print_started(console, backend, found.batch, error.started)
        if args.json:
            _print_json({"batch": found.batch, "retried": _started_json(error.started), "error": str(error)})
        return 1
    started = restarted.started
    for name, who in restarted.taken.items():
        console.print(f"  {name}: not started again, {who}", markup=False, soft_wrap=True)
    _print_started(console, backend, found.batch, started)
    left_alone = {**reported, **restarted.taken}
    result: dict = {"batch": found.batch, "retried": _started_json(started), "left_alone": left_alone}
    if not args.wait:
        return _print_json(result) if args.json else 0
    try:
        final = _wait(console, backend, started)
    except KeyboardInterrupt:
        console.print(f"Stopped watching; the runs go on. Follow them with: make status batch={found.batch}", soft_wrap=True)
        return 130
    after = batch_status(backend, context.settings.tags, found.batch)
    if args.json:
        _print_json({**result, "summary": summarise(context, backend, after) if after else None})
    elif after is not None:
        _print_summary(context, backend, after)
    return _exit_status(final)


def _retry_overrides(context: CliContext, found: BatchStatus) -> dict[str, dict[str, str]]:
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


def _split_by_report(context: CliContext, failed: Sequence[RunStatus]) -> tuple[list[RunStatus], dict[str, str]]:
    """The failed runs to restart, and by job those whose own run report says SUCCEEDED (with why they stay).

    A run can end FAILED or TIMEOUT after its job published everything and reported so (a crash
    at exit, a timeout while it shut down); running it again would only redo published work.
    """
    if not failed:
        return [], {}
    prefix = reports_prefix(context.settings.datasets["glue_assets"])
    storage = context.storage
    with ThreadPoolExecutor(max_workers=min(16, len(failed))) as pool:
        reports = list(pool.map(lambda run: read_report(storage, report_url(prefix, run.job_name, run.run_id)), failed))
    succeeded = {
        run.job_name: f"its run {run.run_id} ended {run.state}, but its run report says SUCCEEDED"
        for run, report in zip(failed, reports)
        if report is not None and report.status == SUCCEEDED
    }
    return [run for run in failed if run.job_name not in succeeded], succeeded


def write_report(args: argparse.Namespace, context: CliContext) -> int:
    """Write the page aside and move it into place, so a reader never sees half a report."""
    backend = make_backend(context)
    found = _find_batch(backend, context, args.batch)
    if found is None:
        raise UsageError("no batches yet: start one with `make execute`")
    page = render(summarise(context, backend, found))
    reports = context.build_dir / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    target = reports / f"batch-{found.batch}.html"
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(page, encoding="utf-8")
    partial.replace(target)
    context.console.print(str(target), markup=False, soft_wrap=True)
    return 0


def summarise(context: CliContext, backend: Backend, found: BatchStatus) -> dict:
    settings = context.settings
    records = _run_reports(context, [run for run in found.runs if run.state == SUCCEEDED])
    claims = _open_claims(context, found)
    return batch_summary(found, settings.jobs, Rates.from_settings(settings), backend.run_log, records, claims)


def _open_claims(context: CliContext, found: BatchStatus) -> list[OpenClaim]:
    """Uncommitted claims in every table the batch's jobs name (a table no one can list shows none)."""
    jobs = [context.settings.jobs[key] for key in found.job_keys if key in context.settings.jobs]
    tables = sorted({value for job in jobs for value in job.arguments.values() if value.startswith(("s3://", "file://"))})

    def claims_of(table: str) -> list[OpenClaim]:
        try:
            return open_claims(context.storage, table)
        except Exception:  # an input bucket this identity cannot list holds none of the batch's publishes
            return []

    if not tables:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(tables))) as pool:
        return [claim for found_claims in pool.map(claims_of, tables) for claim in found_claims]


def _run_reports(context: CliContext, runs: Sequence[RunStatus]) -> dict[str, dict]:
    """The record counts the given runs wrote (reads run in parallel: a batch may have hundreds)."""
    if not runs:
        return {}
    prefix = reports_prefix(context.settings.datasets["glue_assets"])
    storage = context.storage

    def read(run: RunStatus) -> dict | None:
        report = read_report(storage, report_url(prefix, run.job_name, run.run_id))
        if report is None:
            return None
        return {"read": report.records_read, "written": report.records_written, "published": report.published}

    with ThreadPoolExecutor(max_workers=min(16, len(runs))) as pool:
        found = dict(zip((run.run_id for run in runs), pool.map(read, runs)))
    return {run_id: counts for run_id, counts in found.items() if counts is not None}


def _print_json(data: object) -> int:
    output.json_data(data)
    return 0


def _started_json(started: Sequence[StartedRun]) -> list[dict]:
    return [{"job_name": run.job_name, "run_id": run.run_id, **run.planned.as_json()} for run in started]


def run_cleanup(args: argparse.Namespace, context: CliContext) -> int:
    console = context.messages if args.json else context.console

    def report(result: CleanupResult) -> None:
        reason = f" ({result.reason})" if result.action == SKIPPED else ""
        console.print(f"{result.action} - Name: {result.job_name}{reason}", markup=False, soft_wrap=True)

    results = cleanup(
        make_backend(context, args.runner),
        context.settings.tags,
        dry_run=args.dry_run,
        include_never_run=args.include_never_run,
        on_result=report,
    )
    skipped = sum(result.action == SKIPPED for result in results)
    removed = len(results) - skipped
    verb = "would remove" if args.dry_run else "removed"
    console.print(f"{len(results)} project job(s): {removed} {verb}, {skipped} skipped", soft_wrap=True)
    if args.json:
        rows = [{"job_name": r.job_name, "action": r.action, "reason": r.reason} for r in results]
        _print_json({"dry_run": args.dry_run, "removed": removed, "skipped": skipped, "jobs": rows})
    return 0


def _print_resolved(console: TextConsole, args: argparse.Namespace, planned: Sequence[PlannedRun]) -> None:
    """Say which days relative dates stood for: they were resolved once, when the batch was planned."""
    chunks = [run.chunk for run in planned if run.chunk is not None]
    given = [
        (option, text, day)
        for option, text, day in (
            ("--from", args.start, chunks[0].start if chunks else None),
            ("--to", args.end, chunks[-1].end if chunks else None),
        )
        if text and day and is_relative(text)
    ]
    if given:
        resolved = ", ".join(f"{option} {text} = {day:%Y-%m-%d}" for option, text, day in given)
        zone = "UTC" if args.dates_in == "utc" else f"local time ({local_zone()})"
        console.print(f"Dates resolved in {zone}: {resolved}", markup=False, soft_wrap=True)


def _print_plan(context: CliContext, job_key: str, batch: str, planned: Sequence[PlannedRun], as_json: bool) -> None:
    if as_json:
        output.json_data([run.as_json() for run in planned])
        return
    table = Table(title=f"Plan for {job_key}: {len(planned)} job(s), batch {batch} (dry run, nothing created)")
    table.add_column("#", justify="right")
    table.add_column("Name", overflow="fold")
    table.add_column("From")
    table.add_column("To")
    for index, run in enumerate(planned, start=1):
        row = run.as_json()
        table.add_row(str(index), run.name, row["from"] or "-", row["to"] or "-")
    context.console.print(table)


def _print_started(console: TextConsole, backend: Backend, batch: str, started: Sequence[StartedRun]) -> None:
    console.print(f"Started {len(started)} job(s) in batch {batch}:", soft_wrap=True)
    for run in started:
        console.print(f"  {run.job_name}  run {run.run_id}", markup=False, soft_wrap=True)
        console.print(f"    follow: {backend.follow_hint(run.job_name)}", markup=False, soft_wrap=True)
    console.print(f"Follow the batch with: make status batch={batch}", markup=False, soft_wrap=True)


def _wait(console: TextConsole, backend: Backend, started: Sequence[StartedRun]) -> list[RunStatus]:
    with Progress(
        SpinnerColumn(),
        ProgressText("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("Waiting", total=len(started))

        def update(states: list[RunStatus]) -> None:
            counts: dict[str, int] = {}
            for state in states:
                counts[state.state] = counts.get(state.state, 0) + 1
            description = ", ".join(f"{count} {state.lower()}" for state, count in sorted(counts.items()))
            progress.update(task, completed=sum(s.state in ENDED_STATES for s in states), description=description)

        return wait_for_runs(backend, started, update)


def _log_lines(text: str) -> int:
    """--log-lines: a whole number from 1 to 10,000 (GetLogEvents returns at most 10,000 events)."""
    if not text.isdigit() or not 1 <= int(text) <= 10_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of lines from 1 to 10000")
    return int(text)


def _print_summary(context: CliContext, backend: Backend, found: BatchStatus, log_lines: int = 0) -> None:
    """The batch's table (one row per chunk), its counts and cost, then where each failure's log is (and its last lines)."""
    summary = summarise(context, backend, found)
    table = Table(title=f"Batch {found.batch} ({', '.join(found.job_keys)})")
    table.add_column("Chunk", no_wrap=True)
    table.add_column("State", no_wrap=True)
    table.add_column("Attempts", justify="right", no_wrap=True)
    table.add_column("Duration", justify="right", no_wrap=True)
    table.add_column("DPU-hours", justify="right", no_wrap=True)
    table.add_column("Records", justify="right", no_wrap=True)
    table.add_column("Rows published", overflow="fold")
    table.add_column("Error", overflow="fold")
    for chunk in summary["chunks"]:
        state = f"{chunk['state']}, nothing to read" if chunk["nothing_to_read"] else chunk["state"]
        table.add_row(
            chunk_label(chunk["from"], chunk["to"]),
            output.text(state, "yellow" if chunk["nothing_to_read"] else STATE_STYLES.get(chunk["state"], "")),
            str(chunk["attempts"]),
            _duration(chunk["duration_seconds"]),
            f"{chunk['dpu_hours']:.3f}",
            _records(chunk),
            output.text(rows_published(chunk["published"])),
            output.text(chunk["error"] or ""),
        )
    for name in found.never_started:
        table.add_row(name, output.text("NEVER STARTED", "yellow"), "0", "-", "-", "-", "-", "")
    console = context.console
    console.print(table)
    counts = ", ".join(f"{count} {state}" for state, count in summary["counts"].items()) or "no runs"
    empty = sum(chunk["nothing_to_read"] for chunk in summary["chunks"])
    if empty:
        counts += f" ({empty} with nothing to read)"
    console.print(f"{counts}; {cost_line(summary)}", markup=False, soft_wrap=True)
    latest = {run.job_name: run for run in found.runs}
    for chunk in summary["chunks"]:
        if chunk["state"] in ENDED_STATES and chunk["state"] != SUCCEEDED:
            console.print(f"  {chunk['state']} {chunk['job_name']}: {chunk['log']}", markup=False, soft_wrap=True)
            for line in backend.log_tail(latest[chunk["job_name"]], log_lines) if log_lines > 0 else []:
                console.print(f"    {line}", markup=False, soft_wrap=True)
    for half in summary["half_replaced"]:
        by = f"{half['job']} run {half['job_run']}" if half["job_run"] else f"run {half['run']}"
        console.print(
            f"  HALF-REPLACED {half['table']}{half['scope']}: {by} stopped publishing it (claimed {half['claimed_at']}); "
            "rerun its chunk (make retry) to repair it",
            soft_wrap=True,
        )


def _records(chunk: dict) -> str:
    """``read → written`` from the run's report; ``-`` when its job does not count records."""
    if chunk["records_read"] is None:
        return "-"
    return f"{chunk['records_read']:,} → {chunk['records_written']:,}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
