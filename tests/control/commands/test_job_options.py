"""A job argument no job declares is refused before any job starts, from config.yml, --set and retry alike.

getResolvedOptions ignores a name it was not given, so ``--timeseries-tpye=DISASSOCIATED`` ran
with the default ASSOCIATED series and exited 0. Each job script declares its names (``OPTIONS``,
``OPTIONAL``); the commands read them and refuse any other with the closest declared name.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import boto3
import pytest
from test_retry_claims import failed_batch, failed_batch_on_glue, glue_runs
from test_runs_local import all_ended, records

from job_helpers import runtime
from job_helpers.control import cli
from job_helpers.control.config import load_settings
from job_helpers.control.job_options import argument_problems
from job_helpers.control.local_registry import Registry
from tests.support.local_runners import DEADLINE_SECONDS, eventually

REPO = Path(__file__).resolve().parents[3]
PLAN = ["execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-01", "--dry-run"]


@pytest.mark.parametrize(
    "name, problem",
    [
        ("--sleep-secodns", "unknown argument: jobs/fake_job.py takes no --sleep-secodns; did you mean --sleep-seconds?"),
        ("--Sleep-Seconds", "unknown argument: jobs/fake_job.py takes no --Sleep-Seconds; did you mean --sleep-seconds?"),
        ("--sleep_seconds", "unknown argument: jobs/fake_job.py takes no --sleep_seconds; did you mean --sleep-seconds?"),
        ("--fail-onn", "unknown argument: jobs/fake_job.py takes no --fail-onn; did you mean --fail-on?"),
        (
            "--ml-join",
            "unknown argument: jobs/fake_job.py takes no --ml-join; it takes --fail-on, --from-date, --output, "
            "--sleep-seconds, --to-date",
        ),
        ("--enable-metric", "unknown argument: jobs/fake_job.py takes no --enable-metric; did you mean --enable-metrics?"),
        ("--JOB_NAME", "Glue sets it on every run; remove it here"),
        ("--JOB_RUN_ID", "Glue sets it on every run; remove it here"),
        ("--extra-py-files", "execute sets it (from the build and config.yml); remove it here"),
        ("--run-reports", "execute sets it (from the build and config.yml); remove it here"),
        ("--from-date", "execute sets it for each chunk from --from and --to; remove it here"),
    ],
    ids=[
        "transposed",
        "other case",
        "underscore",
        "letter too many",
        "another job's option",
        "Glue's own, misspelt",
        "Glue's JOB_NAME",
        "Glue's run id",
        "the build's",
        "execute's reports",
        "the chunk's dates",
    ],
)
def test_set_of_an_argument_the_job_would_not_use_is_refused_before_anything_starts(built, capsys, name, problem):
    assert built.cli("--set", f"jobs.fake.arguments.{name}=1", *PLAN) == 2
    output = capsys.readouterr().err
    assert f"--set jobs.fake.arguments.{name}: {problem}" in output and "error:" in output
    assert built.cli("--set", f"jobs.fake.arguments.{name}=1", *PLAN[:-1]) == 2
    capsys.readouterr()
    assert Registry(built.registry).tagged_jobs({}) == {}


@pytest.mark.parametrize("name", ["--enable-metrics", "--TempDir", "--additional-python-modules", "--job-bookmark-option"])
def test_glue_s_own_job_parameters_may_be_given(built, capsys, name):
    assert built.cli("--set", f"jobs.fake.arguments.{name}=true", *PLAN) == 0


@pytest.mark.parametrize("name", ["sleep-seconds", "-sleep-seconds", "\u2014sleep-seconds"])
def test_a_name_without_its_two_dashes_is_named_with_them(built, capsys, name):
    assert built.cli("--set", f"jobs.fake.arguments.{name}=1", *PLAN) == 2
    assert "argument names start with '--'; did you mean --sleep-seconds?" in capsys.readouterr().err


def test_a_typo_in_config_yml_is_named_by_config_check_and_execute(built, capsys, monkeypatch):
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "job_helpers.control.commands.config_cmd"))
    config = built.config.read_text()
    config = config.replace("      --fail-on: never\n", "      --fial-on: never\n")
    config = config.replace(
        "    max_parallel_runs: 2\n", "    max_parallel_runs: 2\n    job_arguments:\n      once: {--ouptut: x}\n"
    )
    built.config.write_text(config)
    assert built.cli("config", "check") == 2
    output = capsys.readouterr().err
    assert (
        "jobs.fake.arguments.--fial-on: unknown argument: jobs/fake_job.py takes no --fial-on; did you mean --fail-on?" in output
    )
    assert (
        "profiles.local.job_arguments.once.--ouptut: unknown argument: jobs/fake_job.py takes no --ouptut; did you mean --output?"
        in output
    )
    assert built.cli(*PLAN[:-1]) == 2
    assert "--fial-on" in capsys.readouterr().err
    assert Registry(built.registry).tagged_jobs({}) == {}


def test_the_aws_profile_refuses_it_before_glue_is_asked_for_anything(built_on_moto, capsys, aws_requests_follow_the_model):
    aws_requests_follow_the_model.reset()
    arguments = ["--set", "jobs.fake.arguments.--sleep-secnods=1", *PLAN[:-1]]
    assert built_on_moto.cli(*arguments, profile="aws") == 2
    assert "did you mean --sleep-seconds?" in capsys.readouterr().err
    assert boto3.client("glue", region_name="us-east-1").list_jobs()["JobNames"] == []


def test_the_reported_case_timeseries_tpye_on_the_repository_s_own_config(capsys, monkeypatch, tmp_path):
    """The repository's config.yml and job scripts, both profiles: the typo that merged ASSOCIATED series and exited 0."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("job_helpers.control.commands.runs_cmd",))
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path))
    typo = "jobs.sitewise_repartition.arguments.--timeseries-tpye=DISASSOCIATED"
    for profile in ("local", "aws"):
        command = ["--config", str(REPO / "config.yml"), "--profile", profile, "--set", typo]
        command += ["execute", "--job", "sitewise_repartition", "--from", "2024-03-01", "--to", "2024-03-07", "--dry-run"]
        assert cli.main(command) == 2
        output = capsys.readouterr().err
        assert (
            "--set jobs.sitewise_repartition.arguments.--timeseries-tpye: unknown argument: jobs/sitewise_repartition.py "
            "takes no --timeseries-tpye; did you mean --timeseries-type?"
        ) in output


@pytest.mark.parametrize("profile", ["local", "aws"])
def test_every_job_of_the_repository_takes_every_argument_config_yml_gives_it(profile):
    settings = load_settings(REPO / "config.yml", profile, environ={})
    assert argument_problems(settings, REPO, settings.jobs) == []


def job_scripts() -> list[Path]:
    return sorted((REPO / "jobs").glob("*.py"))


@pytest.mark.parametrize("script", job_scripts(), ids=lambda path: path.name)
def test_each_job_script_hands_start_job_the_names_it_declares(script, monkeypatch):
    """What the commands read (OPTIONS, OPTIONAL) is what the job enforces when it starts."""
    spec = importlib.util.spec_from_file_location(f"declared_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    given = {}

    class Declared(Exception):
        pass

    def start_job(argv, options, *, optional=(), spark=False, tasks=False):
        given.update(options=list(options), optional=list(optional))
        raise Declared

    monkeypatch.setattr(runtime, "start_job", start_job)
    with pytest.raises(Declared):
        module.main([str(script)])
    assert given == {"options": list(module.OPTIONS), "optional": list(module.OPTIONAL)}


@pytest.mark.subprocess
def test_retry_applies_an_argument_override_to_the_runs_it_starts(built, capsys):
    batch = failed_batch(built, capsys)
    assert built.cli("--set", "jobs.fake.arguments.--sleep-seconds=0.25", "retry", "--batch", batch, "--json", "--wait") == 0
    answer = json.loads(capsys.readouterr().out)
    assert len(answer["retried"]) == 2
    registry = Registry(built.registry)
    eventually(lambda: all_ended(registry, 5), "the retried runs ending")
    for runs in registry.job_runs(list(registry.tagged_jobs({}))).values():
        if len(runs) == 2:
            assert runs[1].arguments == {**runs[0].arguments, "--sleep-seconds": "0.25"}
            argv = records(built)[runs[0].job_name]["argv"]
            assert dict(zip(argv[0::2], argv[1::2]))["--sleep-seconds"] == "0.25"


@pytest.mark.parametrize(
    "override, message",
    [
        ("jobs.fake.arguments.--sleep-secnods=1", "--set jobs.fake.arguments.--sleep-secnods: unknown argument"),
        ("jobs.fake.worker_type=G.2X", "--set changes jobs.fake.worker_type, which a retry cannot"),
        ("jobs.fake.timeout_minutes=9", "--set changes jobs.fake.timeout_minutes, which a retry cannot"),
        ("jobs.fake.arguments=", "jobs.fake.arguments: '' where a mapping of keys belongs"),
    ],
)
@pytest.mark.subprocess
def test_retry_refuses_an_override_it_cannot_apply_and_starts_nothing(built, capsys, override, message):
    batch = failed_batch(built, capsys)
    registry = Registry(built.registry)
    before = sum(len(runs) for runs in registry.job_runs(list(registry.tagged_jobs({}))).values())
    assert built.cli("--set", override, "retry", "--batch", batch) == 2
    assert message in capsys.readouterr().err
    assert sum(len(runs) for runs in registry.job_runs(list(registry.tagged_jobs({}))).values()) == before


def test_retry_on_glue_passes_the_override_as_run_arguments(built_on_moto, capsys, runs_stay_starting, moto_endpoint):
    batch, failing = failed_batch_on_glue(built_on_moto, capsys, moto_endpoint, runs_stay_starting)
    assert built_on_moto.cli("--set", "jobs.fake.arguments.--fail-on=2099-01-01", "retry", "--batch", batch, profile="aws") == 0
    glue = boto3.client("glue", region_name="us-east-1")
    for name in failing:
        assert len(glue_runs(name)) == 2
        runs = sorted(glue.get_job_runs(JobName=name)["JobRuns"], key=lambda run: run["StartedOn"])
        assert runs[1]["Arguments"] == {**runs[0]["Arguments"], "--fail-on": "2099-01-01"}


@pytest.mark.subprocess
def test_a_job_started_by_hand_refuses_the_typo_too(built, tmp_path):
    """The same check inside the job: a run started outside execute, or by an older build's config."""
    import subprocess

    script = built.root / "jobs" / "fake_job.py"
    argv = [sys.executable, str(script), "--JOB_NAME", "by-hand", "--from-date", "2022-01-01", "--to-date", "2022-01-01"]
    argv += ["--output", (tmp_path / "out").as_uri(), "--fail-on", "never", "--sleep-seconds", "0", "--sleep-secodns", "5"]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
        env={"JOB_HELPERS_RUNTIME": "local", "PYTHONPATH": str(built.root)},
    )
    assert done.returncode == 1
    assert "by-hand failed: --sleep-secodns: the job takes no such argument; did you mean --sleep-seconds?" in done.stdout
    assert not (tmp_path / "out").exists()
