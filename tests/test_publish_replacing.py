"""publish.py replacing named files of a scope (mode ADD, ``replacing``), on file:// and moto's S3: the
entry as read is replaced in one claim and one commit, the file moved over the old one; a reader sees
the old or the new file at every step, never neither nor both; another run's replacement or addition
first, a run killed at any step, and the next run's takeover each leave every file committed once."""

from __future__ import annotations

import time

import pytest

from job_helpers.commit_record import COMMITTED, PUBLISHING, FileEntry, read_record, scope
from job_helpers.publish import ADD, Lease, PublishError, ScopeBusy, Superseded, new_run_id, open_claims, publish
from job_helpers.storage import Storage
from tests.support.publish_steps import DyingStorage, Killed, SteppedStorage
from tests.test_publish import after_the_lease, contents, published, stage

DAY = "dt=1/"
OLD = {"dt=1/a.json": "old a 1\nold a 2\n", "dt=1/b.json": "old b\n"}
NO_WAIT = Lease(seconds=300, wait=0)


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path):
    if request.param == "local":
        return Storage(), tmp_path.as_uri() + "/table/"
    return request.getfixturevalue("s3_storage"), "s3://lake/table/"


def reset(storage: Storage, table: str) -> dict[str, FileEntry]:
    """A scope holding OLD, added by one run; returns its record's entries as a run reads them."""
    for stored in list(storage.list(table)):
        storage.delete(stored.url)
    run = new_run_id("old")
    publish(storage, table, run, stage(storage, table, run, OLD), [DAY], mode=ADD)
    return dict(read_record(storage, scope(table, DAY)).files)


def replace_a(storage: Storage, table: str, read: dict[str, FileEntry], text: str, **options) -> str:
    """A run rebuilding a.json under its name, replacing the entry it read; returns the run id."""
    run = new_run_id(DAY)
    staged = stage(storage, table, run, {"dt=1/a.json": text})
    publish(storage, table, run, staged, [DAY], mode=ADD, replacing={"dt=1/a.json": read["dt=1/a.json"]}, **options)
    return run


def add_c(storage: Storage, table: str, **options) -> str:
    run = new_run_id(DAY)
    publish(storage, table, run, stage(storage, table, run, {"dt=1/c.json": "c\n"}), [DAY], mode=ADD, **options)
    return run


def assert_committed_once(storage: Storage, table: str, expected: dict[str, str]) -> None:
    """The scope's files are ``expected``, its record committed, naming each once with its bytes and rows."""
    assert published(storage, table) == expected
    record = read_record(storage, scope(table, DAY))
    assert record.state == COMMITTED and record.staged == {}
    assert {path: (entry.bytes, entry.rows) for path, entry in record.files.items()} == {
        path: (len(text.encode()), text.count("\n")) for path, text in expected.items()
    }
    assert open_claims(storage, table) == []


def test_a_named_file_is_replaced_in_place_and_a_reader_sees_it_old_or_new_at_every_step(lake):
    storage, table = lake
    read = reset(storage, table)
    new = {**OLD, "dt=1/a.json": "new a\n"}
    steps: list[str] = []

    def read_the_table(operation: str, url: str) -> None:
        steps.append(operation)
        seen = published(storage, table)
        assert seen in (OLD, new), (len(steps), operation, url, seen)
        record = read_record(storage, scope(table, DAY))
        committed = record.previous if record.state == PUBLISHING else record.files
        assert set(committed) == set(OLD), "the record names each file once, old or new"

    replace_a(SteppedStorage(storage, read_the_table), table, read, "new a\n")
    read_the_table("done", "")
    assert_committed_once(storage, table, new)
    assert read_record(storage, scope(table, DAY)).files["dt=1/b.json"] == read["dt=1/b.json"], "b kept as it was"
    assert steps.count("write_if") == 2 and steps.count("move") == 1, "one claim, one move over the old file, one commit"
    assert not any(path.startswith("_staging/") for path in contents(storage, table))


def test_a_replaced_file_whose_name_the_run_does_not_bring_is_deleted_and_the_rest_kept(lake):
    storage, table = lake
    read = reset(storage, table)
    run = new_run_id(DAY)
    staged = stage(storage, table, run, {"dt=1/a2.json": "a, renamed\n"})

    publish(storage, table, run, staged, [DAY], mode=ADD, replacing={"dt=1/a.json": read["dt=1/a.json"]})

    assert_committed_once(storage, table, {"dt=1/a2.json": "a, renamed\n", "dt=1/b.json": "old b\n"})


def test_a_file_another_run_replaced_or_removed_first_is_superseded_and_nothing_changes(lake):
    storage, table = lake
    read = reset(storage, table)
    replace_a(storage, table, read, "first rebuild\n")
    first = contents(storage, table)

    with pytest.raises(Superseded, match=r"table/dt=1/a\.json: no longer in its scope's record as this run read it"):
        replace_a(storage, table, read, "second rebuild\n")

    assert {p: t for p, t in contents(storage, table).items() if not p.startswith("_staging/")} == {
        p: t for p, t in first.items() if not p.startswith("_staging/")
    }
    never_held = new_run_id(DAY)
    staged = stage(storage, table, never_held, {"dt=1/x.json": "x\n"})
    with pytest.raises(Superseded, match=r"table/dt=1/x\.json: no longer in its scope's record"):
        publish(storage, table, never_held, staged, [DAY], mode=ADD, replacing={"dt=1/x.json": FileEntry(2, 1)})
    assert published(storage, table) == {**OLD, "dt=1/a.json": "first rebuild\n"}


def test_replacing_is_refused_outside_add_mode_or_outside_the_scopes(lake):
    storage, table = lake
    read = reset(storage, table)
    run = new_run_id(DAY)
    staged = stage(storage, table, run, {"dt=1/a.json": "new a\n"})
    with pytest.raises(PublishError, match="replaced by name only when adding"):
        publish(storage, table, run, staged, [DAY], replacing={"dt=1/a.json": read["dt=1/a.json"]})
    with pytest.raises(PublishError, match=r"file\(s\) to replace outside the partitions the run owns, e.g. dt=2/a.json"):
        publish(storage, table, run, staged, [DAY], mode=ADD, replacing={"dt=2/a.json": read["dt=1/a.json"]})
    assert_committed_once(storage, table, OLD)


@pytest.mark.parametrize("other", ["adds", "replaces"])
def test_another_run_at_every_step_of_a_replacement_adds_beside_it_or_replaces_once(lake, other):
    """Another run adds c.json, or rebuilds a.json from the entry both read, before each change of the
    first: it waits for nothing (it fails busy while the first holds the claim, then runs again)."""
    storage, table = lake
    pause_at = 1
    outcomes = set()
    while True:
        read = reset(storage, table)
        changes: list[str] = []
        winner: list[str] = []

        def other_run(
            operation: str,
            url: str,
            pause_at: int = pause_at,
            changes: list[str] = changes,
            read: dict[str, FileEntry] = read,
            winner: list[str] = winner,
        ) -> None:
            changes.append(operation)
            if len(changes) != pause_at:
                return
            try:
                if other == "adds":
                    add_c(storage, table, lease=NO_WAIT)
                else:
                    replace_a(storage, table, read, "other rebuild\n", lease=NO_WAIT)
                    winner.append("other")
                outcomes.add("published")
            except ScopeBusy:
                outcomes.add("busy")
            except Superseded:  # the first run's replacement came first
                outcomes.add("superseded")

        try:
            replace_a(SteppedStorage(storage, other_run), table, read, "first rebuild\n")
            winner.append("first")
        except Superseded:
            outcomes.add("first superseded")
        if len(changes) < pause_at:
            break
        if other == "adds":
            if not storage.exists(table + "dt=1/c.json"):
                add_c(storage, table)  # the run that found the day busy, run again
            assert_committed_once(storage, table, {**OLD, "dt=1/a.json": "first rebuild\n", "dt=1/c.json": "c\n"})
        else:
            if not winner:
                replace_a(storage, table, read, "other rebuild\n")
                winner.append("other")
            with pytest.raises(Superseded):
                replace_a(storage, table, read, "a third rebuild from the same read\n")
            assert len(winner) == 1, (pause_at, winner)
            assert_committed_once(storage, table, {**OLD, "dt=1/a.json": f"{winner[0]} rebuild\n"})
        pause_at += 1
    assert pause_at > 4
    expected = {"published", "busy"} | ({"first superseded"} if other == "replaces" else set())
    assert expected <= outcomes, outcomes


@pytest.mark.parametrize("rerun", ["adds", "replaces"])
def test_a_replacement_killed_at_any_step_is_finished_by_the_next_run_of_the_scope(lake, rerun):
    """The next run takes the claim over and finishes the killed run's publish (moves its staged
    file over the old one if that was not done, and commits it), then adds its own file; one that
    replaces from the same read is then superseded, and nothing is doubled or lost."""
    storage, table = lake
    budget = 0
    outcomes = set()
    while True:
        read = reset(storage, table)
        killed = new_run_id(DAY)
        staged = stage(storage, table, killed, {"dt=1/a.json": "killed rebuild\n"})
        try:
            publish(
                DyingStorage(storage, budget),
                table,
                killed,
                staged,
                [DAY],
                mode=ADD,
                replacing={"dt=1/a.json": read["dt=1/a.json"]},
            )
        except Killed:
            pass
        else:
            break
        seen = published(storage, table)
        assert seen in (OLD, {**OLD, "dt=1/a.json": "killed rebuild\n"}), budget
        claimed = read_record(storage, scope(table, DAY)).state == PUBLISHING
        outcomes.add((claimed, seen == OLD))

        killed_wins = claimed or seen != OLD  # claimed (the next run finishes it) or committed already
        if rerun == "adds":
            run = new_run_id(DAY)
            result = publish(
                storage, table, run, stage(storage, table, run, {"dt=1/c.json": "c\n"}), [DAY], mode=ADD, clock=after_the_lease
            )
            a = "killed rebuild\n" if killed_wins else OLD["dt=1/a.json"]
            assert_committed_once(storage, table, {**OLD, "dt=1/a.json": a, "dt=1/c.json": "c\n"})
            assert result.repaired == ((DAY,) if claimed else ())
        elif killed_wins:
            with pytest.raises(Superseded):
                replace_a(storage, table, read, "rerun rebuild\n", clock=after_the_lease)
            assert_committed_once(storage, table, {**OLD, "dt=1/a.json": "killed rebuild\n"})
        else:
            replace_a(storage, table, read, "rerun rebuild\n")
            assert_committed_once(storage, table, {**OLD, "dt=1/a.json": "rerun rebuild\n"})
        if claimed:  # its staged file was moved in, by it or by the next run
            assert not any(path.startswith(f"_staging/{killed}/") for path in contents(storage, table)), budget
        budget += 1
    assert {(True, True), (True, False)} <= outcomes, "killed after its claim, before and after its move"
    assert budget >= 4


def test_a_takeover_finishes_a_move_whose_copy_landed_but_whose_staged_copy_was_not_removed(lake):
    """On S3 a move is a copy and a delete: a run killed between them leaves the new file in place
    and its staged copy; the taker moves that copy again and commits the new entry."""
    storage, table = lake
    read = reset(storage, table)
    killed = new_run_id(DAY)
    staged = stage(storage, table, killed, {"dt=1/a.json": "killed rebuild\n"})

    class CopiesThenDies(SteppedStorage):
        def move(self, source: str, target: str) -> None:
            self.inner.write_bytes(target, self.inner.read_bytes(source))
            raise Killed(f"killed after copying {source} to {target}")

    with pytest.raises(Killed):
        publish(
            CopiesThenDies(storage, lambda *_: None),
            table,
            killed,
            staged,
            [DAY],
            mode=ADD,
            replacing={"dt=1/a.json": read["dt=1/a.json"]},
        )
    assert storage.exists(f"{table}_staging/{killed}/dt=1/a.json")

    add_c(storage, table, clock=lambda: time.time() + 3600)

    assert_committed_once(storage, table, {**OLD, "dt=1/a.json": "killed rebuild\n", "dt=1/c.json": "c\n"})
    assert not storage.exists(f"{table}_staging/{killed}/dt=1/a.json")
