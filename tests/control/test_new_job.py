"""``make new-job``: a data set made in a copy of the repository passes its own tests and lint there.

One generation, its tests run once (they are slow: a local run, a build and a Glue run on moto).
The copy holds the repository's files (tracked and new, not ignored) with their times, and links
the shared .venv, so make finds it ready (and a copy of mypy's cache, when there is one).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.project_imports import REPO

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

JOB, DATASET = "orders_daily", "orders"
OWN_FOLDERS = (f"job_helpers/{DATASET}/", f"sql/{DATASET}/", f"tests/{DATASET}/")
OWN_FILES = (f"jobs/{JOB}.py", f"tests/aws_e2e/test_{DATASET}_{JOB}_on_glue.py")
# Outside its own files: the registry line and its config.yml entries (a bucket, its locations, the job).
SHARED = ("config.yml", "job_helpers/datasets.py")


def _copy(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO, capture_output=True, check=True
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    (target / ".venv").symlink_to((REPO / ".venv").resolve(), target_is_directory=True)
    if (REPO / ".mypy_cache").is_dir():  # mypy re-checks what changed, not the whole venv's stubs (9 s to 0.6 s)
        shutil.copytree(REPO / ".mypy_cache", target / ".mypy_cache")
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "copy"]):
        subprocess.run(["git", *command], cwd=target, check=True)


def _run(root: Path, *command: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "COV_"))}
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=1200)


def _pytest(root: Path, *arguments: str) -> subprocess.CompletedProcess:
    return _run(root, str(root / ".venv" / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments)


def test_a_generated_data_set_passes_its_tests_and_lint_and_touches_one_shared_line(tmp_path):
    root = tmp_path / "repo"
    _copy(root)

    made = _run(root, "make", "-s", "new-job", f"name={JOB}", f"dataset={DATASET}")
    assert made.returncode == 0, made.stdout + made.stderr

    status = _run(root, "git", "status", "--porcelain", "--untracked-files=all").stdout.splitlines()
    touched = sorted(line[3:] for line in status)
    assert len(touched) <= 14, touched
    outside = [path for path in touched if not path.startswith(OWN_FOLDERS) and path not in OWN_FILES]
    assert sorted(outside) == sorted(SHARED), outside
    registry = _run(root, "git", "diff", "--numstat", "--", "job_helpers/datasets.py").stdout.split()
    assert registry[:2] == ["1", "0"], "the registry gains one line and loses none"

    lint = _run(root, "make", "-s", "lint")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    generated = _pytest(
        root,
        f"tests/{DATASET}",
        f"tests/aws_e2e/test_{DATASET}_{JOB}_on_glue.py",
        "tests/test_datasets.py",
        "tests/test_layers.py",
        "tests/test_glue_modules.py",
        "tests/test_job_shape.py",
        "tests/aws_e2e/test_jobs_on_glue.py::test_every_registered_job_runs_in_a_group_or_in_its_data_sets_own_aws_test",
        "-rA",
        "-k",
        f"{JOB} or {DATASET} or datasets or layers or own_aws_test",
    )
    assert generated.returncode == 0, generated.stdout[-6000:] + generated.stderr[-2000:]
    passed = {line.split()[1].split("::")[-1] for line in generated.stdout.splitlines() if line.startswith("PASSED ")}
    assert {
        "test_a_local_run_publishes_every_good_line_once_and_files_each_bad_one_and_a_rerun_changes_nothing",
        "test_the_ddl_matches_the_schema_the_job_writes",
        f"test_{JOB}_publishes_each_day_once_on_glue",
        f"test_the_job_imports_with_only_what_glue_51_provides_and_what_it_requests[{JOB}]",
        "test_every_registered_job_runs_in_a_group_or_in_its_data_sets_own_aws_test",
        f"test_every_job_script_has_the_one_shape[{JOB}.py]",
        f"test_each_jobs_parameters_read_exactly_the_names_its_script_declares[{JOB}]",
    } <= passed, sorted(passed)

    registry_path = root / "job_helpers" / "datasets.py"
    registry_path.write_text(registry_path.read_text().replace(f'    "{DATASET}",\n', ""))
    forgotten = _pytest(root, "tests/test_datasets.py")
    assert forgotten.returncode == 1, forgotten.stdout[-4000:]
    assert "test_every_package_under_job_helpers_is_registered_once_under_its_own_name FAILED" in forgotten.stdout or (
        "FAILED tests/test_datasets.py::test_every_package_under_job_helpers_is_registered_once_under_its_own_name"
        in forgotten.stdout
    )
