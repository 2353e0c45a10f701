"""The Makefile as a user runs it: values never evaluated, data alone on standard output."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from job_helpers.control.local_registry import LocalJob, NewRun, Registry, registry_path

pytestmark = pytest.mark.subprocess

REPO = Path(__file__).resolve().parents[2]
MAKEFILE = (REPO / "Makefile").read_text()
# Variables that are no values from the user: the loop variables of $(foreach).
LOOP_VARIABLES = {"s", "p"}


def make(*arguments: str, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["make", *arguments], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def make_env(tmp_path: Path) -> dict[str, str]:
    """The caller's environment with a lake of its own, none of config.yml's variables set, and no AWS
    credentials from anywhere (config-check would check a real account with them)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BUCKET") and k not in ("GLUE_ROLE_ARN", "JOB_PROFILE")}
    for name in ("AWS_ENDPOINT_URL", "COLUMNS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(name, None)
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_EC2_METADATA_DISABLED="true",
        LAKE_ROOT=str(tmp_path / "lake"),
    )
    return env


def phony_targets() -> list[str]:
    declared = re.search(r"^\.PHONY:(.*?)(?<!\\)\n", MAKEFILE, re.S | re.M).group(1)
    return declared.replace("\\\n", " ").split()


def documented_variables(env: dict[str, str]) -> set[str]:
    """Every name=... that `make help` shows, and PYTHON_BIN."""
    return set(re.findall(r"\b([a-z_]+)=", make("-s", "help", env=env).stdout)) | {"PYTHON_BIN"}


def test_no_recipe_reads_a_value_with_a_plain_reference():
    """$(from) would let make evaluate the value; every value is read with $(call v,…), flag or opt."""
    plain = set(re.findall(r"\$\(([a-z_]+)\)", MAKEFILE)) - LOOP_VARIABLES
    assert plain == set()
    declared = set(re.search(r"^VALUES := (.*?)(?<!\\)\n", MAKEFILE, re.S | re.M).group(1).replace("\\\n", " ").split())
    read = set(re.findall(r"\$\(call (?:v|flag|opt),([A-Za-z_]+)", MAKEFILE))
    assert read <= declared, "every value a recipe reads is unexported"


def test_values_are_never_evaluated_by_make_or_the_shell(make_env, tmp_path):
    """Every target, given every variable as make and shell code, passes the text on and runs none of it.

    PY=echo stands in for the CLI, so the test sees the arguments the CLI would get.
    """
    marks = tmp_path / "marks"
    marks.mkdir()
    variables = documented_variables(make_env)
    assert {"profile", "set", "job", "from", "days_per_job", "json", "yes", "sql", "params", "dataset"} <= variables

    def payload(name: str) -> str:
        return f"$(shell touch {marks}/make-{name})`touch {marks}/tick-{name}`$(touch {marks}/sub-{name});'x"

    values = [f"{name}={payload(name)}" for name in sorted(variables)]
    for target in phony_targets():
        if target == "clean":
            continue
        result = make("-s", target, "PY=echo", *values, env=make_env)
        assert result.returncode == 0, (target, result.stderr)
        assert sorted(p.name for p in marks.iterdir()) == [], f"make {target} evaluated a value"
        if "$(CLI)" in re.search(rf"^{re.escape(target)}:.*?(?=^\S|\Z)", MAKEFILE, re.S | re.M).group(0):
            assert f"--profile {payload('profile')}" in result.stdout, target


def test_a_failing_command_runs_no_value_either(make_env, tmp_path):
    mark = tmp_path / "ran"
    result = make("-s", "execute", "job=nope", f"from=$(shell touch {mark})2024-03-01", "to=2024-03-01", env=make_env)
    assert result.returncode == 2 and "unknown job 'nope'" in result.stderr and result.stdout == ""
    assert not mark.exists()


def test_help_shows_every_option(make_env):
    help_text = make("-s", "help", env=make_env).stdout
    for line_start, option in [
        ("make execute", "json=1"),
        ("make execute", "yes=1"),
        ("make config", "json=1"),
        ("make query", "json=1"),
    ]:
        assert any(line.startswith(line_start) and option in line for line in help_text.splitlines()), option
    assert re.search(r"paths \[json=1\]", help_text)


@pytest.mark.parametrize(
    "arguments",
    [
        ["paths", "json=1"],
        ["config", "json=1"],
        ["execute", "job=sitewise_repartition", "from=2024-03-01", "to=2024-03-09", "days_per_job=3", "dry_run=1", "json=1"],
    ],
)
def test_json_targets_print_json_alone(make_env, arguments):
    """Plain make, not make -s: nothing but the JSON reaches standard output."""
    result = make(*arguments, env=make_env)
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)


def test_sample_data_prints_its_summary_only(make_env):
    result = make("sample-data", "dataset=stedi", "customers=100", env=make_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Wrote STEDI landing data")
    assert "job_helpers" not in result.stdout and not any(line.endswith("\\") for line in result.stdout.splitlines())


def test_status_piped_is_as_wide_as_its_table(make_env):
    """A run with a long error: the piped table keeps it on one line instead of folding it at 80 columns."""
    registry = Registry(registry_path(Path(make_env["LAKE_ROOT"])))
    error = "ValueError: " + "-".join(f"part{i}" for i in range(30))
    job = LocalJob("glue-etl-sitewise-repartition-B-20240301-20240301", "s.py", "z.zip", {}, 60, "x.log", ".")
    tags = {"source": "glue-etl", "batch": "20240301T000000.000Z", "job": "sitewise_repartition"}
    (run_id,) = registry.add_runs([NewRun(job, tags, {"--from-date": "2024-03-01", "--to-date": "2024-03-01"})], 1)
    Registry(registry.path, alive=lambda pid, since: True).claim_next(os.getpid())
    registry.finish(run_id, "FAILED", 1, error)

    result = make("status", env=make_env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].strip() == "Batch 20240301T000000.000Z (sitewise_repartition)"
    assert any(error in line and len(line) > 80 for line in lines)


def test_config_check_warns_of_example_values_and_build_and_execute_refuse_them(make_env):
    check = make("-s", "config-check", "profile=aws", env=make_env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "config.yml is valid for profile aws" in check.stdout
    assert (
        "warning: profiles.aws.glue_role_arn: arn:aws:iam::123456789012:role/glue-etl-jobs is in the example account"
        in check.stderr
    )
    assert "warning: buckets.assets: glue-etl-assets is the example name" in check.stderr

    for arguments in (["build"], ["execute", "job=sitewise_repartition", "from=2024-03-01", "to=2024-03-01"]):
        result = make("-s", *arguments, "profile=aws", env=make_env)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "the aws profile still has example values" in result.stderr and result.stdout == ""
        assert "buckets.sitewise: sitewise-cold-tier is the example name" in result.stderr

    real = {**make_env, "GLUE_ROLE_ARN": "arn:aws:iam::210987654321:role/etl"}
    real.update(
        {
            f"{name}_BUCKET": f"acme-{name.lower().replace('_', '-')}"
            for name in ("ASSETS", "SITEWISE", "STEDI", "SENSORS", "EMBRACE", "INGEST", "INGEST_ARCHIVE")
        }
    )
    check = make("-s", "config-check", "profile=aws", env=real)
    assert check.returncode == 0 and check.stderr == ""
    assert "AWS region us-east-1 (AWS_DEFAULT_REGION)" in check.stdout
    assert "no AWS credentials: the account was not checked" in check.stdout
