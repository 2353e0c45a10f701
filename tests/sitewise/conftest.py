"""Fixtures of the SiteWise tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sitewise_helpers import FIRST_DAY, SEED, SERIES, Lake

from job_helpers.sitewise.keys import Layout
from job_helpers.sitewise.sample_data import write_cold_tier
from job_helpers.storage import Storage


@pytest.fixture(autouse=True)
def local_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOB_HELPERS_RUNTIME", "local")


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    """Two days, across a month end, of a small generated cold tier on local files or moto S3."""
    if request.param == "local":
        storage, base = Storage(), tmp_path.as_uri()
    else:
        storage, base = request.getfixturevalue("s3_storage"), "s3://lake"
    layout = Layout(f"{base}/cold", f"{base}/repartitioned", f"{base}/index")
    written = write_cold_tier(storage, layout.cold_tier, FIRST_DAY, 2, SERIES, records_per_file=20, seed=SEED)
    return Lake(storage, layout, written)
