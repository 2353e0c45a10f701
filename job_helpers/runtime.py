"""Job start-up on AWS Glue or on a laptop: the only module that knows which one it is on.

Job scripts resolve their arguments here, once, with ``awsglue.utils.getResolvedOptions`` in both
places. On Glue they also get a ``GlueContext`` and a ``Job`` that is initialised and committed
around the work; locally (the local job runner sets ``JOB_HELPERS_RUNTIME=local``) they get a
``SparkSession`` only when they ask for Spark. A job that uses Spark only to run Python functions in
parallel asks for ``tasks`` instead (``job_helpers.tasks``): Spark on Glue, local worker processes and
no JVM on a laptop. Job logic only ever sees plain values and, if it needs them, a ``SparkSession``
and a task runner.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from job_helpers import job_arguments
from job_helpers.commit_record import RecordUnreadable
from job_helpers.job_failed import JobFailed
from job_helpers.publish import PublishError, identify
from job_helpers.relative_dates import LOGICAL_TIME
from job_helpers.run_report import (
    FAILED,
    CountsDoNotReconcile,
    RunReport,
    report_url,
    scope_report_url,
    write_report,
)
from job_helpers.storage import Storage
from job_helpers.tasks import WORKER_ENVIRONMENT, ProcessTasks, SparkTasks, TaskFailed, describe

RUNTIME_ENV = "JOB_HELPERS_RUNTIME"
# Keys of the resolved arguments: the run's id (Glue sets it, the local runner too) and --run-reports.
RUN_ID, RUN_REPORTS = "JOB_RUN_ID", job_arguments.RUN_REPORTS.replace("-", "_")

# The module before an error's type in a Python traceback's last line (json.decoder.JSONDecodeError: ...).
QUALIFIED_TYPE = re.compile(r"^(?:\w+\.)+(?=\w+(?::|$))")

log = logging.getLogger(__name__)


# Failures whose message says what to fix: one line in the log, exit status 1, no traceback.
CLEAR_FAILURES = (JobFailed, PublishError, CountsDoNotReconcile, RecordUnreadable, TaskFailed)


def failure_message(failure: BaseException) -> str:
    """One line for a run that raised: a clear failure's own words (a local task's error is one), a
    failed Spark task's Python error, else the error's type and first line."""
    if isinstance(failure, CLEAR_FAILURES):
        return str(failure)
    cause = spark_task_cause(failure)
    if cause:
        return f"a Spark task failed: {cause}"
    return describe(failure)


def spark_task_cause(failure: BaseException) -> str | None:
    """The Python error a Spark task raised, as a local task's is named (``describe``: its type without the
    module, the first line of its message), when ``failure`` is the Java error a Spark action turned it into;
    None for any other failure. Its own message is a page of JVM stack."""
    if type(failure).__name__ != "Py4JJavaError":  # py4j comes with pyspark, which the CLI never imports
        return None
    lines = str(failure).splitlines()
    start = next((i for i, line in enumerate(lines) if "PythonException: Traceback" in line), None)
    if start is None:
        return next((line.strip(": ") for line in lines[1:] if line.strip()), None) or None
    end = next((i for i, line in enumerate(lines[start + 1 :]) if line.startswith("\tat ")), len(lines))
    return _raised(lines[start + 1 : start + 1 + end])


def _raised(traceback_lines: Sequence[str]) -> str | None:
    """A Python traceback's error: the first line after its last (indented) frame, its type without the module."""
    frames = [i for i, line in enumerate(traceback_lines) if line.startswith(" ")]
    after = traceback_lines[frames[-1] + 1 if frames else 0 :]
    error = next((line.strip() for line in after if line.strip()), None)
    return QUALIFIED_TYPE.sub("", error) if error else None


@dataclass
class JobRun:
    """One run as its script sees it: resolved arguments, Spark and a task runner if asked for, and the report it fills.

    The script fills ``report`` as it learns each count, so a run that fails part way reports what
    it did, and ends with ``end``. ``report_folder``, when the job sets it, is where the report is
    also kept beside the data.
    """

    name: str
    args: dict[str, str]
    spark: Any = None
    glue_context: Any = field(default=None, repr=False)
    tasks: Any = None  # a Tasks runner when the job asks for one
    report: RunReport = field(default_factory=RunReport)
    report_folder: str | None = None

    def end(self, unit: str = "unit") -> None:
        """Every script's last step: the run fails, naming each ``unit`` (day, archive…) in
        ``report.failed`` with why, when any failed; the others were published. The runtime writes
        the report either way."""
        failed = self.report.failed
        if failed:
            names = "; ".join(f"{name}: {why}" for name, why in sorted(failed.items()))
            raise JobFailed(f"{len(failed)} {unit}(s) failed, the others were published: {names}")


def on_glue() -> bool:
    return os.environ.get(RUNTIME_ENV, "glue") != "local"


class StdoutLogHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a line is logged; Glue and test runners swap it."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure_logging() -> None:
    """Job log lines to stdout, once per process, leaving other handlers in place."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    logging.getLogger("py4j").setLevel(logging.WARNING)
    if not any(isinstance(handler, StdoutLogHandler) for handler in root.handlers):
        handler = StdoutLogHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)


# The local driver JVM starts and warms up fast rather than peaking late: C1-compiled code only, one compiler
# thread and one serial collector (a local run is seconds of small jobs; C2 and G1 spend a core on a peak it
# never reaches, and a second compiler thread takes a 2-core machine's time from the driver: tests/stedi ran
# in 67-68 s with one, 75-81 s with two). Metaspace starts at 64 MB: at the JVM's 21 MB the classes a job
# loads beyond the class archive crossed it mid-run and stopped every thread for a full collection (0.09-0.16 s
# of each STEDI pipeline run, which ends at 22 MB of metaspace).
LOCAL_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:CICompilerCount=1 -XX:MetaspaceSize=64m"
# Shuffles locally: one partition per core of a laptop or a 2-core runner (Spark's 200 are for clusters).
LOCAL_SHUFFLE_PARTITIONS = "2"


def local_spark(app_name: str) -> Any:
    """A local SparkSession with the settings the jobs rely on (UTC, dynamic partition overwrite).

    When the environment names the S3A jars (the aws profile's local runner does), the session
    also reads and writes ``s3://`` as the boto3 identity; see ``job_helpers.s3a``. Only this
    session is tuned for a fast start (``LOCAL_JAVA_OPTIONS``, few shuffle partitions, no adaptive
    execution, Spark's classes from a class-data-sharing archive: ``job_helpers.class_archive``);
    Glue runs the same job code on its own session.
    """
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    from job_helpers import class_archive, s3a

    # Python workers run the driver's interpreter (the venv's), so they see the same packages.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # Spark's Python workers hand memory back to the OS as local task workers do (tasks.WORKER_ENVIRONMENT).
    for name, value in WORKER_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    builder = SparkSession.builder
    settings = s3a.spark_settings(os.environ)
    for key, value in settings.items():
        builder = builder.config(key, value)
    launching = SparkContext._gateway is None  # this call starts the JVM, so its options are decided here
    # A session with S3A's jars on its class path has an archive of its own; jars Spark fetches itself
    # (spark.jars.packages) are loaded apart from the class path, where no archive can hold them.
    archived = launching and s3a.PACKAGES_SETTING not in settings
    archive = class_archive.java_option(LOCAL_JAVA_OPTIONS, settings.get(s3a.CLASS_PATH_SETTING, "")) if archived else ""
    session = (
        builder.master(os.environ.get("SPARK_MASTER", "local[*]"))
        .appName(app_name)
        .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "2g"))
        .config("spark.driver.extraJavaOptions", f"{LOCAL_JAVA_OPTIONS} {archive}".strip())
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        .config("spark.sql.shuffle.partitions", os.environ.get("SPARK_SHUFFLE_PARTITIONS", LOCAL_SHUFFLE_PARTITIONS))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Plans fixed before they run: adaptive execution runs every shuffle stage and cache fill as a Spark
        # job of its own and re-plans after each (the STEDI pipeline: 31 jobs, 14 without), which on small
        # local data costs more than it finds. Glue keeps it.
        .config("spark.sql.adaptive.enabled", "false")
        .getOrCreate()
    )
    if launching:
        class_archive.note_recording(session, archive)
        _remember_interrupts()
        atexit.register(end_local_spark, SparkContext._gateway, archive)
    return session


# Set once this process is interrupted (Ctrl-C) after it started its local session, however it then catches
# the KeyboardInterrupt (the CLI reports it and exits 130): it exits at once, without the class archive's exercise.
_interrupted = threading.Event()


def _remember_interrupts() -> None:
    """Wrap the SIGINT handler (Spark's, which cancels the running jobs) so that an interrupt is remembered."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        return  # only the main thread sets handlers; a process ignoring SIGINT is never interrupted

    def remember(number: int, frame: Any) -> Any:
        _interrupted.set()
        return previous(number, frame)

    signal.signal(signal.SIGINT, remember)


def end_local_spark(gateway: Any, archive: str) -> None:
    """What a process that started a local session does as it exits.

    A process recording the class archive first runs ``class_archive.exercise`` on the session that runs
    then (not the first one, if the process stopped it and started another), unless none runs (the test
    suite stops its own: it has done its work and recorded it) or the process was interrupted (Ctrl-C:
    it ends now, whether it caught the interrupt or not; a Ctrl-C during the exercise ends that). Then the py4j gateway closes, before the JVM
    sees the process go: a JVM exits 0.3 s late when a thread of it is blocked in a native call (HotSpot
    waits for them), as the gateway's socket threads are.
    """
    from pyspark.sql import SparkSession

    from job_helpers import class_archive

    session = SparkSession._instantiatedSession
    running = session is not None and session.sparkContext._jsc is not None
    interrupted = _interrupted.is_set() or isinstance(getattr(sys, "last_value", None), KeyboardInterrupt)
    if class_archive.records(archive) and running and not interrupted:
        log.info("recording the local Spark driver's class archive, once for this setup (see job_helpers/class_archive.py)")
        try:
            class_archive.exercise(session)
        except (Exception, KeyboardInterrupt) as error:
            log.warning("the class archive will hold only what this session ran: its exercise failed: %s", describe(error))
    gateway.shutdown()


@contextmanager
def start_job(
    argv: Sequence[str], options: Sequence[str], *, optional: Sequence[str] = (), spark: bool, tasks: bool = False
) -> Iterator[JobRun]:
    """Resolve ``--name value`` arguments (``resolve_arguments``), start the job's context, and commit it on success.

    ``spark`` gives the job a ``SparkSession``, ``tasks`` a task runner (``job_helpers.tasks``): Spark's
    on Glue, the process's local workers (``local_tasks``) on a laptop. The run's report is
    written when it ends, failed or not. A ``JobFailed``, ``PublishError``, ``CountsDoNotReconcile``,
    ``RecordUnreadable`` or ``TaskFailed`` raised inside, or a Spark task's error (its Python cause),
    is logged as one clear line and ends the process with status 1.
    """
    configure_logging()
    args = resolve_arguments(argv, options, optional)
    name = args["JOB_NAME"]
    job, run = _started(name, args, spark=spark, tasks=tasks)
    run.report.job = name
    identify(name, args.get(RUN_ID))
    try:
        yield run
    except Exception as failure:
        run.report.status = FAILED
        run.report.message = failure_message(failure)
        _write_reports(run)
        if isinstance(failure, CLEAR_FAILURES) or spark_task_cause(failure):
            log.error("%s failed: %s", name, run.report.message)
            raise SystemExit(1) from failure
        raise
    if job is not None:
        job.commit()
    _write_reports(run)


def _started(name: str, args: dict[str, str], *, spark: bool, tasks: bool) -> tuple[Any, JobRun]:
    """Glue's ``Job`` (initialised) and the run with what the job asked for; locally no ``Job``, and
    Spark only when asked for (tasks run in local processes)."""
    if on_glue():
        from awsglue.context import GlueContext
        from awsglue.job import Job
        from pyspark.context import SparkContext

        context = SparkContext.getOrCreate()
        glue_context = GlueContext(context)
        job = Job(glue_context)
        job.init(name, args)
        return job, JobRun(name, args, glue_context.spark_session, glue_context, SparkTasks(context) if tasks else None)
    return None, JobRun(name, args, local_spark(name) if spark else None, tasks=local_tasks() if tasks else None)


@cache
def local_tasks() -> ProcessTasks:
    """The local task runner: one per process, as a SparkContext is, so runs in one process (tests) share its
    workers. They start with its first tasks and stop when the process exits."""
    return ProcessTasks()


def resolve_arguments(argv: Sequence[str], options: Sequence[str], optional: Sequence[str]) -> dict[str, str]:
    """``argv`` read once: the values of the names it holds that the job takes, by ``getResolvedOptions``.

    Besides ``options`` (required) and ``optional``, a job takes ``--logical-time``, which a schedule
    gives any job it starts (``job_arguments.day_range`` counts relative dates from it), and
    ``--run-reports``, where ``execute`` wants the run's report. Any other ``--name`` but Glue's own
    fails the run before it starts, with its report, naming the closest declared name:
    ``getResolvedOptions`` would ignore it. A required option missing raises ``GlueArgumentError``.
    """
    # Imported here: awsglue imports pyspark, which the CLI (it imports failure_message) never needs.
    from awsglue.utils import GlueArgumentError, getResolvedOptions

    required = ["JOB_NAME", *options]
    declared = [*required, *optional, LOGICAL_TIME, job_arguments.RUN_REPORTS]
    given = job_arguments.argument_names(argv)
    args = getResolvedOptions(list(argv), [name for name in dict.fromkeys(declared) if name in given])
    _refuse_undeclared(args, job_arguments.undeclared(given, set(declared)))
    missing = [f"--{name}" for name in required if name not in given]
    if missing:
        raise GlueArgumentError(f"the following arguments are required: {', '.join(missing)}")
    return args


def _refuse_undeclared(args: dict[str, str], problems: Sequence[str]) -> None:
    """Fail the run, with its report, when its argv names arguments the job does not declare."""
    if not problems:
        return
    name = args.get("JOB_NAME") or "job"
    message = "; ".join(problems)
    _write_reports(JobRun(name, args, report=RunReport(job=name, status=FAILED, message=message)))
    log.error("%s failed: %s", name, message)
    raise SystemExit(1)


def _write_reports(run: JobRun) -> None:
    """Write the report where ``execute`` asked (``--run-reports``) and in the job's own report folder.

    The work is committed by then, so a report that cannot be written is a warning, not a failed run.
    """
    prefix, run_id = run.args.get(RUN_REPORTS), run.args.get(RUN_ID)
    urls = [report_url(prefix, run.name, run_id)] if prefix and run_id else []
    if run.report_folder:
        urls.append(scope_report_url(run.report_folder, run.report.scope))
    report = run.report
    log.info(
        "%s %s: read %d, rejected %d, excluded %d, wrote %d",
        run.name,
        report.status,
        report.records_read,
        report.records_rejected,
        report.excluded,
        report.records_written,
    )
    storage = Storage()
    for url in urls:
        try:
            write_report(storage, url, run.report)
        except Exception as error:
            log.warning("could not write the run report %s (status will show no records for this run): %s", url, error)
