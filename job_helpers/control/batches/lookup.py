"""Which runs a command works on: a batch (the latest by default), or the runs of a job's schedule."""

from __future__ import annotations

from job_helpers.control.config import Settings
from job_helpers.control.context import CliContext
from job_helpers.control.failures import UsageError
from job_helpers.control.renamed import batch_notes, missing_batch
from job_helpers.control.runs import Backend, BatchStatus, batch_status, latest_batch
from job_helpers.control.scheduled_runs import schedule_status


def name_prefixes(settings: Settings) -> dict[str, str]:
    """Each configured job's name prefix, by job key (to notice jobs renamed since a batch ran)."""
    return {key: job.name_prefix for key, job in settings.jobs.items()}


def find_batch(backend: Backend, context: CliContext, batch: str | None) -> BatchStatus | None:
    """The asked-for batch (the latest by default); None when there is no batch at all."""
    batch = batch or latest_batch(backend, context.settings.tags)
    if batch is None:
        return None
    found = batch_status(backend, context.settings.tags, batch)
    if found is None:
        raise UsageError(missing_batch(backend, context.settings.tags, batch))
    for note in batch_notes(found, name_prefixes(context.settings)):
        context.messages.print(note, soft_wrap=True)
    return found


def find(backend: Backend, context: CliContext, batch: str | None, schedule: str | None) -> BatchStatus | None:
    """The runs ``--schedule KEY`` names (a schedule's), else the batch ``--batch`` names (the latest by default)."""
    if not schedule:
        return find_batch(backend, context, batch)
    if batch:
        raise UsageError("give --batch or --schedule, not both")
    return schedule_status(backend, context.settings.tags, context.settings.job(schedule).key)


def read_again(backend: Backend, context: CliContext, found: BatchStatus) -> BatchStatus | None:
    """The same batch or schedule's runs, read again."""
    if found.schedule:
        return schedule_status(backend, context.settings.tags, found.schedule)
    return batch_status(backend, context.settings.tags, found.batch)
