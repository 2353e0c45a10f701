"""The suite's request validator: a request the real service refuses fails the test that made it."""

import boto3
from botocore.stub import Stubber

from tests.support.aws_requests import violations


def _input(service: str, operation: str):
    return boto3.client(service, region_name="us-east-1").meta.service_model.operation_model(operation).input_shape


def test_lengths_patterns_and_enums_that_botocore_lets_through_are_named():
    shape = _input("glue", "CreateJob")
    found = list(
        violations(
            shape,
            {
                "Name": "x" * 300,
                "Role": "r",
                "Command": {"Name": "glueetl"},
                "WorkerType": "G.3X",
                "Tags": {"": "v"},
            },
        )
    )
    assert "Name: 300 characters, more than the maximum 255" in found
    assert any(f.startswith("WorkerType: 'G.3X' is not one of") for f in found)
    assert "Tags(key ''): 0 characters, fewer than the minimum 1" in found
    assert len(found) == 3


def test_a_valid_request_has_no_violation():
    shape = _input("timestream-write", "CreateBatchLoadTask")
    request = {
        "DataSourceConfiguration": {
            "DataSourceS3Configuration": {"BucketName": "embrace-wearables", "ObjectKeyPrefix": "timestream_ready/x/"},
            "DataFormat": "CSV",
        },
        "ReportConfiguration": {"ReportS3Configuration": {"BucketName": "embrace-wearables"}},
        "TargetDatabaseName": "embrace",
        "TargetTableName": "readings",
    }
    assert list(violations(shape, request)) == []
    request["DataSourceConfiguration"]["DataSourceS3Configuration"]["ObjectKeyPrefix"] = "export=a/"
    assert [v.split(":")[0] for v in violations(shape, request)] == [
        "DataSourceConfiguration.DataSourceS3Configuration.ObjectKeyPrefix"
    ]


def test_the_fixture_fails_the_test_whose_request_breaks_the_model(aws_requests_follow_the_model):
    glue = boto3.client("glue", region_name="us-east-1")
    with Stubber(glue) as stub:
        stub.add_response("get_job", {"Job": {"Name": "j"}})
        glue.get_job(JobName="x" * 256)
    found = aws_requests_follow_the_model.reset()
    assert found == ["glue:GetJob JobName: 256 characters, more than the maximum 255"]
