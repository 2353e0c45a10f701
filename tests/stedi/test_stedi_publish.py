"""STEDI jobs publishing through job_helpers.publish on file://: killed while publishing, then rerun."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import date

import pytest
from stedi_helpers import REPO, lake_settings, write_key
from test_publish import DyingStorage, Killed

from job_helpers.control.pipeline import job_argv, load_script
from job_helpers.stedi.sample_data import write_stedi_landing
from job_helpers.stedi.schemas import CUSTOMER_TRUSTED
from job_helpers.stedi.write import publish_table
from job_helpers.storage import Storage, local_path


def rows(spark, url: str) -> Counter:
    return Counter(map(tuple, spark.read.schema(CUSTOMER_TRUSTED).parquet(url).collect()))


def test_customer_trusted_killed_at_any_point_of_its_publish_keeps_a_table_and_the_rerun_leaves_one_copy(
    small_shuffles, tmp_path, monkeypatch
):
    settings = lake_settings(tmp_path / "lake", write_key(tmp_path / "key", "publish-test-key-0123456789"))
    landing = {name: settings.datasets[f"stedi.{name}_landing"] for name in ("customer", "accelerometer", "step_trainer")}
    job = settings.job("stedi_customer_trusted")
    script, table = load_script(REPO / job.script), settings.datasets["stedi.customer_trusted"]
    monkeypatch.setenv("JOB_HELPERS_RUNTIME", "local")
    old_layout = local_path(table).parent / ".trash-trusted-0123abcd" / "part-00000.parquet"
    old_layout.parent.mkdir(parents=True)
    old_layout.write_text("an old table with PII, left by a crash of an earlier version")

    def run(seed: int, storage: Storage) -> None:
        write_stedi_landing(Storage(), landing, customers=100 + seed, seed=seed)
        monkeypatch.setattr(script, "Storage", lambda: storage)  # the job publishes through ``storage``
        script.main(job_argv(job))

    run(1, Storage())
    assert not old_layout.parent.exists()
    old = rows(small_shuffles, table)
    snapshot = tmp_path / "old-lake"
    shutil.copytree(tmp_path / "lake", snapshot)
    run(2, Storage())
    new = rows(small_shuffles, table)
    assert new != old and max(new.values()) == 1
    counted = DyingStorage(Storage(), budget=10**6)
    run(2, counted)
    assert counted.spent > 2
    for budget in (counted.spent // 2, counted.spent - 1):  # every point is killed in test_publish_table_*
        shutil.rmtree(tmp_path / "lake")
        shutil.copytree(snapshot, tmp_path / "lake")
        with pytest.raises(Killed):
            run(2, DyingStorage(Storage(), budget))
        seen = rows(small_shuffles, table)
        assert not old - seen or not new - seen, budget  # every old row, or every new one
        run(2, Storage())
        assert rows(small_shuffles, table) == new, budget
        files = [p.relative_to(local_path(table)).as_posix() for p in local_path(table).rglob("*") if p.is_file()]
        assert files and all(name.startswith("part-") for name in files), (budget, files)


def test_publish_table_killed_after_any_operation_keeps_old_or_new_per_date_and_the_rerun_leaves_one_copy(
    small_shuffles, tmp_path
):
    url = (tmp_path / "table").as_uri() + "/"
    day1, day2, day3 = date(2022, 6, 18), date(2022, 6, 19), date(2022, 6, 20)
    old = [(1, day1), (2, day1), (3, day2), (4, day3)]
    new = [(10, day1), (20, day2), (30, day2)]  # day3 no longer has rows: emptied

    def frame(data):
        return small_shuffles.createDataFrame(data, "v int, reading_date date").coalesce(1)

    ranged = {"partitioned": True, "first": day1, "last": day3}
    publish_table(frame(old), Storage(), url, "parquet", **ranged)
    shutil.copytree(tmp_path / "table", tmp_path / "old")
    for budget in range(40):
        shutil.rmtree(tmp_path / "table")
        shutil.copytree(tmp_path / "old", tmp_path / "table")
        try:
            publish_table(frame(new), DyingStorage(Storage(), budget), url, "parquet", **ranged)
        except Killed:
            seen = Counter(map(tuple, small_shuffles.read.parquet(url).select("v", "reading_date").collect()))
            for day in (day1, day2):
                before, after = (Counter(row for row in data if row[1] == day) for data in (old, new))
                assert not before - seen or not after - seen, (budget, day, seen)
        else:
            break
        publish_table(frame(new), Storage(), url, "parquet", **ranged)
        assert sorted(map(tuple, small_shuffles.read.parquet(url).select("v", "reading_date").collect())) == new, budget
        files = [p.name for p in (tmp_path / "table").rglob("*") if p.is_file()]
        assert all(name.startswith("part-") for name in files) and len(files) == 2, (budget, files)
    assert budget > 3
