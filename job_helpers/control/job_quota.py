"""Room for a batch's jobs: the project's own limit, and Glue's jobs quota, which counts every job of the account.

``execute`` checks both before it creates anything. When Glue refuses CreateJob for the quota
anyway (someone created jobs meanwhile, or the quota could not be read), the backend stops at
once with the same counts: waiting does not free a job slot, only deleting jobs does.
"""

from __future__ import annotations

from collections.abc import Mapping

from job_helpers.control.cleanup import decisions
from job_helpers.control.plan import check_account_jobs, check_project_jobs, quota_counts
from job_helpers.control.runs import Backend


def removable(backend: Backend, project_tags: Mapping[str, str]) -> tuple[int, int]:
    """How many jobs the project has, and how many of them cleanup could delete now (without --include-never-run)."""
    found = decisions(backend, project_tags, include_never_run=False, name_prefixes={})
    return len(found), sum(decision.deletable for decision in found)


def job_counts(backend: Backend, project_tags: Mapping[str, str]) -> str:
    """Every job there, how many are the project's, how many of those cleanup could delete now."""
    every = len(backend.all_jobs())
    return quota_counts(every, *removable(backend, project_tags))


def check_room(backend: Backend, project_tags: Mapping[str, str], new: int, project_limit: int) -> None:
    """Refuse (PlanError) a batch of ``new`` jobs that would take the project past ``project_limit``
    or every job there past the backend's limit, saying how many jobs there are and whose."""
    project = len(backend.tagged_jobs(project_tags))
    limit = backend.jobs_limit()
    every = len(backend.all_jobs())
    if project + new <= project_limit and (limit is None or every + new <= limit.jobs):
        return
    project, deletable = removable(backend, project_tags)
    if limit is not None:
        check_account_jobs(every, project, deletable, new, limit.jobs, limit.source)
    check_project_jobs(project, new, project_limit, every, deletable)
