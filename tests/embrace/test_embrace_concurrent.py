"""Two runs at once over the same device-days, and a run that stopped part way, leave each reading once.

A run reads the published day, merges its exports' rows in and writes the day back. Each test
holds one run at a chosen step (a hook around its driver's Storage, released by an event, no
sleeps) while another run goes all the way, then lets the first one finish, and checks every table
against the oracle applied to all the archives together. On moto's S3 the tasks run in the
driver's process (``stream_tasks.units`` handed to ``process``): Spark's workers would not reach moto.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from embrace_helpers import assert_follows_the_rules, chunk_params, run_chunk, tables

from job_helpers.commit_record import COMMITS
from job_helpers.embrace import run, stream_tasks
from job_helpers.embrace.outputs import OUTPUTS
from job_helpers.embrace.parameters import Parameters
from job_helpers.embrace.sample_data import write_embrace_sample
from job_helpers.publish import PublishError
from job_helpers.storage import Storage
from tests.support.publish_steps import SteppedStorage

FC = ("fc096", "fc157")
MARCH = (date(2024, 3, 1), date(2024, 3, 31))
WAIT_S = 900  # a guard against a hook never reached, not a timing


class PausingStorage(SteppedStorage):
    """A Storage that stops, once, at the first operation ``where`` picks, until ``go`` is set; it also sees reads."""

    def __init__(self, inner: Storage, where: Callable[[str, str], bool]) -> None:
        super().__init__(inner, self._pause)
        self.where, self.reached, self.go = where, threading.Event(), threading.Event()

    def _pause(self, operation: str, url: str) -> None:
        if not self.reached.is_set() and self.where(operation, url):
            self.reached.set()
            assert self.go.wait(WAIT_S), "the other run never let this one go on"

    def read_versioned(self, url: str):
        self._pause("read", url)
        return self.inner.read_versioned(url)


def at(operation: str, table: str) -> Callable[[str, str], bool]:
    """The first ``operation`` on a commit record of ``table`` (not an open-claims marker)."""
    return lambda op, url: op == operation and f"/{table}/{COMMITS}/" in url and f"/{COMMITS}/_open/" not in url


def held_then_finished(first: Callable[[], run.ChunkResult], pausing: PausingStorage, second: Callable[[], run.ChunkResult]):
    """Start ``first`` in a thread, run ``second`` while it is held, then let ``first`` finish; both results."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["result"] = first()
        except BaseException as error:  # re-raised in the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    assert pausing.reached.wait(WAIT_S), "the held run never reached its step"
    try:
        other = second()
    finally:
        pausing.go.set()
        thread.join(WAIT_S)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"], other


def landings(tmp_path: Path, second: dict) -> tuple[Path, Path, list[Path]]:
    """An ALLSITES export in one landing, ``second`` (a site's export of the same days) in another; the archives."""
    first_landing, second_landing = tmp_path / "landing-a", tmp_path / "landing-b"
    defaults = {"start": date(2024, 3, 1), "days": 2, "seconds_per_day": 20}
    write_embrace_sample(Storage(), first_landing.as_uri() + "/", **defaults)
    write_embrace_sample(Storage(), second_landing.as_uri() + "/", **{**defaults, **second})
    return first_landing, second_landing, [*first_landing.glob("*.zip"), *second_landing.glob("*.zip")]


@pytest.mark.parametrize("step", ["read", "write_if"], ids=["before-it-checks-the-days", "as-it-claims-the-first-day"])
def test_two_runs_recomputing_the_same_device_days_at_once_keep_each_others_rows(tasks, small_spark, tmp_path, step):
    """The site export's run reads the days before the ALLSITES run publishes them; it must not write its
    days back over them: it recomputes them against what is published, and each reading is published once."""
    allsites, site, archives = landings(tmp_path, {"site": "FC", "participants": FC})
    lake = tmp_path / "lake"
    pausing = PausingStorage(Storage(), at(step, "clean"))
    held, first = held_then_finished(
        lambda: run_chunk(tasks, pausing, chunk_params(site, lake, *MARCH)),
        pausing,
        lambda: run_chunk(tasks, Storage(), chunk_params(allsites, lake, *MARCH)),
    )
    assert first.recomputed == 0 and held.recomputed == 1
    log = assert_follows_the_rules(small_spark, lake, archives)
    overlap = sum(counts[-1] for counts in log.values())
    assert overlap > 0 and held.duplicates.overlap == overlap
    assert held.read["published"] > 0 and held.details()["recomputed"] == 1
    assert not list((lake / "clean" / "_staging").glob("*")), "a run left staged files"


def test_runs_of_other_devices_of_the_same_days_keep_each_others_files_without_recomputing(tasks, small_spark, tmp_path):
    """A site's export and another site's share the day folders and month partitions: the claims of the held run
    keep the other's files, and its month partitions are built again from what the other published meanwhile."""
    fc, mgh = tmp_path / "fc", tmp_path / "mgh"
    days = {"start": date(2024, 3, 1), "days": 2, "seconds_per_day": 20}
    write_embrace_sample(Storage(), fc.as_uri() + "/", site="FC", participants=FC, **days)
    write_embrace_sample(Storage(), mgh.as_uri() + "/", site="MGH", participants=("mgh096",), **days)
    lake = tmp_path / "lake"
    pausing = PausingStorage(Storage(), at("write_if", "duplicate_log"))
    held, first = held_then_finished(
        lambda: run_chunk(tasks, pausing, chunk_params(mgh, lake, *MARCH)),
        pausing,
        lambda: run_chunk(tasks, Storage(), chunk_params(fc, lake, *MARCH)),
    )
    assert first.recomputed == held.recomputed == 0
    assert_follows_the_rules(small_spark, lake, [*fc.glob("*.zip"), *mgh.glob("*.zip")])
    devices = small_spark.read.parquet(str(lake / "devices")).select("ppt_id").distinct().collect()
    assert {row["ppt_id"] for row in devices} == {*FC, "mgh096"}


def test_a_run_that_recomputed_a_device_day_later_keeps_its_derived_rows(tasks, small_spark, tmp_path):
    """The ALLSITES run has published its clean files when the site export's run recomputes the same device-days
    over them; the batch-load files, duplicate log and wear time the first run publishes afterwards must not
    bring back its older rows of those device-days."""
    allsites, site, archives = landings(tmp_path, {"site": "FC", "participants": FC})
    lake = tmp_path / "lake"
    pausing = PausingStorage(Storage(), at("write_if", "timestream_ready"))
    held, later = held_then_finished(
        lambda: run_chunk(tasks, pausing, chunk_params(allsites, lake, *MARCH)),
        pausing,
        lambda: run_chunk(tasks, Storage(), chunk_params(site, lake, *MARCH)),
    )
    assert held.recomputed == later.recomputed == 0 and later.read["published"] > 0
    assert_follows_the_rules(small_spark, lake, archives)
    exports = {tuple(row["exports"]) for row in small_spark.read.parquet(str(lake / "duplicate_log")).collect()}
    assert exports == {tuple(sorted(path.stem for path in archives)), (next(allsites.glob("*.zip")).stem,)}


def test_a_run_that_cannot_catch_up_fails_naming_the_other_run_and_publishes_nothing(tasks, small_spark, tmp_path, monkeypatch):
    allsites, site, _ = landings(tmp_path, {"site": "FC", "participants": FC})
    lake, alone = tmp_path / "lake", tmp_path / "alone"
    monkeypatch.setattr(run, "ROUNDS", 0)
    pausing = PausingStorage(Storage(), at("write_if", "clean"))
    with pytest.raises(PublishError) as failed:
        held_then_finished(
            lambda: run_chunk(tasks, pausing, chunk_params(site, lake, *MARCH)),
            pausing,
            lambda: run_chunk(tasks, Storage(), chunk_params(allsites, lake, *MARCH)),
        )
    record = json.loads(next((lake / "clean" / COMMITS).glob("stream=*/date=*.json")).read_text())
    assert f"changed by run {record['run']} (" in str(failed.value) and "nothing was published" in str(failed.value)
    run_chunk(tasks, Storage(), chunk_params(allsites, alone, *MARCH))
    assert tables(small_spark, lake) == tables(small_spark, alone), "the failed run changed a table"


def test_a_run_that_failed_while_moving_its_files_is_repaired_by_the_next_run_of_the_same_days(tasks, small_spark, tmp_path):
    """The ALLSITES run fails after moving its held files and before any clean file: every device-day is half
    replaced. Its staged files stay; the site export's run reads the ALLSITES run's version of those days, takes
    every claim it left over, and the tables are those of both archives."""
    allsites, site, archives = landings(tmp_path, {"site": "FC", "participants": FC})
    lake = tmp_path / "lake"

    def fail_at_the_first_clean_file(operation: str, url: str) -> None:
        if operation == "move" and "/clean/stream=" in url:
            raise OSError(f"connection reset while moving {url}")

    with pytest.raises(OSError, match="connection reset"):
        run_chunk(tasks, SteppedStorage(Storage(), fail_at_the_first_clean_file), chunk_params(allsites, lake, *MARCH))
    assert list((lake / "clean" / "_staging").glob("*/stream=*")), "the failed run's staged clean files are kept"
    assert list((lake / "clean" / "_held").rglob("*.parquet")) and not list((lake / "clean").glob("stream=*/date=*/*"))
    repaired = run_chunk(tasks, Storage(), chunk_params(site, lake, *MARCH))
    assert repaired.recomputed == 1, "the device-days of the failed run the site export does not hold are recomputed too"
    assert_follows_the_rules(small_spark, lake, archives)
    assert not list((lake / "clean" / "_staging").glob("*")) and not list((lake / "clean" / COMMITS / "_open").glob("*"))


def test_a_rerun_after_a_failure_while_moving_gives_the_tables_of_one_clean_run(tasks, small_spark, tmp_path):
    allsites, _, _ = landings(tmp_path, {"site": "FC", "participants": FC})
    lake, once = tmp_path / "lake", tmp_path / "once"
    moves = []

    def fail_half_way(operation: str, url: str) -> None:
        if operation == "move" and "/clean/" in url:
            moves.append(url)
            if len(moves) == 5:
                raise OSError(f"connection reset while moving {url}")

    with pytest.raises(OSError):
        run_chunk(tasks, SteppedStorage(Storage(), fail_half_way), chunk_params(allsites, lake, *MARCH))
    run_chunk(tasks, Storage(), chunk_params(allsites, lake, *MARCH))
    run_chunk(tasks, Storage(), chunk_params(allsites, once, *MARCH))
    assert tables(small_spark, lake) == tables(small_spark, once)


def test_two_runs_at_once_on_s3_keep_each_others_rows(small_spark, s3_storage, tmp_path, monkeypatch):
    """The first test's interleaving on moto's S3: conditional writes by ETag, records and files read back by ranged GETs."""

    def in_process(tasks, streams, metadata, targets):
        return [stream_tasks.process(unit, targets, s3_storage) for unit in stream_tasks.units(streams, metadata)]

    monkeypatch.setattr(run, "clean_in_tasks", in_process)
    _, _, archives = landings(tmp_path, {"site": "FC", "participants": FC})
    allsites, site = (f"s3://lake/landing-{name}/" for name in ("a", "b"))
    for archive in archives:
        s3_storage.upload(archive, f"s3://lake/{archive.parent.name}/{archive.name}")
    outputs = {name: f"s3://lake/lake/{name}/" for name in OUTPUTS}

    def params(landing: str) -> Parameters:
        return Parameters(first=MARCH[0], last=MARCH[1], landing=landing, outputs=outputs)

    pausing = PausingStorage(s3_storage, at("write_if", "clean"))
    held, first = held_then_finished(
        lambda: run_chunk(None, pausing, params(site)), pausing, lambda: run_chunk(None, s3_storage, params(allsites))
    )
    assert first.recomputed == 0 and held.recomputed == 1
    lake = tmp_path / "lake"
    for stored in s3_storage.list("s3://lake/lake/"):
        target = lake / stored.url.removeprefix("s3://lake/lake/")
        target.parent.mkdir(parents=True, exist_ok=True)
        s3_storage.download(stored.url, target)
    assert_follows_the_rules(small_spark, lake, archives)
    assert not list((lake / "clean" / "_staging").glob("*"))
