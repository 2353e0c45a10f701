"""The data-report tests' shared job run: Embrace's sample, cleaned once for the local and the aws tests."""

from __future__ import annotations

from datetime import date

import pytest

from job_helpers.embrace.sample_data import write_embrace_sample
from job_helpers.storage import Storage
from tests.support.data_report_pages import new_project

DAY = date(2024, 3, 1)


@pytest.fixture(scope="package")
def embrace(tmp_path_factory, spark):
    project = new_project(tmp_path_factory.mktemp("embrace") / "repo")
    sample = write_embrace_sample(Storage(), project.settings().datasets["embrace.landing"], start=DAY, days=2, seed=7)
    project.run_job("embrace_dedupe", "2024-03-01", "2024-03-31")
    return project, sample
