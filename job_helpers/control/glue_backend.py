"""The aws profile's backend: jobs and runs in AWS Glue.

``GlueJobs`` is a thin layer over the Glue API (one method per call, pagination included);
``GlueBackend`` uses it to create, start, watch and delete the project's jobs concurrently in a
bounded thread pool. Throttling is left to botocore's adaptive retry mode; a run refused for
too many concurrent runs is retried here with jittered backoff. A job refused for the jobs quota
is not: only deleting jobs frees a slot, so the batch stops at once saying how many jobs the
account holds and whose. botocore retries a CreateJob whose answer timed out, and Glue may have
created the job already: the retry's ``AlreadyExistsException`` counts as created when the job
there is this one (this batch's tags, the same definition). A restart is claimed first
(``claims``), because StartJobRun has no idempotency token; which job was created last is Glue's
``CreatedOn``, the service's clock, not this machine's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError, EndpointConnectionError

from job_helpers.aws import client
from job_helpers.backoff import Backoff, retry
from job_helpers.control.build import Artifact
from job_helpers.control.claims import ClaimTaken, RetryClaims
from job_helpers.control.config import JobSpec, Settings
from job_helpers.control.job_quota import job_counts
from job_helpers.control.plan import (
    BATCH_TAG,
    DEFAULT_JOBS_QUOTA,
    JOB_TAG,
    JOBS_QUOTA_CODE,
    JOBS_QUOTA_NAME,
    PlannedRun,
    default_arguments,
    rerun_of,
)
from job_helpers.control.runs import JobsLimit, Restarted, RunStatus, StartedRun, StartFailed, chunk_name, restart_arguments
from job_helpers.storage import Storage

log = logging.getLogger(__name__)

POOL_SIZE = 16
# Job names per BatchGetJobs call.
BATCH_GET_JOBS = 25
# Glue 5's log groups: its own and Spark's logs, and the job's stdout and stderr.
ERROR_LOG_GROUP = "/aws-glue/jobs/error"
OUTPUT_LOG_GROUP = "/aws-glue/jobs/output"
CONCURRENT_RUNS = "ConcurrentRunsExceededException"
QUOTA_REACHED = "ResourceNumberLimitExceededException"
# Glue's run history: "Job run history is accessible for 90 days" (developer guide, Job runs API;
# the newer API reference says 365). The shorter one decides when an empty history proves nothing.
RUN_HISTORY = timedelta(days=90)


class GlueRefused(Exception):
    """Glue refused a job or run for a quota (runs: after every retry); the message says which quota to look at."""


class JobClash(Exception):
    """CreateJob found a job of that name that this batch did not create; the message names it and how it differs."""


def glue_client(session: Any) -> Any:
    """A Glue client from the profile's session, with adaptive retries for throttling."""
    return client("glue", session, max_pool_connections=POOL_SIZE * 2)


def error_code(error: Exception) -> str:
    return error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""


class GlueJobs:
    """The Glue calls the backend needs, nothing more."""

    def __init__(self, glue: Any, sts: Any) -> None:
        self.glue = glue
        self.sts = sts

    @cached_property
    def _job_arn_prefix(self) -> str:
        account = self.sts.get_caller_identity()["Account"]
        return f"arn:{self.glue.meta.partition}:glue:{self.glue.meta.region_name}:{account}:job/"

    def create_job(self, definition: Mapping[str, Any]) -> None:
        self.glue.create_job(**definition)

    def start_run(self, job_name: str, arguments: Mapping[str, str]) -> str:
        return self.glue.start_job_run(JobName=job_name, Arguments=dict(arguments))["JobRunId"]

    def get_run(self, job_name: str, run_id: str) -> dict[str, Any]:
        return self.glue.get_job_run(JobName=job_name, RunId=run_id, PredecessorsIncluded=False)["JobRun"]

    def job_names(self, tags: Mapping[str, str] | None = None) -> Iterator[str]:
        """Names from ListJobs, filtered by tags on the server side when given (every page)."""
        filters = {"Tags": dict(tags)} if tags else {}
        for page in self.glue.get_paginator("list_jobs").paginate(**filters):
            yield from page.get("JobNames", [])

    def job(self, job_name: str) -> dict[str, Any]:
        return self.glue.get_job(JobName=job_name)["Job"]

    def job_tags(self, job_name: str) -> dict[str, str]:
        return self.glue.get_tags(ResourceArn=self._job_arn_prefix + job_name).get("Tags", {})

    def created_on(self, job_names: Sequence[str]) -> dict[str, datetime]:
        """When Glue created each job (``CreatedOn``, Glue's clock); jobs no longer there are left out."""
        found = self.glue.batch_get_jobs(JobNames=list(job_names))
        return {job["Name"]: when for job in found.get("Jobs", []) if (when := _aware(job.get("CreatedOn"))) is not None}

    def last_changed(self, job_names: Sequence[str]) -> dict[str, datetime]:
        """When Glue created or last modified each job, whichever is later; jobs no longer there are left out."""
        found = self.glue.batch_get_jobs(JobNames=list(job_names))
        changed = {}
        for job in found.get("Jobs", []):
            times = [when for key in ("CreatedOn", "LastModifiedOn") if (when := _aware(job.get(key))) is not None]
            if times:
                changed[job["Name"]] = max(times)
        return changed

    def runs(self, job_name: str) -> list[dict[str, Any]]:
        """Every run of the job (every page), oldest first."""
        pages = self.glue.get_paginator("get_job_runs").paginate(JobName=job_name)
        return sorted((run for page in pages for run in page.get("JobRuns", [])), key=lambda run: run["StartedOn"])

    def latest_run(self, job_name: str) -> dict[str, Any] | None:
        """The job's most recently started run, or None if it was never started."""
        runs = self.runs(job_name)
        return runs[-1] if runs else None

    def delete_job(self, job_name: str) -> None:
        self.glue.delete_job(JobName=job_name)

    def trigger(self, name: str) -> dict[str, Any] | None:
        """The trigger, or None when there is none of that name."""
        try:
            return self.glue.get_trigger(Name=name)["Trigger"]
        except ClientError as error:
            if error_code(error) == "EntityNotFoundException":
                return None
            raise

    def trigger_tags(self, name: str) -> dict[str, str]:
        return self.glue.get_tags(ResourceArn=self._job_arn_prefix.replace(":job/", ":trigger/") + name).get("Tags", {})

    def delete_trigger(self, name: str) -> None:
        self.glue.delete_trigger(Name=name)


def job_definition(
    job: JobSpec, artifact: Artifact, name: str, role_arn: str, glue_version: str, tags: Mapping[str, str]
) -> dict[str, Any]:
    """The CreateJob request for one chunk of ``job``.

    Run queuing is on so that runs above the account's concurrency quota wait in Glue's WAITING
    state instead of being refused.
    """
    definition: dict[str, Any] = {
        "Name": name,
        "Description": job.description,
        "Role": role_arn,
        "Command": {
            "Name": job.command,
            "ScriptLocation": artifact.script_url(job.script),
            "PythonVersion": "3",
        },
        "GlueVersion": glue_version,
        "Timeout": job.timeout_minutes,
        "ExecutionProperty": {"MaxConcurrentRuns": job.max_concurrent_runs},
        "DefaultArguments": default_arguments(job, artifact.zip_url, artifact.run_reports_url),
        "JobRunQueuingEnabled": True,
        "Tags": dict(tags),
        "WorkerType": job.worker_type,
        "NumberOfWorkers": job.number_of_workers,
        "ExecutionClass": job.execution_class,
    }
    return definition


def retry_refusals(call: Callable[[], Any], backoff: Backoff, attempts: int, sleep: Callable[[float], None] = time.sleep) -> Any:
    """Retry a run Glue refuses for too many concurrent runs, with jittered backoff; then fail naming the quota.

    A refusal for another quota (``ResourceNumberLimitExceededException``) is not retried: it
    does not lift while the runs go on.
    """
    try:
        return retry(call, lambda e: error_code(e) == CONCURRENT_RUNS, backoff, attempts, sleep)
    except ClientError as error:
        if error_code(error) == CONCURRENT_RUNS:
            raise GlueRefused(f"{error}; wait for running jobs to end or raise the concurrent-runs quota") from error
        if error_code(error) == QUOTA_REACHED:
            raise GlueRefused(f"{error}; a Glue quota is reached (Service Quotas, AWS Glue, shows which)") from error
        raise


def jobs_quota(quotas: Any) -> JobsLimit:
    """Glue's jobs-per-account quota as Service Quotas applies it to this account and region.

    When it cannot be read (no permission, no applied value, no endpoint) the documented default
    stands in, and a warning says why.
    """
    try:
        quota = quotas.get_service_quota(ServiceCode="glue", QuotaCode=JOBS_QUOTA_CODE)["Quota"]
        return JobsLimit(int(quota["Value"]), f"{JOBS_QUOTA_NAME!r}, {JOBS_QUOTA_CODE}, from Service Quotas")
    except (ClientError, EndpointConnectionError) as error:
        why = error_code(error) or str(error)
        log.warning(
            "Glue's %r quota (%s) could not be read from Service Quotas (%s): counting against its documented default, %s",
            JOBS_QUOTA_NAME,
            JOBS_QUOTA_CODE,
            why,
            f"{DEFAULT_JOBS_QUOTA:,}",
        )
        return JobsLimit(DEFAULT_JOBS_QUOTA, f"Glue's documented default; Service Quotas answered {why}")


def differences(definition: Mapping[str, Any], job: Mapping[str, Any]) -> list[str]:
    """The fields of a CreateJob request that the job Glue holds does not have (an empty value and none are the same)."""
    return sorted(
        key for key, wanted in definition.items() if key not in ("Name", "Tags") and (job.get(key) or None) != (wanted or None)
    )


def run_status(job_name: str, run: Mapping[str, Any]) -> RunStatus:
    return RunStatus(
        job_name=job_name,
        run_id=run["Id"],
        state=run["JobRunState"],
        arguments=run.get("Arguments", {}),
        started_on=_aware(run.get("StartedOn")),
        completed_on=_aware(run.get("CompletedOn")),
        error=run.get("ErrorMessage"),
        execution_seconds=run.get("ExecutionTime"),
        dpu_seconds=run.get("DPUSeconds"),
        worker_type=run.get("WorkerType"),
        number_of_workers=run.get("NumberOfWorkers"),
        execution_class=run.get("ExecutionClass"),
    )


def console_url(region: str, job_name: str) -> str:
    return f"https://{region}.console.aws.amazon.com/gluestudio/home?region={region}#/editor/job/{quote(job_name)}/runs"


def run_console_url(region: str, job_name: str, run_id: str) -> str:
    return f"https://{region}.console.aws.amazon.com/gluestudio/home?region={region}#/job/{quote(job_name)}/run/{run_id}"


def driver_stream(run_id: str) -> str:
    """Glue 5 writes the driver's stdout and stderr (tracebacks included) to this stream of OUTPUT_LOG_GROUP.

    Executors write to ``<run id>-<executor>``; Glue's own and Spark's logs go to ERROR_LOG_GROUP
    (AWS Glue developer guide, "Logging for AWS Glue jobs"). Glue 5 logs in real time for every job.
    """
    return f"{run_id}-driver"


def run_log(region: str, run: RunStatus) -> str:
    """Where a run's output and traceback are: the driver's stream of the output group, and the run's console page."""
    return (
        f"CloudWatch {OUTPUT_LOG_GROUP} stream {driver_stream(run.run_id)}; {run_console_url(region, run.job_name, run.run_id)}"
    )


def driver_output(logs: Any, run_id: str, lines: int) -> list[str]:
    """The last ``lines`` lines the run's driver printed (none when its stream does not exist yet)."""
    try:
        events = logs.get_log_events(
            logGroupName=OUTPUT_LOG_GROUP, logStreamName=driver_stream(run_id), startFromHead=False, limit=lines
        )["events"]
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return []
        raise
    return [event["message"].rstrip("\n") for event in events][-lines:]


class GlueBackend:
    """Jobs on AWS Glue; every call goes through ``GlueJobs``."""

    poll_backoff = Backoff(base=2.0, cap=30.0)

    run_history: timedelta | None = RUN_HISTORY

    def __init__(
        self,
        jobs: GlueJobs,
        logs: Any,
        quotas: Any,
        role_arn: str,
        glue_version: str,
        region: str,
        claims: RetryClaims,
        pool_size: int = POOL_SIZE,
        refusal_backoff: Backoff = Backoff(base=1.0, cap=30.0),
        refusal_attempts: int = 8,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.jobs = jobs
        self.logs = logs
        self.quotas = quotas
        self.role_arn = role_arn
        self.glue_version = glue_version
        self.region = region
        self.claims = claims
        self.pool_size = pool_size
        self.refusal_backoff = refusal_backoff
        self.refusal_attempts = refusal_attempts
        self.sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings, session: Any) -> GlueBackend:
        """The backend of the aws profile, on the clients of ``session``; retry claims live with the build."""
        jobs = GlueJobs(glue_client(session), client("sts", session))
        claims = RetryClaims(Storage(boto3_session=session), settings.datasets["glue_assets"])
        return cls(
            jobs,
            client("logs", session),
            client("service-quotas", session),
            settings.glue_role_arn or "",
            settings.glue_version or "",
            settings.region or "",
            claims,
        )

    def start_runs(
        self,
        job: JobSpec,
        artifact: Artifact,
        planned: Sequence[PlannedRun],
        tags: Mapping[str, str],
        on_started: Callable[[StartedRun], None],
    ) -> list[StartedRun]:
        """Create and start every run in the pool; on the first hard failure stop submitting more."""
        project_tags = {key: value for key, value in tags.items() if key not in (BATCH_TAG, JOB_TAG)}
        full: list[str] = []
        lock = threading.Lock()

        def quota_reached(error: ClientError) -> GlueRefused:
            with lock:
                if not full:
                    full.append(job_counts(self, project_tags))
            return GlueRefused(
                f"Glue refused to create more jobs, the account's {JOBS_QUOTA_NAME!r} quota is reached ({error}): "
                f"{full[0]}. Run `make cleanup`, or ask for a higher quota (Service Quotas, AWS Glue, {JOBS_QUOTA_CODE})"
            )

        def create_and_start(run: PlannedRun) -> StartedRun:
            definition = job_definition(job, artifact, run.name, self.role_arn, self.glue_version, tags)
            try:
                self.jobs.create_job(definition)
            except ClientError as error:
                if error_code(error) == QUOTA_REACHED:
                    raise quota_reached(error) from error
                if error_code(error) != "AlreadyExistsException":
                    raise
                self._created_before(definition)
            return self._start(run.name, run.arguments, run)

        failure = "jobs created but never started are deleted by `cleanup --include-never-run`"
        return self._in_pool(planned, create_and_start, on_started, "created or started", failure)

    def _created_before(self, definition: Mapping[str, Any]) -> None:
        """A job of the definition's name exists: it is this one if it carries its tags and definition, else JobClash.

        botocore retries a CreateJob whose answer did not arrive (a read timeout), and Glue may have
        created the job before it: that retry meets the job as AlreadyExistsException.
        """
        name, wanted = definition["Name"], definition["Tags"]
        tags = self.jobs.job_tags(name)
        theirs = {key: tags.get(key) for key, value in wanted.items() if tags.get(key) != value}
        if theirs:
            ours = {key: wanted[key] for key in theirs}
            raise JobClash(
                f"job {name} already exists and is not this batch's: it carries {theirs}, this batch {ours}; "
                "start the batch again for a new batch id"
            )
        differ = differences(definition, self.jobs.job(name))
        if differ:
            raise JobClash(
                f"job {name} already exists with this batch's tags but another {', '.join(differ)}; "
                "delete it (`make cleanup --include-never-run` once its runs ended) and start the batch again"
            )
        log.info("job %s: a CreateJob retried after a timeout found it created, with this batch's tags and definition", name)

    def restart_runs(
        self, runs: Sequence[RunStatus], arguments: Mapping[str, Mapping[str, str]], on_started: Callable[[StartedRun], None]
    ) -> Restarted:
        """StartJobRun again on each run's job with that run's arguments (``arguments[job name]`` over them):
        same definition, same build. Each failed run is claimed first; one another retry claimed is left alone."""
        run_arguments = [restart_arguments(run, arguments.get(run.job_name, {})) for run in runs]
        planned = [rerun_of(run.job_name, run_args) for run, run_args in zip(runs, run_arguments)]
        # A schedule's job has a run per firing: each planned run (job, days, logical time) is one failed run.
        failed = dict(zip(planned, zip(runs, run_arguments)))
        if len(failed) < len(planned):
            raise ValueError("two of the runs to restart are the same chunk: restart the latest run of each only")
        taken: dict[str, str] = {}
        lock = threading.Lock()

        def start(run: PlannedRun) -> StartedRun | None:
            failed_run, run_args = failed[run]
            try:
                claim = self.claims.claim(run.name, failed_run.run_id)
            except ClaimTaken as other:
                with lock:
                    taken[chunk_name(run.name, run.logical_time)] = str(other)
                return None
            try:
                started = self._start(run.name, run_args, run)
            except BaseException:
                self.claims.release(claim)
                raise
            self.claims.started(claim, started.run_id)
            return started

        started = self._in_pool(planned, start, on_started, "started again", "run `retry` again for the rest")
        return Restarted(started, taken)

    def _start(self, job_name: str, arguments: Mapping[str, str], planned: PlannedRun) -> StartedRun:
        run_id = retry_refusals(
            lambda: self.jobs.start_run(job_name, arguments), self.refusal_backoff, self.refusal_attempts, self.sleep
        )
        log.debug("started run %s of %s", run_id, job_name)
        return StartedRun(job_name, run_id, planned)

    def _in_pool(
        self,
        planned: Sequence[PlannedRun],
        start: Callable[[PlannedRun], StartedRun | None],
        on_started: Callable[[StartedRun], None],
        what: str,
        hint: str,
    ) -> list[StartedRun]:
        """Run ``start`` for every planned run in the pool (None: nothing to start); the first failure stops submitting more."""
        started: list[StartedRun] = []
        lock = threading.Lock()

        def one(run: PlannedRun) -> None:
            result = start(run)
            if result is None:
                return
            with lock:
                started.append(result)
                on_started(result)

        with ThreadPoolExecutor(max_workers=min(self.pool_size, max(len(planned), 1))) as pool:
            futures = [pool.submit(one, run) for run in planned]
            for future in as_completed(futures):
                if future.exception() is not None:
                    pool.shutdown(wait=True, cancel_futures=True)
                    break
        failures = [(run, f.exception()) for run, f in zip(planned, futures) if not f.cancelled() and f.exception()]
        if failures:
            run, error = failures[0]
            skipped = sum(f.cancelled() for f in futures)
            raise StartFailed(
                f"{len(failures)} job(s) could not be {what}, first {run.name}: {error}. "
                f"{len(started)} of {len(planned)} started, {skipped} not attempted; {hint}",
                started,
            )
        order = {run: index for index, run in enumerate(planned)}
        return sorted(started, key=lambda s: order[s.planned])

    def run_states(self, runs: Sequence[StartedRun]) -> list[RunStatus]:
        return self._map(lambda run: run_status(run.job_name, self.jobs.get_run(run.job_name, run.run_id)), runs)

    def tagged_jobs(self, tags: Mapping[str, str]) -> dict[str, dict[str, str]]:
        """ListJobs narrows by tag on the server; GetTags per job confirms every tag matches."""
        names = sorted(set(self.jobs.job_names(tags)))
        found = dict(zip(names, self._map(self.jobs.job_tags, names)))
        return {name: job_tags for name, job_tags in found.items() if all(job_tags.get(k) == v for k, v in tags.items())}

    def created_last(self, job_names: Iterable[str]) -> str | None:
        """The job Glue created last (its ``CreatedOn``; the name breaks a tie)."""
        names = sorted(set(job_names))
        chunks = [names[i : i + BATCH_GET_JOBS] for i in range(0, len(names), BATCH_GET_JOBS)]
        created = {name: when for found in self._map(self.jobs.created_on, chunks) for name, when in found.items()}
        return max(created, key=lambda name: (created[name], name), default=None)

    def last_changed(self, job_names: Iterable[str]) -> dict[str, datetime]:
        """When Glue created or last modified each job (``CreatedOn``, ``LastModifiedOn``), whichever is later."""
        names = sorted(set(job_names))
        chunks = [names[i : i + BATCH_GET_JOBS] for i in range(0, len(names), BATCH_GET_JOBS)]
        return {name: when for found in self._map(self.jobs.last_changed, chunks) for name, when in found.items()}

    def all_jobs(self) -> set[str]:
        """Every job of the account in the region: ListJobs without tags, every page."""
        return set(self.jobs.job_names())

    def jobs_limit(self) -> JobsLimit:
        return jobs_quota(self.quotas)

    def latest_runs(self, job_names: Iterable[str]) -> dict[str, RunStatus | None]:
        names = list(job_names)
        runs = self._map(self.jobs.latest_run, names)
        return {name: None if run is None else run_status(name, run) for name, run in zip(names, runs)}

    def job_runs(self, job_names: Iterable[str]) -> dict[str, list[RunStatus]]:
        names = list(job_names)
        runs = self._map(self.jobs.runs, names)
        return {name: [run_status(name, run) for run in job_runs] for name, job_runs in zip(names, runs)}

    def delete_job(self, job_name: str) -> None:
        self.jobs.delete_job(job_name)

    def follow_hint(self, job_name: str) -> str:
        return console_url(self.region, job_name)

    def run_log(self, run: RunStatus) -> str:
        return run_log(self.region, run)

    def log_tail(self, run: RunStatus, lines: int) -> list[str]:
        return driver_output(self.logs, run.run_id, lines)

    def _map(self, call: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=min(self.pool_size, len(items))) as pool:
            return list(pool.map(call, items))


def _aware(value: datetime | None) -> datetime | None:
    """botocore returns aware datetimes; moto and old responses may not."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
