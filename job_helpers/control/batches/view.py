"""What the batch commands show: plans, started runs, a batch's table and its failures, a schedule's state.

Everything goes through ``control.output``'s consoles (text from data shown as text); the data
comes from the use cases, which decide nothing here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from rich.table import Table

from job_helpers.control import output
from job_helpers.control.output import TextConsole
from job_helpers.control.plan import PlannedRun, stretches
from job_helpers.control.runs import ENDED_STATES, SUCCEEDED, Backend, BatchStatus, StartedRun, chunk_name
from job_helpers.control.summary import BatchSummary, ChunkSummary, ScheduleState, chunk_label, cost_line, rows_published
from job_helpers.relative_dates import is_relative, local_zone

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
SUMMARY_COLUMNS = ("State", "Attempts", "Duration", "DPU-hours", "Records")
NO_BATCH = "No batches yet: start one with `make execute`."


def print_json(data: object) -> int:
    """``data`` as JSON on standard output; exit status 0."""
    output.json_data(data)
    return 0


def started_json(started: Sequence[StartedRun]) -> list[dict]:
    return [{"job_name": run.job_name, "run_id": run.run_id, **run.planned.as_json()} for run in started]


def where(batch: str) -> tuple[str, str]:
    """``(words, make argument)`` naming a batch, or a schedule's runs (``BatchStatus.batch`` is ``schedule <key>``)."""
    kind, _, key = batch.partition(" ")
    if kind == "schedule" and key:
        return f"schedule {key}", f"schedule={key}"
    return f"batch {batch}", f"batch={batch}"


def print_resolved(
    console: TextConsole, given: Sequence[tuple[str, str | None]], dates_in: str, logical_time: str, planned: Sequence[PlannedRun]
) -> None:
    """Say which days relative dates stood for (``given``: ``--from`` and ``--to`` as typed), resolved once, at planning."""
    chunks = [run.chunk for run in planned if run.chunk is not None]
    days = (chunks[0].start, chunks[-1].end) if chunks else (None, None)
    relative = [(option, text, day) for (option, text), day in zip(given, days) if text and day and is_relative(text)]
    if not relative:
        return
    resolved = ", ".join(f"{option} {text} = {day:%Y-%m-%d}" for option, text, day in relative)
    zone = "in UTC" if dates_in == "utc" else f"in local time ({local_zone()})"
    if logical_time:
        zone = f"from the day of the logical time {logical_time}"
    console.print(f"Dates resolved {zone}: {resolved}", markup=False, soft_wrap=True)


def print_plan(console: TextConsole, job_key: str, batch: str, planned: Sequence[PlannedRun], as_json: bool) -> None:
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
    console.print(table)


def print_started(console: TextConsole, backend: Backend, batch: str, started: Sequence[StartedRun]) -> None:
    """What was started, and how to follow it: ``batch`` is a batch id, or ``schedule <key>`` for a schedule's runs."""
    words, follow = where(batch)
    console.print(f"Started {len(started)} job(s) in {words}:", soft_wrap=True)
    for run in started:
        console.print(f"  {run.job_name}  run {run.run_id}", markup=False, soft_wrap=True)
        console.print(f"    follow: {backend.follow_hint(run.job_name)}", markup=False, soft_wrap=True)
    console.print(f"Follow the {words.split()[0]} with: make status {follow}", markup=False, soft_wrap=True)


def print_summary(console: TextConsole, backend: Backend, found: BatchStatus, summary: BatchSummary, log_lines: int = 0) -> None:
    """The batch's table (one row per chunk), its counts and cost, then where each failure's log is (and its last lines)."""
    console.print(_summary_table(found, summary))
    console.print(f"{_counts(summary)}; {cost_line(summary)}", markup=False, soft_wrap=True)
    _print_failures(console, backend, found, summary, log_lines)
    _print_half_replaced(console, summary)


def _summary_table(found: BatchStatus, summary: BatchSummary) -> Table:
    table = Table(
        title=f"Schedule of {found.schedule}" if found.schedule else f"Batch {found.batch} ({', '.join(found.job_keys)})"
    )
    table.add_column("Chunk", no_wrap=True)
    if found.schedule:
        table.add_column("Firing", no_wrap=True)
    for column in SUMMARY_COLUMNS:
        table.add_column(column, justify="left" if column == "State" else "right", no_wrap=True)
    table.add_column("Rows published", overflow="fold")
    table.add_column("Error", overflow="fold")
    for chunk in summary["chunks"]:
        table.add_row(*_chunk_row(chunk, bool(found.schedule)))
    for name in found.never_started:
        firing = [""] if found.schedule else []
        table.add_row(name, *firing, output.text("NEVER STARTED", "yellow"), "0", "-", "-", "-", "-", "")
    return table


def _chunk_row(chunk: ChunkSummary, scheduled: bool) -> list:
    empty = chunk["nothing_to_read"]
    state = f"{chunk['state']}, nothing to read" if empty else chunk["state"]
    firing = [output.text(chunk["logical_time"] or "-")] if scheduled else []
    return [
        chunk_label(chunk["from"], chunk["to"]),
        *firing,
        output.text(state, "yellow" if empty else STATE_STYLES.get(chunk["state"], "")),
        str(chunk["attempts"]),
        _duration(chunk["duration_seconds"]),
        f"{chunk['dpu_hours']:.3f}",
        _records(chunk),
        output.text(rows_published(chunk["published"])),
        output.text(chunk["error"] or ""),
    ]


def _counts(summary: BatchSummary) -> str:
    counts = ", ".join(f"{count} {state}" for state, count in summary["counts"].items()) or "no runs"
    empty = sum(chunk["nothing_to_read"] for chunk in summary["chunks"])
    return f"{counts} ({empty} with nothing to read)" if empty else counts


def _print_failures(console: TextConsole, backend: Backend, found: BatchStatus, summary: BatchSummary, log_lines: int) -> None:
    """Where each failed chunk's log is, and its last ``log_lines`` lines."""
    # One chunk per latest run, in order: a schedule's job has a run per firing, so not by job name.
    for latest, chunk in zip(found.runs, summary["chunks"], strict=True):
        if chunk["state"] in ENDED_STATES and chunk["state"] != SUCCEEDED:
            name = chunk_name(chunk["job_name"], chunk["logical_time"])
            console.print(f"  {chunk['state']} {name}: {chunk['log']}", markup=False, soft_wrap=True)
            for line in backend.log_tail(latest, log_lines) if log_lines > 0 else []:
                console.print(f"    {line}", markup=False, soft_wrap=True)


def _print_half_replaced(console: TextConsole, summary: BatchSummary) -> None:
    for half in summary["half_replaced"]:
        by = f"{half['job']} run {half['job_run']}" if half["job_run"] else f"run {half['run']}"
        console.print(
            f"  HALF-REPLACED {half['table']}{half['scope']}: {by} stopped publishing it (claimed {half['claimed_at']}); "
            "rerun its chunk (make retry) to repair it",
            soft_wrap=True,
        )


def _records(chunk: ChunkSummary) -> str:
    """``read → written`` from the run's report; ``-`` when its job does not count records."""
    if chunk["records_read"] is None:
        return "-"
    return f"{chunk['records_read']:,} → {chunk['records_written']:,}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def print_schedule_state(console: TextConsole, state: ScheduleState) -> None:
    """The schedule's cron and window, and the days it should have covered that no succeeded run covers."""
    key = state["job"]
    if state["installed"] is None:
        console.print(f"{key} has no schedule now (these are the runs of an earlier one).", markup=False, soft_wrap=True)
        return
    window = f"today-{state['lag_days'] + state['days_per_job'] - 1} to today-{state['lag_days']}"
    console.print(
        f"Schedule: {state['cron']} ({state['zone']}), each firing covering {window} of its day; {state['installed']}, "
        f"since {state['created']}",
        markup=False,
        soft_wrap=True,
    )
    missing = [date.fromisoformat(day) for day in state["missing_days"]]
    if not missing:
        console.print(
            f"No day missing: a succeeded run covers each of the {state['due_days']} day(s) its firings are due.", soft_wrap=True
        )
        return
    ranges = ", ".join(chunk_label(chunk.start.isoformat(), chunk.end.isoformat()) for chunk in stretches(missing))
    console.print(
        f"Missing {len(missing)} of {state['due_days']} due day(s), no succeeded run covers them: {ranges}. "
        f"Start them with: make catchup job={key} since={missing[0]}",
        markup=False,
        soft_wrap=True,
    )
