"""status shows the rows each chunk published and the scopes a killed publish left half-replaced."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from job_helpers.control.runs import BatchStatus, RunStatus
from job_helpers.control.summary import half_replaced, rows_published
from job_helpers.publish import OpenClaim

PUBLISHER = Path(__file__).resolve().parent / "fake_publisher.py"
JOB = """
  publisher:
    script: jobs/fake_publisher.py
    date_ranged: true
    max_concurrent_runs: 2
    arguments:
      --output: "{out}"
      --die-on: never
      --lease-seconds: "300"
"""


@pytest.mark.subprocess
def test_status_names_the_scope_a_killed_publish_left_half_replaced_and_the_rows_of_every_publish(project, capsys):
    shutil.copy(PUBLISHER, project.root / "jobs" / "fake_publisher.py")
    with project.config.open("a", encoding="utf-8") as config:
        config.write(JOB)
    project.build("local")
    die = "jobs.publisher.arguments.--die-on=2022-01-02"
    execute = ["--set", die, "execute", "--job", "publisher", "--from", "2022-01-01", "--to", "2022-01-02", "--days-per-job", "1"]
    assert project.cli(*execute, "--wait") == 1
    capsys.readouterr()

    assert project.cli("status", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    table = (project.lake_root / "scratch").as_uri() + "/out/"
    killed = next(chunk for chunk in summary["chunks"] if chunk["from"] == "2022-01-02")
    (half,) = summary["half_replaced"]
    assert (half["table"], half["scope"], half["job"]) == (table, "dt=2022-01-02/", killed["job_name"])
    assert half["job_run"] == killed["runs"][-1]["run_id"] and killed["half_replaced"] == [half]
    done = next(chunk for chunk in summary["chunks"] if chunk["from"] == "2022-01-01")
    assert done["published"][table]["rows_after"] == 1 and done["half_replaced"] == []

    assert project.cli("status") == 0
    text = capsys.readouterr().out
    assert f"HALF-REPLACED {table}dt=2022-01-02/: {killed['job_name']} run {half['job_run']} stopped publishing it" in text
    assert "rerun its chunk (make retry) to repair it" in text
    assert "scratch/out: 0 → 1 rows (+1)" in text


def run(job: str, run_id: str, state: str) -> RunStatus:
    return RunStatus(job, run_id, state, {"--from-date": "2024-03-01", "--to-date": "2024-03-01"})


def claim(job_run: str, lease_until: float) -> OpenClaim:
    return OpenClaim(
        "s3://b/t/", "dt=1/", "s3://b/t/_commits/dt=1.json", f"r-{job_run}", {"job": "j", "job_run": job_run}, 0.0, lease_until
    )


def test_a_claim_is_half_replaced_once_its_run_ended_or_its_lease_ran_out():
    now = datetime(2024, 3, 2, tzinfo=UTC).timestamp()
    found = BatchStatus("b", ("k",), [run("j1", "jr_1", "FAILED"), run("j2", "jr_2", "RUNNING")], [])
    claims = [claim("jr_1", now + 300), claim("jr_2", now + 300), claim("jr_other", now - 1), claim("jr_live", now + 1)]
    assert [h["job_run"] for h in half_replaced(found, claims, now)] == ["jr_1", "jr_other"]


def test_rows_published_reads_before_after_and_the_change_per_table():
    published = {
        "s3://b/accelerometer/trusted/": {"rows_before": 4116, "rows_after": 610, "row_delta": -3506},
        "s3://b/rejects/accelerometer_trusted/": {"rows_before": None, "rows_after": 3, "row_delta": None},
    }
    assert rows_published(published) == (
        "accelerometer/trusted: 4,116 → 610 rows (-3,506, -85.2%); rejects/accelerometer_trusted: 3 rows (no earlier count)"
    )
    assert rows_published(None) == "-"
