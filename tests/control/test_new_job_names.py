"""``make new-job`` refuses, before writing anything, a job or data set name it cannot take (the plan is made on the repository itself)."""

from __future__ import annotations

import pytest

from job_helpers.control.new_job import NewJobError, plan_new_job, top_level_names
from tests.support.project_imports import REPO


@pytest.mark.parametrize(
    ("job", "dataset", "says"),
    [
        ("Orders", "orders", "lower case"),
        ("orders-daily", "orders", "lower case"),
        ("orders_daily", "class", "Python keyword"),
        ("import", "orders", "Python keyword"),
        ("1st", "orders", "lower case"),
        ("x" * 41, "orders", "at most 40"),
        ("orders_daily", "control", "uses already"),
        ("sitewise_repartition", "orders", "is taken"),  # a job of config.yml
        ("customer_data", "orders", "is taken"),  # a table of sql/
        ("landing", "orders", "is taken"),  # a location every made data set has
        ("sensors_job", "orders", "test_sensors_job.py exists"),  # test file names are unique under tests/
        ("orders_daily", "storage", "job_helpers/storage.py"),  # a module of job_helpers
        ("orders_daily", "aws_e2e", "tests/aws_e2e/"),
        ("orders_daily", "ingest_archive", "buckets.ingest_archive"),
        ("orders_daily", "glue_assets", "datasets.glue_assets"),
        ("orders_daily", "sensors", "no `JOBS = (...)` line"),  # a hand-written data set
        ("orders_daily", "yes", "config.yml would read it as True"),  # YAML 1.1 words are not names
        ("null", "orders", "config.yml would read it as None"),
        ("on", "off", "config.yml would read it as True"),
        ("job_helpers", "orders", "a module jobs import"),  # jobs/ is on a job's sys.path
        ("json", "orders", "a module jobs import"),
        ("pyspark", "orders", "a module jobs import"),
        # Folders at the top of the repository, and build/, which .gitignore says the project makes there.
        ("orders_daily", "tests", "dataset='tests' is a folder or module at the top of the repository"),
        ("orders_daily", "sql", "dataset='sql' is a folder or module at the top"),
        ("orders_daily", "docs", "dataset='docs' is a folder or module at the top"),
        ("orders_daily", "jobs", "uses already"),  # a section of config.yml as well as a folder
        ("orders_daily", "benchmarks", "dataset='benchmarks' is a folder or module at the top"),
        ("orders_daily", "build", "dataset='build' is a folder or module at the top"),
        ("orders_daily", "metastore_db", "dataset='metastore_db' is a folder or module at the top"),
        ("docs", "orders", "a module jobs import"),  # a job's name: the repository's root is on the path
        ("orders", "orders", "name='orders' is the data set's own name: name the job for what it makes of it, e.g. orders_daily"),
    ],
)
def test_a_name_it_cannot_take_is_refused_with_what_to_change(job, dataset, says):
    with pytest.raises(NewJobError) as refused:
        plan_new_job(REPO, job, dataset)
    assert says in str(refused.value)


def test_a_free_name_is_planned_without_writing_anything():
    plan = plan_new_job(REPO, "orders_daily", "orders")
    assert len(plan.created) + len(plan.changed) == 13
    assert sorted(plan.changed) == ["config.yml", "job_helpers/datasets.py"]
    assert not any((REPO / path).exists() for path in plan.created)


def test_the_top_level_names_come_from_the_repository_itself(tmp_path):
    """Not a hand list: a folder or module added at the top, or a folder .gitignore says is made there, is refused too."""
    (tmp_path / "reports").mkdir()
    (tmp_path / "tool.py").write_text("", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("", encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".gitignore").write_text(".venv\nout/\n/cache\n*.pyc\n__pycache__/\n", encoding="utf-8")
    assert top_level_names(tmp_path) == {"reports", "tool", "out", "cache"}
    assert {"tests", "sql", "docs", "jobs", "benchmarks", "job_helpers", "build"} <= top_level_names(REPO)


@pytest.mark.parametrize(
    "config, says",
    [
        (
            "jobs:\n  a: {script: jobs/a.py}\n  yes: {script: jobs/b.py}\n",
            "line 3: key jobs.yes is read as a boolean (true), not as text",
        ),
        ("jobs: {}\njobs: {}\n", "line 2: duplicate key 'jobs' (first at line 1)"),
    ],
)
def test_new_job_reads_config_yml_with_the_one_strict_reader(tmp_path, config, says):
    """It read config.yml with yaml.safe_load, a second reader that took what config check refuses."""
    (tmp_path / "config.yml").write_text(config, encoding="utf-8")
    with pytest.raises(NewJobError) as refused:
        plan_new_job(tmp_path, "orders_daily", "orders")
    assert str(refused.value) == f"config.yml: {says}; fix it (make config-check) before making a job" or says in str(
        refused.value
    )
