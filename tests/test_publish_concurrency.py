"""Runs of the same table publishing at once, interleaved at every step of the protocol (threads
paused by hooks on Storage, never sleeps), on file:// and moto's S3: exactly one run's files end up
published, never both."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from job_helpers.commit_record import COMMITTED, read_record, scope
from job_helpers.publish import ClaimLost, Lease, Published, ScopeBusy, new_run_id, open_claims, publish
from job_helpers.storage import Storage
from tests.support.publish_steps import SteppedStorage
from tests.test_publish import OWNED, SCOPE, new_files, published, stage, write_old

WAIT_S = 60
NO_WAIT = Lease(seconds=300, wait=0)


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path):
    if request.param == "local":
        return Storage(), tmp_path.as_uri() + "/table/"
    return request.getfixturevalue("s3_storage"), "s3://lake/table/"


class PausedPublish:
    """A publish in a thread that stops before its ``pause_at``-th change until ``finish`` is called.

    ``reached`` tells whether it got there (a publish with fewer changes just ends).
    """

    def __init__(self, storage: Storage, table: str, scopes: list[str], pause_at: int, **options) -> None:
        self.run = new_run_id(SCOPE)
        self.files = (
            new_files(self.run)
            if scopes == OWNED
            else {p: t for p, t in new_files(self.run).items() if p.startswith(tuple(scopes))}
        )
        staged = stage(storage, table, self.run, self.files)
        self.changes, self.stopped, self.resume = 0, threading.Event(), threading.Event()
        self.step: tuple[str, str] | None = None
        self.result: Published | None = None
        self.error: BaseException | None = None

        def pause(operation: str, url: str) -> None:
            self.changes += 1
            if self.changes == pause_at:
                self.step = (operation, url)
                self.stopped.set()
                assert self.resume.wait(WAIT_S), "never resumed"

        def run() -> None:
            try:
                self.result = publish(SteppedStorage(storage, pause), table, self.run, staged, scopes, **options)
            except BaseException as error:  # the test inspects it
                self.error = error
            finally:
                self.stopped.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert self.stopped.wait(WAIT_S)

    @property
    def reached(self) -> bool:
        return self.step is not None

    def finish(self) -> None:
        self.resume.set()
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive()


class Waiting:
    """A publish in a thread; ``waiting`` is set once it has read a record twice (it waits for a claim)."""

    def __init__(self, storage: Storage, table: str, scopes: list[str] = OWNED, **options) -> None:
        self.run = new_run_id(SCOPE)
        self.files = new_files(self.run)
        staged = stage(storage, table, self.run, self.files)
        self.waiting = threading.Event()
        self.result: Published | None = None
        self.error: BaseException | None = None
        reads: dict[str, int] = {}
        waiting = self.waiting

        class Reading(SteppedStorage):
            def read_versioned(self, url: str):
                reads[url] = reads.get(url, 0) + 1
                if reads[url] >= 2:
                    waiting.set()
                return self.inner.read_versioned(url)

        def run() -> None:
            try:
                self.result = publish(Reading(storage, lambda *_: None), table, self.run, staged, scopes, **options)
            except BaseException as error:  # the test inspects it
                self.error = error
            finally:
                waiting.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self) -> None:
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive()


def assert_one_run_published(storage: Storage, table: str, runs: dict[str, dict[str, str]]) -> str:
    """The table holds exactly one run's files (with what nobody owned), committed by that run; returns it."""
    seen = published(storage, table)
    winners = [run for run, files in runs.items() if seen == {**files, "dt=9/part-00000.json": "not owned\n"}]
    assert len(winners) == 1, seen
    for prefix in OWNED:
        record = read_record(storage, scope(table, prefix))
        assert record.state == COMMITTED and record.run == winners[0], (prefix, record)
        assert set(record.files) == {p for p in runs[winners[0]] if p.startswith(prefix)}
    assert open_claims(storage, table) == []
    return winners[0]


def reset(storage: Storage, table: str) -> None:
    for stored in list(storage.list(table)):
        storage.delete(stored.url)
    write_old(storage, table)


def interleave(storage: Storage, table: str, second: Callable[[PausedPublish], tuple[str, dict[str, str]]]) -> int:
    """Pause a first run before each of its changes in turn and run ``second`` there; returns the steps covered."""
    pause_at = 1
    while True:
        reset(storage, table)
        first = PausedPublish(storage, table, OWNED, pause_at)
        if not first.reached:
            first.finish()
            return pause_at - 1
        other, files = second(first)
        first.finish()
        if first.error is not None:
            raise first.error
        assert_one_run_published(storage, table, {first.run: first.files, other: files})
        pause_at += 1


def test_two_runs_of_the_same_partitions_at_every_step_publish_one_runs_files_or_the_second_fails_naming_the_first(lake):
    storage, table = lake
    outcomes = []

    def second(first: PausedPublish) -> tuple[str, dict[str, str]]:
        run = new_run_id(SCOPE)
        files = new_files(run)
        try:
            publish(storage, table, run, stage(storage, table, run, files), OWNED, lease=NO_WAIT)
            outcomes.append("published")
        except ScopeBusy as busy:
            assert f"run {first.run} " in str(busy), (first.step, busy)
            outcomes.append(str(busy))
        return run, files

    steps = interleave(storage, table, second)
    assert steps >= 10
    assert "published" in outcomes, "before the first claim, the second run publishes and the first replaces it after"
    busy = [o for o in outcomes if o != "published"]
    assert busy and all("has been publishing it since" in o and "this run published nothing" in o for o in busy)


def test_a_run_that_finds_the_partitions_claimed_waits_and_publishes_after_the_first(lake):
    storage, table = lake
    for pause_at in (2, 5, 8):  # while claiming, while moving, while committing
        reset(storage, table)
        first = PausedPublish(storage, table, OWNED, pause_at)
        assert first.reached
        second = Waiting(storage, table)
        assert second.waiting.wait(WAIT_S)
        first.finish()
        second.join()
        assert first.error is None and second.error is None, (first.error, second.error)
        winner = assert_one_run_published(storage, table, {first.run: first.files, second.run: second.files})
        assert winner == second.run, pause_at
        assert second.result is not None and second.result.rows_before == 4, "the second compared with the first's rows"


def test_three_runs_at_once_leave_one_runs_files(lake):
    storage, table = lake
    reset(storage, table)
    first = PausedPublish(storage, table, OWNED, 6)
    second, third = Waiting(storage, table), Waiting(storage, table)
    assert second.waiting.wait(WAIT_S) and third.waiting.wait(WAIT_S)
    first.finish()
    second.join()
    third.join()
    assert (first.error, second.error, third.error) == (None, None, None)
    runs = {first.run: first.files, second.run: second.files, third.run: third.files}
    assert assert_one_run_published(storage, table, runs) in (second.run, third.run), "the paused run went first"


def test_a_whole_table_run_and_a_range_run_are_serialised_and_disjoint_scopes_are_not(lake):
    storage, table = lake
    reset(storage, table)
    whole = PausedPublish(storage, table, [*OWNED, "dt=9/"], 5)  # holds every partition's claim
    assert whole.reached and whole.step and whole.step[0] == "write"
    with pytest.raises(ScopeBusy, match=whole.run):
        run = new_run_id(SCOPE)
        publish(storage, table, run, stage(storage, table, run, {"dt=2/part-00000.json": "range\n"}), ["dt=2/"], lease=NO_WAIT)
    whole.finish()
    assert whole.error is None
    assert published(storage, table) == whole.files

    range_run = PausedPublish(storage, table, ["dt=1/", "dt=2/"], 3)
    assert range_run.reached
    other = new_run_id("2024-03-09_2024-03-09")
    elsewhere = publish(
        storage, table, other, stage(storage, table, other, {"dt=9/part-00000.json": "nine\n"}), ["dt=9/"], lease=NO_WAIT
    )
    assert elsewhere.scopes == 1, "a run of another partition does not wait for the range run"
    range_run.finish()
    assert range_run.error is None
    assert published(storage, table) == {**whole.files, **range_run.files, "dt=9/part-00000.json": "nine\n"}


def test_a_run_whose_claim_goes_stale_is_taken_over_and_stops_before_moving_anything(lake):
    storage, table = lake
    reset(storage, table)
    # A lease of no time at all: the first run renews it before every change, and is stale at once.
    stalled = PausedPublish(storage, table, OWNED, 5, lease=Lease(seconds=0, wait=0))
    assert stalled.reached and stalled.step and stalled.step[0] == "write_if", stalled.step  # its first renewal
    taker = new_run_id(SCOPE)
    result = publish(storage, table, taker, stage(storage, table, taker, new_files(taker)), OWNED, lease=NO_WAIT)
    assert set(result.repaired) == set(OWNED)
    stalled.finish()
    assert isinstance(stalled.error, ClaimLost) and taker in str(stalled.error)
    assert assert_one_run_published(storage, table, {stalled.run: stalled.files, taker: new_files(taker)}) == taker
    assert not any(o.url.rsplit("/_staging/", 1)[-1].startswith(stalled.run) for o in storage.list(table + "_staging/"))
