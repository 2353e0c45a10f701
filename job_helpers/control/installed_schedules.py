"""Where a job's schedule is kept: EventBridge Scheduler on aws (or a Glue trigger made before it), a record locally.

``status``, ``retry``, ``report`` and ``catchup`` need the schedule's cron and window to know
which days its firings should have covered; ``schedule`` and ``unschedule`` keep them here.
On aws the schedule lives in the project's schedule group (``make stack`` creates it, with the
project's tags: EventBridge Scheduler tags groups, not schedules). Locally nothing is installed,
so ``schedule`` records what the crontab line it prints will do, one JSON file per job under
``<lake_root>/_registry/schedules/``, written whole or not at all.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from job_helpers.control.local_registry import REGISTRY_FILE
from job_helpers.control.plan import PlanError
from job_helpers.control.schedule import Schedule, glue_cron, scheduled_schedule, trigger_schedule

if TYPE_CHECKING:
    from job_helpers.control.glue_backend import GlueJobs

NOT_FOUND = "ResourceNotFoundException"


class SchedulerSchedules:
    """The EventBridge Scheduler calls ``schedule`` and ``unschedule`` make, in one schedule group."""

    def __init__(self, scheduler: Any, group: str) -> None:
        self.scheduler = scheduler
        self.group = group

    def group_exists(self) -> bool:
        try:
            self.scheduler.get_schedule_group(Name=self.group)
        except ClientError as error:
            if _code(error) == NOT_FOUND:
                return False
            raise
        return True

    def get(self, name: str) -> dict[str, Any] | None:
        """The schedule (GetSchedule's answer), or None when the group holds none of that name."""
        try:
            return self.scheduler.get_schedule(Name=name, GroupName=self.group)
        except ClientError as error:
            if _code(error) == NOT_FOUND:
                return None
            raise

    def create(self, request: dict[str, Any]) -> None:
        self.scheduler.create_schedule(**request)

    def delete(self, name: str) -> None:
        self.scheduler.delete_schedule(Name=name, GroupName=self.group)


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def aws_schedule(schedules: SchedulerSchedules, jobs: GlueJobs, job_key: str, name: str) -> Schedule | None:
    """The job's schedule on aws: its EventBridge Scheduler schedule, else the Glue trigger of an older ``schedule``."""
    found = schedules.get(name)
    if found is not None:
        return scheduled_schedule(job_key, found)
    trigger = jobs.trigger(name)
    if trigger is None:
        return None
    created = jobs.created_on([name]).get(name)
    if created is None:
        return None
    return trigger_schedule(job_key, trigger, created)


class LocalSchedules:
    """The local profile's record of each schedule whose crontab line ``schedule`` printed."""

    def __init__(self, lake_root: Path) -> None:
        self.folder = (lake_root / REGISTRY_FILE).parent / "schedules"

    def path(self, job_key: str) -> Path:
        return self.folder / f"{job_key}.json"

    def save(self, job_key: str, cron: str, lag_days: int, days_per_job: int, created: datetime) -> None:
        record = {
            "job": job_key,
            "cron": cron,
            "lag_days": lag_days,
            "days_per_job": days_per_job,
            "created": created.isoformat(),
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path(job_key)
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, target)

    def get(self, job_key: str) -> Schedule | None:
        path = self.path(job_key)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            return Schedule(
                job_key,
                glue_cron(record["cron"]),
                int(record["lag_days"]),
                int(record["days_per_job"]),
                datetime.fromisoformat(record["created"]),
                True,
                f"crontab line recorded in {path}",
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise PlanError(f"{path}: not a schedule record ({error}); run `make schedule` again or delete it") from error

    def delete(self, job_key: str) -> bool:
        path = self.path(job_key)
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed
