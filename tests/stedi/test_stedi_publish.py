"""STEDI jobs publishing through job_helpers.publish on file://: killed at every step, two runs of one
range at once, a reader at every step, the row guard and the reconciliation of counts."""

from __future__ import annotations

import json
import shutil
import threading
from collections import Counter
from datetime import date

import pyarrow.parquet as pq
import pytest
from stedi_helpers import REPO, folder_report, lake_settings, last_action, spark_actions, write_key

from job_helpers import publish as publishing
from job_helpers.commit_record import read_record, scope
from job_helpers.control.pipeline import job_argv, load_script
from job_helpers.publish import Lease, ScopeBusy, open_claims
from job_helpers.stedi.sample_data import write_stedi_landing
from job_helpers.stedi.schemas import CUSTOMER_TRUSTED
from job_helpers.stedi.write import publish_table, staged
from job_helpers.storage import Storage, local_path
from tests.support.publish_steps import DyingStorage, Killed, SteppedStorage

DAY1, DAY2, DAY3 = date(2022, 6, 18), date(2022, 6, 19), date(2022, 6, 20)
RANGED = {"partitioned": True, "first": DAY1, "last": DAY3}


def rows(spark, url: str) -> Counter:
    return Counter(map(tuple, spark.read.schema(CUSTOMER_TRUSTED).parquet(url).collect()))


def read_back(table: str) -> list[tuple]:
    """``(v, reading_date)`` rows of a partitioned test table as a reader sees it (pyarrow skips ``_`` folders)."""
    found = pq.read_table(local_path(table), partitioning="hive").to_pylist()
    return sorted((row["v"], date.fromisoformat(str(row["reading_date"]))) for row in found)


def data_files(table: str) -> list[str]:
    root = local_path(table)
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not p.relative_to(root).parts[0].startswith("_")
    )


@pytest.fixture
def stale_at_once(monkeypatch):
    """Claims that run out at once, so the rerun of a killed run takes it over without waiting."""
    monkeypatch.setattr(publishing, "LEASE", Lease(seconds=0, wait=0))


def test_customer_trusted_killed_at_any_point_of_its_publish_keeps_a_table_and_the_rerun_leaves_one_copy(
    small_shuffles, tmp_path, monkeypatch, stale_at_once
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
    assert counted.spent > 4
    # Every step is killed in test_publish_table_* and tests/test_publish.py; here a claim, the middle, the end.
    for budget in sorted({1, counted.spent // 2, counted.spent - 1}):
        shutil.rmtree(tmp_path / "lake")
        shutil.copytree(snapshot, tmp_path / "lake")
        with pytest.raises(Killed):
            run(2, DyingStorage(Storage(), budget))
        assert rows(small_shuffles, table) in (old, new), budget  # the table's one file, old or new
        run(2, Storage())
        assert rows(small_shuffles, table) == new, budget
        assert data_files(table) == ["part-00000.snappy.parquet"], budget


def test_publish_table_killed_at_any_step_keeps_each_date_old_or_new_and_the_rerun_leaves_one_copy(
    small_shuffles, tmp_path, stale_at_once
):
    url = (tmp_path / "table").as_uri() + "/"
    old = [(1, DAY1), (2, DAY1), (3, DAY2), (4, DAY3)]
    new = [(10, DAY1), (20, DAY2), (30, DAY2)]  # DAY3 no longer has rows: emptied

    def frame(data):
        return small_shuffles.createDataFrame(data, "v int, reading_date date")

    def per_day(data) -> dict:
        return {day: sorted(v for v, d in data if d == day) for day in (DAY1, DAY2, DAY3)}

    publish_table(frame(old), Storage(), url, "parquet", **RANGED)
    # Spark stages the killed run's files and the rerun's once; each step restores those folders.
    with staged(frame(new), Storage(), url, "parquet", **RANGED) as killed:
        shutil.copytree(tmp_path / "table", tmp_path / "killed")
    with staged(frame(new), Storage(), url, "parquet", **RANGED) as rerun:
        shutil.copytree(tmp_path / "table" / "_staging" / rerun.run_id, tmp_path / "rerun")
    budget = 0
    while True:
        shutil.rmtree(tmp_path / "table")
        shutil.copytree(tmp_path / "killed", tmp_path / "table")
        try:
            publishing.publish(DyingStorage(Storage(), budget), url, killed.run_id, killed.files, killed.scopes)
        except Killed:
            seen = per_day(read_back(url))
            for day in (DAY1, DAY2, DAY3):
                assert seen[day] in (per_day(old)[day], per_day(new)[day]), (budget, day, seen)
        else:
            break
        shutil.copytree(tmp_path / "rerun", tmp_path / "table" / "_staging" / rerun.run_id)
        publishing.publish(Storage(), url, rerun.run_id, rerun.files, rerun.scopes)
        assert read_back(url) == sorted(new), budget
        assert data_files(url) == [f"reading_date={d}/part-00000.snappy.parquet" for d in (DAY1, DAY2)], budget
        assert open_claims(Storage(), url) == [], budget
        budget += 1
    assert budget > 8


def test_a_reader_sees_every_date_wholly_old_or_wholly_new_at_every_step_of_a_publish(small_shuffles, tmp_path):
    url = (tmp_path / "table").as_uri() + "/"
    old = [(1, DAY1), (2, DAY1), (3, DAY2)]
    new = [(10, DAY1), (20, DAY2), (30, DAY2), (40, DAY2)]
    frame = small_shuffles.createDataFrame
    publish_table(frame(old, "v int, reading_date date"), Storage(), url, "parquet", **RANGED)

    def per_day(data) -> dict:
        return {day: sorted(v for v, d in data if d == day) for day in (DAY1, DAY2)}

    steps = []

    def read(operation: str, changed: str) -> None:
        steps.append(operation)
        seen = per_day(read_back(url))
        for day in (DAY1, DAY2):
            assert seen[day] in (per_day(old)[day], per_day(new)[day]), (len(steps), operation, changed, seen)

    published = publish_table(frame(new, "v int, reading_date date"), SteppedStorage(Storage(), read), url, "parquet", **RANGED)
    assert {"move", "write_if"} <= set(steps)
    assert (published.rows_before, published.rows_after) == (3, 4)


def test_two_runs_of_the_same_dates_at_once_publish_one_runs_rows(small_shuffles, tmp_path):
    """The second run stages while the first is paused at each step of its publish, then publishes
    without waiting: it fails naming the first run, or publishes and the first replaces it after."""
    url = (tmp_path / "table").as_uri() + "/"
    frame = small_shuffles.createDataFrame
    publish_table(frame([(0, DAY1)], "v int, reading_date date"), Storage(), url, "parquet", **RANGED)
    first_rows, second_rows = [(1, DAY1), (2, DAY2)], [(3, DAY1), (4, DAY2)]
    outcomes = []
    pause_at = 1
    while True:
        paused, resume, changes = threading.Event(), threading.Event(), []
        failure: list[BaseException] = []

        def pause(operation: str, changed: str, pause_at=pause_at, paused=paused, resume=resume, changes=changes) -> None:
            changes.append(operation)
            if len(changes) == pause_at:
                paused.set()
                assert resume.wait(60)

        def first(pause=pause, paused=paused, failure=failure) -> None:
            try:
                publish_table(
                    frame(first_rows, "v int, reading_date date"), SteppedStorage(Storage(), pause), url, "parquet", **RANGED
                )
            except BaseException as error:
                failure.append(error)
            finally:
                paused.set()

        thread = threading.Thread(target=first, daemon=True)
        thread.start()
        assert paused.wait(120)
        if not thread.is_alive() or len(changes) < pause_at:
            resume.set()
            thread.join(60)
            break
        with staged(frame(second_rows, "v int, reading_date date"), Storage(), url, "parquet", **RANGED) as second:
            try:
                publishing.publish(second.storage, second.url, second.run_id, second.files, second.scopes, lease=Lease(wait=0))
                outcomes.append("published")
            except ScopeBusy as busy:
                outcomes.append(str(busy))
        resume.set()
        thread.join(120)
        assert not failure, failure
        seen = read_back(url)
        runs = {read_record(Storage(), scope(url, f"reading_date={day}/")).run for day in (DAY1, DAY2, DAY3)}
        assert len(runs) == 1, (pause_at, runs)  # every date committed by one run
        assert seen == (second_rows if runs == {second.run_id} else first_rows), (pause_at, outcomes[-1], seen)
        assert data_files(url) == [f"reading_date={d}/part-00000.snappy.parquet" for d in (DAY1, DAY2)]
        assert open_claims(Storage(), url) == []
        pause_at += 1
    assert "published" in outcomes and any("has been publishing it since" in o for o in outcomes), outcomes


def stedi_lake(tmp_path, monkeypatch, *overrides: str):
    monkeypatch.setenv("JOB_HELPERS_RUNTIME", "local")
    settings = lake_settings(tmp_path / "lake", write_key(tmp_path / "key", "guard-test-key-0123456789"), *overrides)
    landing = {name: settings.datasets[f"stedi.{name}_landing"] for name in ("customer", "accelerometer", "step_trainer")}
    write_stedi_landing(Storage(), landing, customers=200, seed=7)
    return settings


def run_job(settings, key: str, *extra: str) -> None:
    job = settings.job(key)
    load_script(REPO / job.script).main([*job_argv(job), *extra])


def test_cutting_85_percent_of_the_accelerometer_landing_lines_is_refused_with_the_row_delta(
    small_shuffles, tmp_path, monkeypatch
):
    settings = stedi_lake(tmp_path, monkeypatch, "stedi.max_reject_share=0.5")
    run_job(settings, "stedi_customer_trusted")
    run_job(settings, "stedi_accelerometer_trusted")
    table = settings.datasets["stedi.accelerometer_trusted"]
    before = small_shuffles.read.parquet(table).count()
    report = folder_report(settings.job("stedi_accelerometer_trusted"))
    assert report.published[table]["rows_after"] == before > 0
    landing = local_path(settings.datasets["stedi.accelerometer_landing"])
    for path in sorted(landing.glob("*.json")):
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(lines[: len(lines) * 15 // 100]))

    with pytest.raises(SystemExit) as stop:
        run_job(settings, "stedi_accelerometer_trusted")
    assert stop.value.code == 1
    refused = folder_report(settings.job("stedi_accelerometer_trusted"))
    assert refused.status == "FAILED"
    after = refused.written[table]
    assert f"this run would replace {before:,} rows with {after:,} ({after - before:+,}" in refused.message
    assert "--allow-shrink true" in refused.message and "nothing was changed" in refused.message
    assert small_shuffles.read.parquet(table).count() == before

    run_job(settings, "stedi_accelerometer_trusted", "--allow-shrink", "true")
    assert small_shuffles.read.parquet(table).count() == after < before * 0.5
    allowed = folder_report(settings.job("stedi_accelerometer_trusted"))
    assert allowed.published[table]["row_delta"] == after - before


def test_the_row_guard_is_one_config_key_for_every_job(small_shuffles, tmp_path, monkeypatch):
    settings = stedi_lake(tmp_path, monkeypatch, "project.max_row_loss=0.9", "stedi.max_reject_share=0.5")
    assert {job.arguments.get("--max-row-loss") for job in settings.jobs.values() if job.key != "sitewise_repartition"} == {"0.9"}
    run_job(settings, "stedi_customer_trusted")
    table = settings.datasets["stedi.customer_trusted"]
    landing = local_path(settings.datasets["stedi.customer_landing"])
    for path in sorted(landing.glob("*.json")):
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(lines[: len(lines) * 30 // 100]))
    run_job(settings, "stedi_customer_trusted")  # loses about 70 %: under 0.9
    assert folder_report(settings.job("stedi_customer_trusted")).published[table]["row_delta"] < 0


def test_a_rerun_without_rejects_writes_none_and_leaves_none_of_the_last_run(small_shuffles, tmp_path, monkeypatch):
    settings = stedi_lake(tmp_path, monkeypatch)
    run_job(settings, "stedi_customer_trusted")
    run_job(settings, "stedi_accelerometer_trusted")
    job = settings.job("stedi_accelerometer_trusted")
    rejects = job.arguments["--rejects"]
    assert data_files(rejects) == ["all/part-00000.json"]
    landing = local_path(settings.datasets["stedi.accelerometer_landing"])
    for path in sorted(landing.glob("*.json")):
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(line for line in lines if _a_reading(line)))

    since = last_action(small_shuffles)
    run_job(settings, "stedi_accelerometer_trusted")
    assert spark_actions(small_shuffles, since) == ["save"]  # the table's write only: no rejects written, no count
    assert data_files(rejects) == []
    record = read_record(Storage(), scope(rejects, "all/"))
    assert (record.state, record.files) == ("committed", {})
    report = folder_report(job)
    assert report.records_rejected == 0 and report.published[rejects]["rows_after"] == 0
    assert report.records_read == report.records_written + report.excluded > 0


def _a_reading(line: str) -> bool:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return False
    return record.get("user") is not None and record.get("timestamp") is not None


def test_counts_that_do_not_reconcile_fail_the_run_before_anything_is_published(small_shuffles, tmp_path, monkeypatch):
    settings = stedi_lake(tmp_path, monkeypatch)
    run_job(settings, "stedi_customer_trusted")
    table = settings.datasets["stedi.customer_trusted"]
    before = data_files(table), rows(small_shuffles, table)
    job = settings.job("stedi_customer_trusted")
    script = load_script(REPO / job.script)
    # A rule that drops a customer without counting it: the rows written no longer add up.
    losing = script.transform.customer_trusted
    monkeypatch.setattr(script.transform, "customer_trusted", lambda records: losing(records).limit(5))
    with pytest.raises(SystemExit) as stop:
        script.main(job_argv(job))
    assert stop.value.code == 1
    report = folder_report(job)
    assert report.status == "FAILED" and f"{table}: counts do not add up" in report.message
    assert "row(s) unexplained; nothing was published" in report.message
    assert (data_files(table), rows(small_shuffles, table)) == before
    assert not list(local_path(table).joinpath("_commits").glob("_open/*"))
