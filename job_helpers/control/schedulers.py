"""Where a job's schedule is installed, read back and removed: a crontab line locally, EventBridge Scheduler on aws.

``Scheduler`` is to schedules what ``runs.Backend`` is to job runs: ``schedule``, ``unschedule``,
``status --schedule``, ``report`` and ``catchup`` call it and never ask which profile they are in;
``backends.make_scheduler`` picks the implementation. Locally nothing is installed: the crontab
line running the same ``execute`` is printed alone on standard output (so ``make schedule …
>> mycrontab`` works) and the schedule is recorded for ``status`` and ``catchup``.
"""

from __future__ import annotations

from typing import Protocol

from job_helpers import relative_dates
from job_helpers.control import output
from job_helpers.control.config import JobSpec
from job_helpers.control.context import CliContext
from job_helpers.control.failures import UsageError
from job_helpers.control.installed_schedules import LocalSchedules
from job_helpers.control.plan import PlanError
from job_helpers.control.schedule import Schedule, crontab_line, glue_cron


class Scheduler(Protocol):
    def install(self, job: JobSpec, cron: str, lag_days: int, days_per_job: int, arguments: dict[str, str]) -> None:
        """Fire ``job`` on ``cron`` with the window ``arguments`` (relative dates), saying what was done."""

    def remove(self, job: JobSpec) -> None:
        """Remove the job's schedule (and what it starts), saying what was removed."""

    def installed(self, job: JobSpec) -> Schedule | None:
        """The job's schedule as installed; None when it has none."""


class CrontabScheduler:
    """The local profile: a crontab line to add by hand, and a record of it under the lake's registry."""

    def __init__(self, context: CliContext) -> None:
        self.context = context
        self.schedules = LocalSchedules(context.settings.lake)

    def install(self, job: JobSpec, cron: str, lag_days: int, days_per_job: int, arguments: dict[str, str]) -> None:
        """The line alone on standard output; the advice on standard error."""
        try:
            line = crontab_line(cron, self.context.repo_root, job, arguments, days_per_job)
            replaced = self.schedules.get(job.key) is not None
        except PlanError as error:
            raise UsageError(str(error)) from error
        self.schedules.save(job.key, glue_cron(cron).text, lag_days, days_per_job, relative_dates.now())
        self.context.messages.print(
            "Nothing installed. Add this line with `crontab -e`. It fires in the machine's time zone and passes the "
            "local time it fired as the batch's logical time, from whose day its relative dates count (EventBridge "
            f"Scheduler fires and counts in UTC). Recorded in {self.schedules.path(job.key)} for status and catchup"
            + ("; it replaces the earlier record, so remove the earlier line." if replaced else "."),
            markup=False,
            soft_wrap=True,
        )
        output.data(line)

    def remove(self, job: JobSpec) -> None:
        recorded = self.schedules.delete(job.key)
        self.context.console.print(
            ("Removed the record of the schedule. " if recorded else "")
            + f"Nothing is installed locally: remove the `make execute job={job.key}` line with `crontab -e`.",
            soft_wrap=True,
        )

    def installed(self, job: JobSpec) -> Schedule | None:
        try:
            return self.schedules.get(job.key)
        except PlanError as error:
            raise UsageError(str(error)) from error
