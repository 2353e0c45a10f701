"""A schedule's runs as the commands see them: the days each firing covered, and the days it should have.

The runs of a schedule are those of its own Glue job (tag ``schedule``, one run per firing) and of
the batches run for it (tag ``for-schedule``: a crontab line's firings, catch-ups). Each covers the
days its arguments name, relative ones counted from its ``--logical-time``; ``schedule_status``
groups every run by those days, so a firing, its retries and a catch-up of the same days are one
chunk with several attempts, and ``status``, ``report`` and ``retry`` treat it like a batch.

Catch-up compares the days the schedule's firings should have covered by now (its cron's calendar)
with the days covered by SUCCEEDED run reports of the job, any run of it (a firing, a catch-up, a
backfill by hand), read from ``<glue_assets>runs/<job name>/``, where they outlive Glue's 90 days
of run history and ``cleanup``. Days a run is still working on are left out, so a catch-up never
starts a day twice; the rest are started as one ordinary batch.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta

from job_helpers import relative_dates
from job_helpers.control.config import JobSpec
from job_helpers.control.cron_calendar import firing_days
from job_helpers.control.plan import FOR_SCHEDULE_TAG, JOB_TAG, SCHEDULE_TAG, Chunk
from job_helpers.control.runs import SUCCEEDED, Backend, BatchStatus, RunStatus
from job_helpers.control.schedule import Schedule
from job_helpers.run_report import RunReport, read_report, reports_prefix
from job_helpers.storage import Storage

log = logging.getLogger(__name__)

# A run report's scope for a date-ranged run: <from>_<to>.
SCOPE = re.compile(r"(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})")
READERS = 16
LATEST = datetime.max.replace(tzinfo=UTC)


def schedule_jobs(backend: Backend, project_tags: Mapping[str, str], job_key: str) -> dict[str, dict[str, str]]:
    """The jobs holding a schedule's runs: its own job, and the jobs of the batches run for it."""
    own = backend.tagged_jobs({**project_tags, SCHEDULE_TAG: job_key})
    return {**own, **backend.tagged_jobs({**project_tags, FOR_SCHEDULE_TAG: job_key})}


def schedule_status(backend: Backend, project_tags: Mapping[str, str], job_key: str) -> BatchStatus:
    """Every run of the schedule as a batch of chunks, one per range of days covered, in date order."""
    jobs = schedule_jobs(backend, project_tags, job_key)
    history = backend.job_runs(jobs)
    chunks: dict[object, list[RunStatus]] = {}
    for runs in history.values():
        for run in runs:
            chunks.setdefault(run.days or run.run_id, []).append(run)
    attempts = {key: sorted(runs, key=_started) for key, runs in chunks.items()}
    latest = sorted((runs[-1] for runs in attempts.values()), key=lambda r: (r.from_date or "", r.to_date or "", r.job_name))
    never = sorted(name for name, runs in history.items() if not runs and SCHEDULE_TAG not in jobs[name])
    return BatchStatus(
        f"schedule {job_key}",
        (job_key,),
        latest,
        never,
        {runs[-1].run_id: runs for runs in attempts.values()},
        {name: job_key for name in jobs},
        schedule=job_key,
    )


def _started(run: RunStatus) -> datetime:
    """A run's place among its chunk's attempts: when it started, a run still waiting last."""
    return run.started_on or LATEST


def schedule_now(schedule: Schedule) -> datetime:
    """Now as a wall-clock time where the schedule fires: UTC, or the machine's zone for a crontab line."""
    current = relative_dates.now()
    return (current.astimezone() if schedule.local else current.astimezone(UTC)).replace(tzinfo=None)


def due_days(schedule: Schedule, start: datetime, now: datetime) -> list[date]:
    """The days covered by the firings from ``start`` to ``now`` (wall-clock times where the schedule fires)."""
    days: set[date] = set()
    for day in firing_days(schedule.cron, start, now):
        window = schedule.window(day)
        days.update(window.start + timedelta(days=n) for n in range(window.days))
    return sorted(days)


def due_since(schedule: Schedule, since: date, now: datetime) -> list[date]:
    """The days from ``since`` on that the schedule's firings up to ``now`` cover."""
    start = datetime.combine(since + timedelta(days=schedule.lag_days), time.min)
    return [day for day in due_days(schedule, start, now) if day >= since]


def due_since_created(schedule: Schedule, now: datetime) -> list[date]:
    """The days the schedule's firings since it was created cover."""
    created = schedule.created.astimezone() if schedule.local else schedule.created.astimezone(UTC)
    return due_days(schedule, created.replace(tzinfo=None), now)


def reported_days(storage: Storage, glue_assets_url: str, job: JobSpec, first: date, last: date) -> set[date]:
    """The days from ``first`` to ``last`` that a SUCCEEDED run report of ``job`` covers (its scope).

    The reports of every run of the job are under ``runs/<name_prefix>-…/``: its schedule's job
    (``-scheduled``) and its batches (``-<batch>-<from>-<to>``, read only when that range meets
    ``first``..``last``). A report whose scope names no days (a run that failed before reading
    its dates) covers none.
    """
    prefix = reports_prefix(glue_assets_url)
    names = re.compile(re.escape(job.name_prefix) + r"-(?:scheduled|\d{8}T\d{6}\.\d{3}Z-(\d{8})-(\d{8}))")
    urls = []
    for stored in storage.list(prefix + job.name_prefix + "-"):
        job_name, _, file_name = stored.url[len(prefix) :].partition("/")
        found = names.fullmatch(job_name)
        if found is None or "/" in file_name or not file_name.endswith(".json"):
            continue
        if found.group(1) and not _meets(_compact(found.group(1)), _compact(found.group(2)), first, last):
            continue
        urls.append(stored.url)
    days: set[date] = set()
    if not urls:
        return days
    with ThreadPoolExecutor(max_workers=min(READERS, len(urls))) as pool:
        reports = list(pool.map(lambda url: _report(storage, url), urls))
    for report in reports:
        scope = SCOPE.fullmatch(report.scope) if report is not None and report.status == SUCCEEDED else None
        if scope is None:
            continue
        start, end = date.fromisoformat(scope.group(1)), date.fromisoformat(scope.group(2))
        days.update(
            start + timedelta(days=n) for n in range((end - start).days + 1) if first <= start + timedelta(days=n) <= last
        )
    return days


def _report(storage: Storage, url: str) -> RunReport | None:
    """The run report at ``url``; one that is not a report covers nothing, so its days are run again."""
    try:
        return read_report(storage, url)
    except (ValueError, TypeError) as error:
        log.warning("%s: not a run report (%s); its days count as not covered", url, error)
        return None


def _compact(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").date()


def _meets(start: date, end: date, first: date, last: date) -> bool:
    return start <= last and end >= first


def active_days(backend: Backend, project_tags: Mapping[str, str], job_key: str) -> set[date]:
    """The days a run of the job is still waiting for or working on: the schedule's job's and every batch's."""
    jobs = {**backend.tagged_jobs({**project_tags, JOB_TAG: job_key}), **schedule_jobs(backend, project_tags, job_key)}
    days: set[date] = set()
    for runs in backend.job_runs(jobs).values():
        for run in runs:
            chunk = run.days
            if not run.ended and chunk is not None:
                days.update(_days(chunk))
    return days


def _days(chunk: Chunk) -> Iterable[date]:
    return (chunk.start + timedelta(days=n) for n in range(chunk.days))


def missing_days(due: Iterable[date], covered: set[date], active: set[date]) -> list[date]:
    """The due days no succeeded run covers and no run is working on, in order."""
    return sorted(set(due) - covered - active)
