"""The STEDI jobs under a lake whose folder names a URL parser would misread: Spark writes where Storage publishes."""

from __future__ import annotations

from stedi_helpers import REPO, lake_settings, write_key

from job_helpers.control.config import PipelineSpec
from job_helpers.control.pipeline import LocalRunner, run_jobs, table_counts
from job_helpers.stedi.sample_data import write_stedi_landing
from job_helpers.storage import Storage, local_path
from tests.support.stedi_oracle import expected_counts, landing_urls

JOBS = ("stedi_customer_trusted", "stedi_accelerometer_trusted", "stedi_customer_curated")
TABLES = ("stedi.customer_trusted", "stedi.accelerometer_trusted", "stedi.customer_curated")


def test_jobs_publish_under_a_lake_named_with_spaces_hashes_and_percent_signs(small_shuffles, tmp_path):
    root = tmp_path / "Jane Doe #2 (100%) x%20y"
    root.mkdir()
    settings = lake_settings(root / "lake", write_key(root / "key #1", "odd-path-test-key-0123456789"))
    write_stedi_landing(Storage(), landing_urls(settings), customers=100, seed=5)
    spec = PipelineSpec("odd-path", JOBS, TABLES)

    result = run_jobs(settings, spec, LocalRunner(REPO), Storage())

    assert result.succeeded, [(o.job, o.state, o.error) for o in result.outcomes]
    expected = expected_counts(settings)
    assert table_counts(settings.datasets, TABLES, result.outcomes) == {table: expected[table] for table in TABLES}
    for table in TABLES:
        folder = local_path(settings.datasets[table])
        assert folder.is_relative_to(root) and any(folder.rglob("part-*")), table
    assert sorted(p.name for p in tmp_path.iterdir()) == [root.name], "nothing written beside the lake under an escaped name"
