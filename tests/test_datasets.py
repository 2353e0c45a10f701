"""The registry of data sets (job_helpers/datasets.py): forgetting a registration fails here, never silently.

Every package under job_helpers/ (but the control plane) is registered; every job script belongs
to a registered data set and every registered job has its script and its config.yml entry; every
registered table has its DDL in sql/ and every DDL table is registered; the job role grants each
job's data-set arguments; the buckets config.yml ships are known example values; and listing the
data sets loads neither Spark nor an AWS client.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import subprocess
import sys

import pytest
import yaml

from job_helpers.control.commands.sample_cmd import sample_options
from job_helpers.control.config import EXAMPLE_BUCKETS, TOP_LEVEL_KEYS, load_settings
from job_helpers.control.ddl import ddl_files
from job_helpers.control.policy import TEMPLATES, render_policy
from job_helpers.datasets import PACKAGES, by_name, registered
from tests.support.project_imports import REPO

PACKAGE = REPO / "job_helpers"
CREATE_TABLE = re.compile(r"CREATE\s+EXTERNAL\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`\{database\}`\.`(\w+)`", re.IGNORECASE)
DEFAULT_BUCKET = re.compile(r"\$\{[A-Z_]+:-([^}]+)\}")


def _config() -> dict:
    return yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))


def test_every_package_under_job_helpers_is_registered_once_under_its_own_name():
    packages = {path.parent.name for path in PACKAGE.glob("*/__init__.py")} - {"control"}
    assert sorted(packages) == sorted(PACKAGES), "register each data set's package in job_helpers/datasets.py (one line)"
    assert [dataset.name for dataset in registered()] == list(PACKAGES), "each package's DATASET.name is its folder's name"


def test_every_job_script_belongs_to_the_registered_data_set_whose_package_it_imports():
    registered_jobs = {job: dataset.name for dataset in registered() for job in dataset.jobs}
    for script in sorted((REPO / "jobs").glob("*.py")):
        imported = set(re.findall(r"^from job_helpers\.(\w+)", script.read_text(encoding="utf-8"), re.MULTILINE))
        owners = imported & set(PACKAGES)
        assert script.stem in registered_jobs, f"{script.name}: add {script.stem!r} to the jobs of its data set's DataSet"
        assert registered_jobs[script.stem] in owners, f"{script.name} imports {sorted(owners)}, not its data set"


def test_every_registered_job_has_its_script_and_its_config_entry():
    jobs = _config()["jobs"]
    for dataset in registered():
        for job in dataset.jobs:
            assert (REPO / "jobs" / f"{job}.py").is_file(), f"{dataset.name}: jobs/{job}.py is missing"
            assert jobs[job]["script"] == f"jobs/{job}.py", f"{dataset.name}: config.yml jobs.{job} is missing"


def test_every_registered_table_has_its_ddl_and_every_ddl_table_is_registered():
    in_sql = {name: path for path in ddl_files(REPO / "sql") for name in CREATE_TABLE.findall(path.read_text(encoding="utf-8"))}
    tables = [table for dataset in registered() for table in dataset.tables]
    assert len(tables) == len(set(tables)), "a table belongs to one data set"
    assert sorted(set(tables) - set(in_sql)) == [], "a registered table has no CREATE EXTERNAL TABLE in sql/"
    assert sorted(set(in_sql) - set(tables)) == [], "a table of sql/ belongs to no registered data set: add it to its tables"


def test_the_job_role_grants_every_data_set_a_job_is_given():
    """Each job argument that is a data set's location is read or written under the job role's policy."""
    settings = load_settings(REPO / "config.yml", "aws", environ={"AWS_REGION": "us-east-1"})
    policy = render_policy(REPO / TEMPLATES["glue-role"], settings)
    granted = [
        resource
        for statement in policy["Statement"]
        if "s3:GetObject" in statement["Action"]
        for resource in statement["Resource"]
    ]
    locations = {url: name for name, url in settings.datasets.items()}
    for dataset in registered():
        for job in dataset.jobs:
            for argument, url in settings.job(job).arguments.items():
                if url in locations:
                    arn = "arn:aws:s3:::" + url.removeprefix("s3://")
                    assert any(fnmatch.fnmatch(arn + "x", resource) or resource.startswith(arn) for resource in granted), (
                        f"{job} {argument} is {locations[url]}: add it to the reads or writes of {dataset.name}'s RolePolicy"
                    )


def test_the_buckets_config_yml_ships_are_example_values():
    text = (REPO / "config.yml").read_text(encoding="utf-8")
    buckets = yaml.safe_load(text)["buckets"]
    shipped = {DEFAULT_BUCKET.fullmatch(str(value)).group(1) for value in buckets.values()}
    assert sorted(shipped - EXAMPLE_BUCKETS) == [], "add the bucket to its data set's example_buckets"


def test_each_data_set_owns_the_config_section_of_its_name():
    config = _config()
    for dataset in registered():
        if dataset.settings:
            assert dataset.name in TOP_LEVEL_KEYS
        assert any(name == dataset.name for name in config["datasets"]) or not dataset.jobs, (
            f"config.yml has no datasets.{dataset.name}"
        )


def test_the_sample_data_writers_and_policy_values_resolve():
    for dataset in registered():
        if dataset.sample:
            assert callable(dataset.sample.writer), dataset.name
    assert set(by_name()) == set(PACKAGES)


def loaded_packages(statement: str, packages: tuple[str, ...]) -> list[str]:
    """Which of ``packages`` a fresh interpreter has imported after running ``statement``."""
    code = f"import sys; {statement}; print(sorted(m for m in sys.modules if m.split('.')[0] in {packages!r}))"
    return ast.literal_eval(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout
    )


@pytest.mark.subprocess
def test_listing_the_data_sets_loads_neither_spark_nor_an_aws_client():
    statement = "from job_helpers.datasets import registered; registered()"
    assert loaded_packages(statement, ("pyspark", "boto3", "botocore", "fastavro")) == []


@pytest.mark.subprocess
def test_the_command_line_starts_without_spark_numpy_or_avro():
    """Every command pays for what the parser imports; `pipeline` starts its JVM only after it."""
    statement = "from job_helpers.control import cli; cli.build_parser()"
    assert loaded_packages(statement, ("pyspark", "boto3", "numpy", "fastavro", "pyarrow")) == []


def test_the_makefile_passes_and_shows_every_sample_data_option():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = makefile[makefile.index("\nsample-data: setup") :].split("\n\n")[0]
    help_line = next(line for line in makefile.splitlines() if "make sample-data dataset=" in line)
    for option in sample_options():
        variable = option.replace("-", "_")
        assert f"$(call opt,{variable},--{option})" in recipe, f"the Makefile's sample-data recipe does not pass {variable}="
        assert f"[{variable}=]" in help_line, f"make help does not show sample-data's {variable}="


def test_the_readmes_package_shape_table_names_the_modules_the_packages_have():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| module | holds |") :].split("\n\n")[0]
    named = set(re.findall(r"^\| `(\w+\.py)` \|", table, re.MULTILINE))
    held = {path.name for package in PACKAGES for path in (PACKAGE / package).glob("*.py")}
    assert sorted(named - held) == [], "the README names a module no data set package has"
    made = {path.name.removesuffix(".tmpl") for path in (PACKAGE / "control" / "job_template" / "package").glob("*.tmpl")}
    assert sorted(made - named - {"__init__.py"}) == [], "make new-job writes a module the README's table does not name"
    assert all((PACKAGE / package / "dataset.py").is_file() for package in PACKAGES)
