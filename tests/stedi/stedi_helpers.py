"""Helpers for the STEDI tests: a lake in a temporary folder, and running the pipeline in this process."""

from __future__ import annotations

from pathlib import Path

import pytest

from job_helpers.control.config import JobSpec, Settings, load_settings, pipeline_spec
from job_helpers.control.pipeline import LocalRunner, PipelineResult, job_argv, load_script, run_jobs
from job_helpers.run_report import RunReport, read_report, scope_report_url
from job_helpers.storage import Storage

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data" / "stedi"
LANDINGS = ("customer", "accelerometer", "step_trainer")


def lake_settings(lake: Path, key_file: Path, *overrides: str) -> Settings:
    return load_settings(
        REPO / "config.yml",
        "local",
        [f"stedi.pseudonym_key_file={key_file}", *overrides],
        environ={"LAKE_ROOT": str(lake)},
    )


def write_key(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def last_action(spark) -> int:
    """The id of the session's latest SQL execution (each Spark action that runs a query is one)."""
    return max(_executions(spark), default=-1)


def spark_actions(spark, since: int) -> list[str]:
    """What started each SQL execution of the session after ``since`` (``save``, ``collect``…), in order."""
    return [description.split(" at ")[0] for number, description in sorted(_executions(spark).items()) if number > since]


def _executions(spark) -> dict[int, str]:
    spark.sparkContext._jsc.sc().listenerBus().waitUntilEmpty()
    listed = spark._jsparkSession.sharedState().statusStore().executionsList()
    return {int(listed.apply(i).executionId()): str(listed.apply(i).description()) for i in range(listed.size())}


def run_pipeline(settings: Settings) -> PipelineResult:
    result = run_jobs(settings, pipeline_spec(settings, "stedi"), LocalRunner(REPO), Storage())
    assert result.succeeded, [(o.job, o.state, o.error) for o in result.outcomes]
    return result


def folder_report(job: JobSpec, scope: str = "all") -> RunReport:
    """The report a STEDI job keeps in its ``--report`` folder for ``scope``."""
    report = read_report(Storage(), scope_report_url(job.arguments["--report"], scope))
    assert report is not None, f"{job.key} wrote no {scope} report in {job.arguments['--report']}"
    return report


def shared_lake(root: Path) -> Path:
    """A lake whose landing folders are links to ../shared (read in place, never copied)."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the shared STEDI reference data sits beside the repository")
    for name in LANDINGS:
        folder = root / "stedi-lakehouse" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "landing").symlink_to(SHARED / name / "landing", target_is_directory=True)
    return root


def run_time_only_join(root: Path) -> tuple[Settings, JobSpec]:
    """Run the machine-learning job of the lake under ``root`` with the rubric's join on time alone,
    into its own table and reports; returns those settings and the job."""
    rubric = lake_settings(
        root / "lake",
        root / "key",
        "stedi.ml_join=time-only",
        "datasets.stedi.machine_learning_curated.prefix=step_trainer/curated_time_only/",
        "datasets.stedi.reports.prefix=reports_time_only/",
    )
    job = rubric.job("stedi_machine_learning_curated")
    load_script(REPO / job.script).main(job_argv(job))
    return rubric, job
