import pytest
from awsglue.utils import GlueArgumentError

from job_helpers import runtime


@pytest.fixture
def local_runtime(monkeypatch):
    monkeypatch.setenv(runtime.RUNTIME_ENV, "local")


def test_local_job_gets_resolved_arguments_and_spark_only_when_asked(local_runtime, spark):
    argv = ["job.py", "--JOB_NAME", "j-1", "--from-date", "2024-01-01", "--extra", "ignored"]
    with runtime.start_job(argv, ["from-date"], spark=False) as run:
        assert run.name == "j-1"
        assert run.args["from_date"] == "2024-01-01"
        assert run.spark is None
    with runtime.start_job(argv, ["from-date"], spark=True) as run:
        assert run.spark is spark
        assert run.spark.conf.get("spark.sql.session.timeZone") == "UTC"
        assert run.spark.range(3).count() == 3


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


def test_glue_is_the_default_runtime(monkeypatch):
    monkeypatch.delenv(runtime.RUNTIME_ENV, raising=False)
    assert runtime.on_glue()
    monkeypatch.setenv(runtime.RUNTIME_ENV, "local")
    assert not runtime.on_glue()
