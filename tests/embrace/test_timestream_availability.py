"""Timestream for LiveAnalytics is closed to new customers since 2025-06-20: say so, and check the table before any task.

Issue 19.1: in an account without access, timestream-load went straight to CreateBatchLoadTask and
failed with AWS's bare refusal; now DescribeDatabase and DescribeTable come first (moto's server
implements both) and AccessDenied or ResourceNotFound becomes one line naming the change and the
Parquet table that already holds the rows.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from job_helpers.control.cli import main
from job_helpers.control.commands import timestream_cmd
from job_helpers.embrace.timestream_load import AVAILABILITY, LoadError, check_target

BUCKET = "embrace-wearables"


def _moto_timestream(endpoint: str):
    """A timestream-write client of moto's server: its own endpoint URL, so no endpoint discovery (which
    would send it to the real ingest host that moto's DescribeEndpoints names)."""
    return boto3.client("timestream-write", region_name="us-east-1", endpoint_url=endpoint)


def test_a_missing_database_or_table_is_one_line_about_the_availability_change(moto_server):
    timestream = _moto_timestream(moto_server)
    with pytest.raises(LoadError) as missing:
        check_target(timestream, "embrace", "readings")
    line = str(missing.value)
    assert "\n" not in line
    assert line.startswith("Timestream table embrace.readings is out of reach (ResourceNotFoundException on DescribeDatabase).")
    assert "closed to new customers since 2025-06-20" in line and AVAILABILITY in line
    assert line.endswith("The same rows are in the Parquet table embrace_clean: make ddl, then make query (Athena)")

    timestream.create_database(DatabaseName="embrace")
    with pytest.raises(LoadError, match=r"\(ResourceNotFoundException on DescribeTable\)"):
        check_target(timestream, "embrace", "readings")
    timestream.create_table(DatabaseName="embrace", TableName="readings")
    check_target(timestream, "embrace", "readings")


def test_access_denied_is_the_same_line_and_other_errors_stay_aws_errors():
    timestream = boto3.client(
        "timestream-write", region_name="us-east-1", endpoint_url="https://ingest.timestream.us-east-1.amazonaws.com"
    )
    with Stubber(timestream) as stub:
        stub.add_client_error("describe_database", "AccessDeniedException", "not authorized", 400, {"DatabaseName": "embrace"})
        with pytest.raises(
            LoadError, match=r"\(AccessDeniedException on DescribeDatabase\)\. Amazon Timestream for LiveAnalytics"
        ):
            check_target(timestream, "embrace", "readings")
        stub.add_client_error("describe_database", "ThrottlingException", "slow down", 400, {"DatabaseName": "embrace"})
        with pytest.raises(ClientError, match="ThrottlingException"):
            check_target(timestream, "embrace", "readings")


def test_timestream_load_checks_the_table_before_creating_anything(moto_server, monkeypatch, capsys):
    monkeypatch.setattr(timestream_cmd, "_client", lambda context: _moto_timestream(moto_server))
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="load_counts/eda/2024-03-01.json", Body=json.dumps({"fc096/2M4Y4111FK": 40}))
    assert main(["--profile", "aws", "timestream-load", "--from", "2024-03-01", "--to", "2024-03-31"]) == 2
    printed = capsys.readouterr()
    assert "1 task(s), 40 row(s)" in printed.out
    error = printed.err.splitlines()[-1]
    assert error.startswith("error: Timestream table embrace.readings is out of reach"), "the last line: no task was created"
    assert "closed to new customers since 2025-06-20" in error and "embrace_clean" in error


@pytest.mark.parametrize("command", ["timestream-load", "monitor"])
def test_the_commands_help_says_timestream_is_closed_to_new_customers(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "closed to new customers since 2025-06-20" in text and "embrace_clean" in text
