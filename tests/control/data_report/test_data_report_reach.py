"""The data report is the control plane's: no job reaches it or its charting library, and Glue installs neither."""

from __future__ import annotations

import pytest

from job_helpers.control.config import load_settings
from tests.support.project_imports import REPO, reachable

CHARTING = "matplotlib"


@pytest.mark.parametrize("script", sorted((REPO / "jobs").glob("*.py")), ids=lambda path: path.name)
def test_no_job_reaches_the_report_or_its_charting_library(script):
    files, sites = reachable(script)
    assert not [path for path in files if "data_report" in path.parts]
    assert not [site for site in sites if site.module.split(".")[0] == CHARTING], f"{script.name} imports {CHARTING}"


def test_no_job_asks_glue_to_install_the_charting_library():
    settings = load_settings(REPO / "config.yml", "aws", [], environ={})
    for job in settings.jobs.values():
        assert CHARTING not in job.arguments.get("--additional-python-modules", ""), job.key


def test_the_charting_library_is_pinned_with_the_make_commands_only():
    lines = (REPO / "requirements.txt").read_text().splitlines()
    section = lines.index("# The make commands only, never a job.")
    pinned = next(index for index, line in enumerate(lines) if line.startswith(f"{CHARTING}=="))
    assert pinned > section and not any(line.startswith("# Not on Glue") for line in lines[section:pinned])
