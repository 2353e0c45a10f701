"""``status`` and ``report``: a batch's runs (or a schedule's) summarised as a table, as JSON, or as one HTML page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from job_helpers.control import output
from job_helpers.control.backends import make_backend
from job_helpers.control.batches import view
from job_helpers.control.batches.lookup import find
from job_helpers.control.batches.schedule_state import schedule_state
from job_helpers.control.batches.summarise import summarise
from job_helpers.control.context import CliContext
from job_helpers.control.failures import UsageError
from job_helpers.control.report import render


@dataclass(frozen=True)
class StatusRequest:
    """Which runs ``status`` or ``report`` shows, and how."""

    batch: str | None = None
    schedule: str | None = None
    runner: str | None = None
    json: bool = False
    log_lines: int = 0


def status(context: CliContext, request: StatusRequest) -> int:
    backend = make_backend(context, None if request.schedule else request.runner)
    found = find(backend, context, request.batch, request.schedule)
    if found is None:
        if request.json:
            output.json_data(None)
        else:
            context.console.print(view.NO_BATCH)
        return 0
    extra = schedule_state(context, backend, found.schedule) if found.schedule else None
    if request.json:
        output.json_data({**summarise(context, backend, found), **({"schedule": extra} if extra is not None else {})})
        return 0
    view.print_summary(context.console, backend, found, summarise(context, backend, found), request.log_lines)
    if extra is not None:
        view.print_schedule_state(context.console, extra)
    return 0


def write_report(context: CliContext, request: StatusRequest) -> int:
    """Write the page aside and move it into place, so a reader never sees half a report."""
    backend = make_backend(context)
    found = find(backend, context, request.batch, request.schedule)
    if found is None:
        raise UsageError("no batches yet: start one with `make execute`")
    summary = summarise(context, backend, found)
    if found.schedule:
        summary["schedule"] = schedule_state(context, backend, found.schedule)
    target = _page_path(context.build_dir / "reports", found.schedule, found.batch)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(render(summary), encoding="utf-8")
    partial.replace(target)
    context.console.print(str(target), markup=False, soft_wrap=True)
    return 0


def _page_path(reports: Path, schedule: str | None, batch: str) -> Path:
    reports.mkdir(parents=True, exist_ok=True)
    return reports / (f"schedule-{schedule}.html" if schedule else f"batch-{batch}.html")
