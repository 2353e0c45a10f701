"""The aws profile's schedules: one Glue job per schedule, started by an EventBridge Scheduler schedule.

The job is tagged ``schedule`` (``cleanup`` leaves it alone); the schedule lives in the project's
group and starts it through StartJobRun with relative dates and the firing's ``--logical-time``.
A Glue trigger an older ``schedule`` made is replaced (it passed no logical time).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from job_helpers.aws import client
from job_helpers.control.build import Artifact, BuildMissing, current_artifact
from job_helpers.control.config import JobSpec, Settings, refuse_examples
from job_helpers.control.context import CliContext
from job_helpers.control.failures import UsageError
from job_helpers.control.installed_schedules import SchedulerSchedules, aws_schedule
from job_helpers.control.plan import SCHEDULE_TAG, PlanError
from job_helpers.control.schedule import (
    Schedule,
    schedule_group,
    schedule_name,
    schedule_request,
    schedule_tags,
    scheduler_name,
)

if TYPE_CHECKING:
    from job_helpers.control.glue_backend import GlueJobs


class EventBridgeScheduler:
    """Schedules in the project's EventBridge Scheduler group, each starting a job of its own."""

    def __init__(self, context: CliContext) -> None:
        self.context = context
        self.settings: Settings = context.settings

    def install(self, job: JobSpec, cron: str, lag_days: int, days_per_job: int, arguments: dict[str, str]) -> None:
        request = self._request(job, cron, arguments)
        artifact = self._uploaded_build(job)
        jobs = self._jobs()
        schedules = SchedulerSchedules(client("scheduler", self.context.boto3_session), request["GroupName"])
        where = f"{request['GroupName']}/{request['Name']}"
        if schedules.get(request["Name"]) is not None:
            raise UsageError(f"{job.key} is already scheduled (schedule {where}): `make unschedule job={job.key}` first")
        if not schedules.group_exists():
            raise UsageError(
                f"the project's schedule group {request['GroupName']} does not exist: `make stack profile=aws` creates it "
                "(with the scheduler role)"
            )
        self._replace_trigger(jobs, job)
        name = schedule_name(job)
        self._create(jobs, schedules, job, artifact, request)
        console = self.context.console
        console.print(
            f"Scheduled {job.key}: schedule {where} ({request['ScheduleExpression']}, UTC) starts job {name}",
            markup=False,
            soft_wrap=True,
        )
        console.print(
            f"  each firing covers {arguments['--from-date']} to {arguments['--to-date']}, counted from the UTC day it "
            "was meant for (--logical-time), however late or often it runs",
            markup=False,
            soft_wrap=True,
        )

    def _request(self, job: JobSpec, cron: str, arguments: dict[str, str]) -> dict[str, Any]:
        settings = self.settings
        try:
            if not settings.scheduler_role_arn:
                raise UsageError(
                    "profiles.aws.scheduler_role_arn is empty: set SCHEDULER_ROLE_ARN to the role EventBridge Scheduler "
                    "starts the job as (make stack creates it; make policy who=scheduler prints its policy)"
                )
            return schedule_request(job, cron, arguments, schedule_group(settings), settings.scheduler_role_arn)
        except PlanError as error:
            raise UsageError(str(error)) from error

    def _uploaded_build(self, job: JobSpec) -> Artifact:
        refuse_examples(self.settings)
        try:
            artifact = current_artifact(self.context.build_dir, self.settings.datasets["glue_assets"], self.context.storage)
            artifact.script_url(job.script)
        except BuildMissing as error:
            raise UsageError(str(error)) from error
        return artifact

    def _jobs(self) -> GlueJobs:
        from job_helpers.control.glue_backend import GlueJobs, glue_client

        session = self.context.boto3_session
        return GlueJobs(glue_client(session), client("sts", session))

    def _replace_trigger(self, jobs: GlueJobs, job: JobSpec) -> None:
        if _remove_trigger(jobs, self.settings, job):
            self.context.console.print(
                f"Replaced {job.key}'s Glue trigger {schedule_name(job)} and its job: their runs counted from the day they "
                "started, not from their firing; the run reports stay, and catchup reads them",
                markup=False,
                soft_wrap=True,
            )

    def _create(
        self, jobs: GlueJobs, schedules: SchedulerSchedules, job: JobSpec, artifact: Artifact, request: dict[str, Any]
    ) -> None:
        """The schedule's job, then the schedule; the job is deleted again when the schedule cannot be made."""
        from job_helpers.control.glue_backend import job_definition

        settings = self.settings
        name = schedule_name(job)
        tags = schedule_tags(settings.tags, job)
        definition = job_definition(job, artifact, name, settings.glue_role_arn or "", settings.glue_version or "", tags)
        try:
            jobs.create_job(definition)
        except ClientError as error:
            raise UsageError(
                f"could not create the schedule's job {name}: {error}; `make unschedule job={job.key}` clears a leftover"
            ) from error
        try:
            schedules.create(request)
        except ClientError:
            jobs.delete_job(name)
            raise

    def remove(self, job: JobSpec) -> None:
        jobs = self._jobs()
        name = schedule_name(job)
        ours = {**self.settings.tags, SCHEDULE_TAG: job.key}
        removed = []
        try:
            schedules = SchedulerSchedules(client("scheduler", self.context.boto3_session), schedule_group(self.settings))
            if schedules.get(scheduler_name(job)) is not None:
                schedules.delete(scheduler_name(job))
                removed.append(f"schedule {schedules.group}/{scheduler_name(job)}")
        except PlanError as error:
            raise UsageError(str(error)) from error
        if jobs.trigger(name) is not None and _carries(jobs.trigger_tags(name), ours):
            jobs.delete_trigger(name)
            removed.append(f"trigger {name}")
        if name in set(jobs.job_names(ours)) and _carries(jobs.job_tags(name), ours):
            jobs.delete_job(name)
            removed.append(f"job {name}")
        console = self.context.console
        if removed:
            console.print(f"Unscheduled {job.key}: removed {' and '.join(removed)}", markup=False, soft_wrap=True)
        else:
            console.print(
                f"{job.key} has no schedule of this project (no schedule, tagged trigger or job {name})",
                markup=False,
                soft_wrap=True,
            )

    def installed(self, job: JobSpec) -> Schedule | None:
        """Its EventBridge Scheduler schedule, or the Glue trigger of an older ``schedule``."""
        try:
            session = self.context.boto3_session
            schedules = SchedulerSchedules(client("scheduler", session), schedule_group(self.settings))
            return aws_schedule(schedules, self._jobs(), job.key, scheduler_name(job))
        except PlanError as error:
            raise UsageError(str(error)) from error


def _remove_trigger(jobs: GlueJobs, settings: Settings, job: JobSpec) -> bool:
    """Delete the Glue trigger (and its job) an older ``schedule`` made, if this project's; True when one was removed."""
    name = schedule_name(job)
    ours = {**settings.tags, SCHEDULE_TAG: job.key}
    if jobs.trigger(name) is None:
        return False
    if not _carries(jobs.trigger_tags(name), ours):
        raise UsageError(f"a Glue trigger named {name} exists without this project's tags {ours}: rename or remove it first")
    jobs.delete_trigger(name)
    if name in set(jobs.job_names(ours)) and _carries(jobs.job_tags(name), ours):
        jobs.delete_job(name)
    return True


def _carries(tags: dict[str, str], wanted: dict[str, str]) -> bool:
    return all(tags.get(key) == value for key, value in wanted.items())
