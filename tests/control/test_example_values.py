"""Every command that would create or write AWS resources refuses the example values of config.yml.

With AWS_ENDPOINT_URL set (moto) they are allowed: tests/control/test_config.py checks that, and the aws
tests run every command so."""

from __future__ import annotations

import pytest

from job_helpers.control.cli import main


@pytest.mark.parametrize(
    "command",
    [
        ["ddl"],
        ["pipeline", "--name", "stedi"],
        ["ingest", "--src", ".", "--dataset", "eeg"],
        ["timestream-load", "--from", "2024-03-01", "--to", "2024-03-02"],
        ["build"],
        ["execute", "--job", "sitewise_repartition", "--from", "2024-03-01", "--to", "2024-03-01", "--days-per-job", "1"],
    ],
    ids=lambda command: command[0],
)
def test_commands_refuse_example_values_on_real_aws(command, capsys):
    assert main(["--profile", "aws", *command]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: the aws profile still has example values")
    assert "example account 123456789012" in captured.err
