"""AWS errors reach the user as one line that says what to fix, with exit 1 or 2; --debug shows the traceback."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoRegionError, ProfileNotFound

from job_helpers.control.aws_errors import describe
from job_helpers.control.cli import main


def client_error(code: str, message: str, operation: str = "CreateJob", retries: int = 0) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"RetryAttempts": retries}}, operation)


@pytest.mark.parametrize(
    "error, expected, status",
    [
        (
            client_error(
                "AccessDeniedException",
                "User: arn:aws:iam::111122223333:user/ana is not authorized to perform: glue:CreateJob on resource: "
                "arn:aws:glue:eu-west-1:111122223333:job/x",
            ),
            r"access denied to CreateJob: User: .* glue:CreateJob on resource: arn:aws:glue:.*job/x\. .*who=operator",
            1,
        ),
        (client_error("ExpiredTokenException", "The security token included in the request is expired"), "refresh them", 2),
        (
            client_error("ThrottlingException", "Rate exceeded", "StartJobRun", retries=9),
            "throttled StartJobRun and kept refusing after 9 retries",
            1,
        ),
        (
            client_error("EntityNotFoundException", "Job x not found", "GetJob"),
            r"AWS refused GetJob \(EntityNotFoundException\)",
            1,
        ),
        (EndpointConnectionError(endpoint_url="https://glue.xx-nowhere-1.amazonaws.com/"), "cannot reach https://glue.xx", 2),
        (NoRegionError(), "no AWS region: set profiles.aws.region", 2),
        (ProfileNotFound(profile="nobody"), "nobody.*AWS_PROFILE", 2),
    ],
)
def test_each_error_becomes_one_actionable_line(error, expected, status):
    line, code = describe(error)
    assert "\n" not in line and code == status
    assert re.search(expected, line), line


def test_anything_else_is_not_described():
    assert describe(ValueError("x")) is None


def test_commands_print_the_line_and_exit_without_credentials(monkeypatch, capsys, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("GLUE_ROLE_ARN", "arn:aws:iam::111122223333:role/etl")
    assert main(["--profile", "aws", "status"]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == ["AWS region us-east-1 (AWS_DEFAULT_REGION)", captured.err.splitlines()[-1]]
    assert captured.err.splitlines()[-1].startswith("error: no AWS credentials found")
    assert captured.out == ""
    with pytest.raises(Exception, match="Unable to locate credentials"):
        main(["--profile", "aws", "--debug", "status"])
