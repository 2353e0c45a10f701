"""A schedule's state for ``status --schedule`` and ``report``: its cron and window, and the days it left missing."""

from __future__ import annotations

from job_helpers.control.backends import make_scheduler
from job_helpers.control.context import CliContext
from job_helpers.control.runs import Backend
from job_helpers.control.scheduled_runs import active_days, due_since_created, missing_days, reported_days, schedule_now
from job_helpers.control.summary import ScheduleState


def schedule_state(context: CliContext, backend: Backend, job_key: str) -> ScheduleState:
    """The schedule's cron and window, and the days its firings since it was created should have covered but no
    succeeded run report covers and no run is working on."""
    settings = context.settings
    job = settings.job(job_key)
    schedule = make_scheduler(context).installed(job)
    if schedule is None:
        return {"job": job.key, "installed": None, "missing_days": []}
    due = due_since_created(schedule, schedule_now(schedule))
    covered = reported_days(context.storage, settings.datasets["glue_assets"], job, due[0], due[-1]) if due else set()
    missing = missing_days(due, covered, active_days(backend, settings.tags, job.key))
    return {
        "job": job.key,
        "installed": schedule.where,
        "cron": schedule.cron.expression,
        "zone": "local" if schedule.local else "UTC",
        "lag_days": schedule.lag_days,
        "days_per_job": schedule.days_per_job,
        "created": schedule.created.isoformat(),
        "due_days": len(due),
        "missing_days": [day.isoformat() for day in missing],
    }
