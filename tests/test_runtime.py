import logging
import operator
import signal
import sys
import threading
from functools import partial
from types import SimpleNamespace

import pytest
from awsglue.utils import GlueArgumentError
from pyspark.sql import SparkSession

from job_helpers import class_archive, runtime
from job_helpers.run_report import RunReport


@pytest.fixture
def local_runtime(monkeypatch):
    """The local runtime; afterwards the stdout log handler start_job adds is removed again."""
    monkeypatch.setenv(runtime.RUNTIME_ENV, "local")
    root = logging.getLogger()
    before = list(root.handlers)
    yield
    for handler in root.handlers[:]:
        if handler not in before:
            root.removeHandler(handler)


def test_local_job_gets_resolved_arguments_and_spark_only_when_asked(local_runtime, spark):
    argv = ["job.py", "--JOB_NAME", "j-1", "--from-date", "2024-01-01"]
    with runtime.start_job(argv, ["from-date"], spark=False) as run:
        assert run.name == "j-1"
        assert run.args["from_date"] == "2024-01-01"
        assert run.spark is None and run.tasks is None
    with runtime.start_job(argv, ["from-date"], spark=True) as run:
        assert run.spark is spark
        assert run.spark.conf.get("spark.sql.session.timeZone") == "UTC"
        assert run.spark.range(3).count() == 3


@pytest.mark.parametrize(
    "given, problem",
    [
        ("--timeseries-tpye", "--timeseries-tpye: the job takes no such argument; did you mean --timeseries-type?"),
        ("--Timeseries-Type", "--Timeseries-Type: the job takes no such argument; did you mean --timeseries-type?"),
        ("--timeseries_type", "--timeseries_type: the job takes no such argument; did you mean --timeseries-type?"),
        ("--timeseries-types", "--timeseries-types: the job takes no such argument; did you mean --timeseries-type?"),
        (
            "--ml-join",
            "--ml-join: the job takes no such argument; it takes --JOB_NAME, --allow-shrink, --logical-time, --run-reports, "
            "--timeseries-type",
        ),
        ("--tempdir", "--tempdir: the job takes no such argument; did you mean --TempDir?"),
        ("--timeseries-tpye=DISASSOCIATED", "--timeseries-tpye: the job takes no such argument; did you mean --timeseries-type?"),
    ],
    ids=[
        "transposed",
        "other case",
        "underscore",
        "letter too many",
        "another job's option",
        "Glue's own, other case",
        "name=value",
    ],
)
def test_an_undeclared_argument_fails_the_run_before_it_starts_naming_the_closest(
    local_runtime, tmp_path, caplog, given, problem
):
    """getResolvedOptions ignores names it was not given: the run would go on with the default type."""
    reports = tmp_path / "runs"
    argv = ["job.py", "--JOB_NAME", "j", "--JOB_RUN_ID", "jr_1", "--run-reports", reports.as_uri() + "/"]
    argv += ["--timeseries-type", "ASSOCIATED", given, *([] if "=" in given else ["DISASSOCIATED"])]
    with pytest.raises(SystemExit) as exit_info:
        with runtime.start_job(argv, ["timeseries-type"], optional=["allow-shrink"], spark=False):
            pytest.fail("the job body must not run")
    assert exit_info.value.code == 1
    assert f"j failed: {problem}" in caplog.messages
    report = RunReport.from_json((reports / "j" / "jr_1.json").read_text())
    assert (report.status, report.message) == ("FAILED", problem)


def test_the_arguments_glue_passes_itself_are_taken(local_runtime, tmp_path):
    """What Glue 5 puts in a job's argv besides the job's own arguments, and what execute adds."""
    argv = [
        "job.py",
        "--JOB_ID", "j_1",
        "--JOB_RUN_ID", "jr_1",
        "--job-bookmark-option", "job-bookmark-disable",
        "--TempDir", "s3://aws-glue-assets/temporary/",
        "--enable-glue-datacatalog", "true",
        "--enable-metrics", "true",
        "--enable-continuous-cloudwatch-log", "true",
        "--enable-spark-ui", "true",
        "--spark-event-logs-path", "s3://aws-glue-assets/sparkHistoryLogs/",
        "--extra-py-files", "s3://assets/glue/builds/b/job_helpers.zip",
        "--additional-python-modules", "fastavro==1.13.1",
        "--job-language", "python",
        "--run-reports", tmp_path.as_uri() + "/",  # on Glue an s3:// folder; here no endpoint to wait on
        "--JOB_NAME", "j",
        "--from-date", "2024-01-01",
    ]  # fmt: skip
    with runtime.start_job(argv, ["from-date"], spark=False) as run:
        assert run.args["from_date"] == "2024-01-01"


def test_every_argument_is_resolved_in_its_name_equals_value_spelling_too(local_runtime, tmp_path):
    """argv is read once, by getResolvedOptions: an optional switch, the run id and where the report goes
    given as ``--name=value`` count as given (a ``--allow-shrink=true`` once ran as false, and the report
    of ``--run-reports=…`` was never written)."""
    reports = tmp_path / "runs"
    argv = ["job.py", "--JOB_NAME=j", "--JOB_RUN_ID=jr_7", f"--run-reports={reports.as_uri()}/"]
    argv += ["--from-date=2024-01-01", "--allow-shrink=true", "--logical-time=2024-01-02T00:00:00Z"]
    with runtime.start_job(argv, ["from-date"], optional=["allow-shrink", "max-row-loss"], spark=False) as run:
        assert (run.name, run.args["from_date"], run.args["allow_shrink"]) == ("j", "2024-01-01", "true")
        assert run.args["logical_time"] == "2024-01-02T00:00:00Z" and "max_row_loss" not in run.args
        run.report.read["in"] = 2
    assert RunReport.from_json((reports / "j" / "jr_7.json").read_text()).read == {"in": 2}


def test_a_misspelt_required_argument_is_named_as_misspelt_not_as_missing(local_runtime, tmp_path, caplog):
    reports = tmp_path / "runs"
    argv = ["job.py", "--JOB_NAME", "j", "--JOB_RUN_ID", "jr_8", "--run-reports", reports.as_uri() + "/"]
    with pytest.raises(SystemExit):
        with runtime.start_job([*argv, "--timeseries-tpye", "ASSOCIATED"], ["timeseries-type"], spark=False):
            pytest.fail("the job body must not run")
    problem = "--timeseries-tpye: the job takes no such argument; did you mean --timeseries-type?"
    assert f"j failed: {problem}" in caplog.messages
    assert RunReport.from_json((reports / "j" / "jr_8.json").read_text()).message == problem


def test_missing_argument_is_named(local_runtime):
    with pytest.raises(GlueArgumentError, match="--to-date"):
        with runtime.start_job(["job.py", "--JOB_NAME", "j"], ["to-date"], spark=False):
            pass


def test_job_failed_exits_with_status_1_and_one_line(local_runtime, caplog):
    with pytest.raises(SystemExit) as exit_info:
        with runtime.start_job(["job.py", "--JOB_NAME", "j"], [], spark=False):
            raise runtime.JobFailed("day 2024-01-02: truncated file raw/x.avro")
    assert exit_info.value.code == 1
    assert "j failed: day 2024-01-02: truncated file raw/x.avro" in caplog.messages


def test_a_run_ends_failed_naming_each_failed_unit_and_reports_what_the_others_did(local_runtime, tmp_path, caplog):
    """``job.end`` is every script's last step: a unit recorded as failed always fails the run."""
    reports = tmp_path / "runs"
    argv = ["job.py", "--JOB_NAME", "j", "--JOB_RUN_ID", "jr_1", "--run-reports", reports.as_uri() + "/"]
    with runtime.start_job(argv, [], spark=False) as run:
        run.report.written["out"] = 3
        run.end("day")
    assert RunReport.from_json((reports / "j" / "jr_1.json").read_text()).status == "SUCCEEDED"

    failed = {"2024-01-02": "truncated raw/x.avro", "2024-01-01": "unreadable raw/y.avro"}
    argv[4] = "jr_2"
    with pytest.raises(SystemExit) as exit_info:
        with runtime.start_job(argv, [], spark=False) as run:
            run.report.written["out"] = 3
            run.report.failed.update(failed)
            run.end("day")
    message = "2 day(s) failed, the others were published: 2024-01-01: unreadable raw/y.avro; 2024-01-02: truncated raw/x.avro"
    assert exit_info.value.code == 1 and f"j failed: {message}" in caplog.messages
    report = RunReport.from_json((reports / "j" / "jr_2.json").read_text())
    assert (report.status, report.message, report.written, report.failed) == ("FAILED", message, {"out": 3}, failed)


def test_glue_is_the_default_runtime(monkeypatch):
    monkeypatch.delenv(runtime.RUNTIME_ENV, raising=False)
    assert runtime.on_glue()
    monkeypatch.setenv(runtime.RUNTIME_ENV, "local")
    assert not runtime.on_glue()


def test_the_run_report_is_written_per_run_where_execute_asks(local_runtime, tmp_path, caplog):
    reports = tmp_path / "runs"
    argv = ["job.py", "--JOB_NAME", "j-1", "--JOB_RUN_ID", "jr_1", "--run-reports", reports.as_uri() + "/"]
    with runtime.start_job(argv, [], spark=False) as run:
        run.report.read["in"] = 0
    written = RunReport.from_json((reports / "j-1" / "jr_1.json").read_text())
    assert (written.job, written.status, written.read, written.records_written) == ("j-1", "SUCCEEDED", {"in": 0}, 0)

    with runtime.start_job(["job.py", "--JOB_NAME", "j-2", "--JOB_RUN_ID", "jr_2"], [], spark=False) as run:
        run.report.read["in"] = 5
    assert not (reports / "j-2").exists(), "without --run-reports nothing is written"

    blocked = tmp_path / "file"
    blocked.write_text("")
    argv = ["job.py", "--JOB_NAME", "j-3", "--JOB_RUN_ID", "jr_3", "--run-reports", blocked.as_uri() + "/"]
    with runtime.start_job(argv, [], spark=False) as run:
        run.report.read["in"] = 1
    assert any("could not write the run report" in message for message in caplog.messages)
    assert "j-3 SUCCEEDED: read 1, rejected 0, excluded 0, wrote 0" in caplog.messages


def test_a_failed_run_reports_why_here_and_in_the_jobs_report_folder(local_runtime, tmp_path):
    reports, folder = tmp_path / "runs", tmp_path / "reports"
    argv = ["job.py", "--JOB_NAME", "j", "--JOB_RUN_ID", "jr_9", "--run-reports", reports.as_uri() + "/", "--day", "x"]
    with pytest.raises(SystemExit):
        with runtime.start_job(argv, [], optional=["day", "absent"], spark=False) as run:
            assert run.args["day"] == "x" and "absent" not in run.args
            run.report_folder = folder.as_uri() + "/"
            run.report.scope = "2024-01-01_2024-01-02"
            raise runtime.JobFailed("day 2024-01-02 failed")
    for path in (reports / "j" / "jr_9.json", folder / "2024-01-01_2024-01-02.json"):
        report = RunReport.from_json(path.read_text())
        assert (report.status, report.message) == ("FAILED", "day 2024-01-02 failed")


def test_a_report_of_the_earlier_flat_form_still_reads_as_counts():
    report = RunReport.from_json('{"read": 5, "written": 3}')
    assert (report.records_read, report.records_written, report.status) == (5, 3, "SUCCEEDED")


def test_a_failure_is_one_line_whatever_the_error_holds():
    assert runtime.failure_message(runtime.JobFailed("day 2 failed")) == "day 2 failed"
    assert runtime.failure_message(ValueError("bad\n  at line 1\n  at line 2")) == "ValueError: bad"
    assert runtime.failure_message(KeyError()) == "KeyError"


def test_a_spark_task_failure_ends_the_run_as_one_line_naming_the_python_cause(local_runtime, spark, tmp_path, caplog):
    with pytest.raises(Exception) as raised:
        spark.sparkContext.parallelize([0], 1).map(lambda x: 1 // x).collect()
    assert type(raised.value).__name__ == "Py4JJavaError" and len(str(raised.value).splitlines()) > 10
    assert runtime.failure_message(raised.value) == "a Spark task failed: ZeroDivisionError: integer division or modulo by zero"
    argv = ["job.py", "--JOB_NAME", "j", "--JOB_RUN_ID", "jr_5", "--run-reports", (tmp_path / "runs").as_uri() + "/"]
    with pytest.raises(SystemExit) as ended:
        with runtime.start_job(argv, [], spark=False):
            raise raised.value
    assert ended.value.code == 1
    (line,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert line == "j failed: a Spark task failed: ZeroDivisionError: integer division or modulo by zero"


def test_a_local_task_failure_ends_the_run_as_one_line_naming_the_python_cause(local_runtime, tasks, tmp_path, caplog):
    argv = ["job.py", "--JOB_NAME", "j", "--JOB_RUN_ID", "jr_7", "--run-reports", (tmp_path / "runs").as_uri() + "/"]
    with pytest.raises(SystemExit) as ended:
        with runtime.start_job(argv, [], spark=False, tasks=True) as run:
            assert run.tasks is tasks and run.spark is None, "the process's local workers, and no JVM"
            run.tasks.map(partial(operator.floordiv, 1), [3, 0])
    assert ended.value.code == 1
    (line,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert line == "j failed: a task failed: ZeroDivisionError: integer division or modulo by zero"
    report = RunReport.from_json((tmp_path / "runs" / "j" / "jr_7.json").read_text())
    assert (report.status, report.message) == ("FAILED", "a task failed: ZeroDivisionError: integer division or modulo by zero")


def test_a_session_of_a_running_jvm_decides_no_archive_and_registers_nothing_at_exit(spark, monkeypatch):
    registered = []
    monkeypatch.setattr(runtime.atexit, "register", lambda *call: registered.append(call))
    monkeypatch.setattr(class_archive, "java_option", lambda *_: pytest.fail("the JVM runs: its options are decided"))
    assert runtime.local_spark("again") is spark
    assert registered == []


class Gateway:
    def __init__(self, calls):
        self.calls = calls

    def shutdown(self):
        self.calls.append("gateway closed")


RECORDING = "-XX:ArchiveClassesAtExit=/cache/spark-driver-0123456789abcdef.7.recording -Xlog:cds=off"


def a_session(running: bool) -> SimpleNamespace:
    return SimpleNamespace(sparkContext=SimpleNamespace(_jsc=object() if running else None))


@pytest.mark.parametrize(
    ("archive", "at_exit", "expected"),
    [
        # The session running at exit, whichever it is: a process that stopped its first session and started
        # another on the same JVM had the exercise skipped (the handler held the first, stopped one).
        (RECORDING, "running", ["exercise", "gateway closed"]),
        (RECORDING, "stopped", ["gateway closed"]),  # the test suite's session: it recorded what it ran
        (RECORDING, "none", ["gateway closed"]),  # SparkSession.stop forgets it
        # Ctrl-C: the process ends now, not after 20 CPU seconds of Spark work (it ran them).
        (RECORDING, "running, interrupted", ["gateway closed"]),
        ("-XX:SharedArchiveFile=/cache/spark-driver-0123456789abcdef.jsa", "running", ["gateway closed"]),
        ("", "running", ["gateway closed"]),
    ],
)
def test_at_exit_the_running_session_of_a_recording_process_runs_the_exercise_then_every_process_closes_its_gateway(
    monkeypatch, archive, at_exit, expected
):
    calls = []
    session = None if at_exit == "none" else a_session(running="running" in at_exit)
    monkeypatch.setattr(SparkSession, "_instantiatedSession", session)
    if "interrupted" in at_exit:
        monkeypatch.setattr(sys, "last_value", KeyboardInterrupt(), raising=False)  # as Python sets it for atexit
    monkeypatch.setattr(class_archive, "exercise", lambda given: calls.append("exercise" if given is session else given))
    runtime.end_local_spark(Gateway(calls), archive)
    assert calls == expected


def test_a_process_interrupted_after_its_session_started_exits_without_the_exercise_however_it_caught_it(monkeypatch):
    """The CLI catches Ctrl-C (error: interrupted, exit 130), so Python never saw it end the process: the
    exercise still ran its 20 CPU seconds after the user stopped the run. Spark's own handler still runs."""
    calls = []
    monkeypatch.setattr(runtime, "_interrupted", threading.Event())
    spark_s = signal.signal(signal.SIGINT, lambda *_: calls.append("Spark's handler"))
    try:
        runtime._remember_interrupts()
        signal.raise_signal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, spark_s)
    monkeypatch.setattr(SparkSession, "_instantiatedSession", a_session(running=True))
    monkeypatch.setattr(class_archive, "exercise", lambda given: calls.append("exercise"))
    runtime.end_local_spark(Gateway(calls), RECORDING)
    assert calls == ["Spark's handler", "gateway closed"]


@pytest.mark.parametrize(
    ("failure", "said"),
    [
        (OSError("No space left on device"), "its exercise failed: OSError: No space left on device"),
        # A second Ctrl-C (Spark's handler cancels the jobs and raises): it escaped, the gateway stayed open and
        # Python printed a traceback of the exit handler.
        (KeyboardInterrupt(), "its exercise failed: KeyboardInterrupt"),
    ],
)
def test_a_failed_or_interrupted_exercise_is_a_warning_and_the_gateway_still_closes(monkeypatch, caplog, failure, said):
    calls = []

    def fails(session):
        raise failure

    monkeypatch.setattr(class_archive, "exercise", fails)
    monkeypatch.setattr(SparkSession, "_instantiatedSession", a_session(running=True))
    runtime.end_local_spark(Gateway(calls), RECORDING)
    assert calls == ["gateway closed"]
    assert said in caplog.text
