"""publish.py on file:// and moto's S3: killed at every step, watched by a reader at every step, guarded by rows."""

from __future__ import annotations

import json
import time

import pytest

from job_helpers import publish as publishing
from job_helpers.commit_record import COMMITTED, PUBLISHING, read_record, record_url, scope
from job_helpers.file_rows import json_lines_rows
from job_helpers.publish import (
    Lease,
    NewFile,
    PublishError,
    ShrinkGuard,
    ShrinkRefused,
    new_run_id,
    open_claims,
    publish,
    staging_url,
)
from job_helpers.run_report import CountsDoNotReconcile
from job_helpers.storage import Storage
from tests.support.publish_steps import DyingStorage, Killed, SteppedStorage

# One file per scope, as STEDI's partitions and the sensor hours have: dt=1 and dt=2 are replaced,
# dt=3 is emptied, dt=9 is not the run's.
OLD = {
    "dt=1/part-00000.json": "old 1a\nold 1b\n",
    "dt=2/part-00000.json": "old 2\n",
    "dt=3/part-00000.json": "old 3\n",
    "dt=9/part-00000.json": "not owned\n",
}
OWNED = ["dt=1/", "dt=2/", "dt=3/"]
SCOPE = "2024-03-01_2024-03-03"
LATER = Lease(seconds=300, wait=0)


def after_the_lease():
    """A clock past every lease taken now: the rerun of a killed run need not wait for it."""
    return time.time() + 3600


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path):
    if request.param == "local":
        return Storage(), tmp_path.as_uri() + "/table/"
    return request.getfixturevalue("s3_storage"), "s3://lake/table/"


def new_files(run_id: str) -> dict[str, str]:
    """What a run produces: the same names on every run, content naming the run; dt=3 has no rows left."""
    return {"dt=1/part-00000.json": f"{run_id} 1a\n{run_id} 1b\n{run_id} 1c\n", "dt=2/part-00000.json": f"{run_id} 2\n"}


def stage(storage: Storage, table: str, run_id: str, files: dict[str, str]) -> dict[str, NewFile]:
    for path, text in files.items():
        storage.write_text(staging_url(table, run_id) + path, text)
    return {path: NewFile(path, text.count("\n")) for path, text in files.items()}


def contents(storage: Storage, table: str) -> dict[str, str]:
    return {o.url[len(table) :]: storage.read_text(o.url) for o in storage.list(table)}


def published(storage: Storage, table: str) -> dict[str, str]:
    """What a reader of the table sees: every file but those under ``_`` folders (those are not read)."""
    paths = (o.url[len(table) :] for o in storage.list(table))
    return {path: storage.read_text(table + path) for path in paths if not path.startswith("_")}


def write_old(storage: Storage, table: str) -> None:
    """The old table, published through the protocol so its scopes have records."""
    run = new_run_id("old")
    publish(storage, table, run, stage(storage, table, run, OLD), [*OWNED, "dt=9/"])


def assert_old_or_new_per_scope(seen: dict[str, str], new: dict[str, str], where: object) -> None:
    for prefix in OWNED:
        mine = {p: t for p, t in seen.items() if p.startswith(prefix)}
        old = {p: t for p, t in OLD.items() if p.startswith(prefix)}
        fresh = {p: t for p, t in new.items() if p.startswith(prefix)}
        assert mine in (old, fresh), (where, prefix, mine)
    assert seen["dt=9/part-00000.json"] == "not owned\n"


def test_a_reader_sees_each_scope_wholly_old_or_wholly_new_at_every_step(lake):
    storage, table = lake
    write_old(storage, table)
    run = new_run_id(SCOPE)
    files = new_files(run)
    staged = stage(storage, table, run, files)
    steps: list[str] = []

    def read_the_table(operation: str, url: str) -> None:
        steps.append(operation)
        assert_old_or_new_per_scope(published(storage, table), files, (len(steps), operation, url))

    publish(SteppedStorage(storage, read_the_table), table, run, staged, OWNED)
    read_the_table("done", "")
    assert published(storage, table) == {**files, "dt=9/part-00000.json": "not owned\n"}
    assert {"move", "delete", "write_if"} <= set(steps)


def test_a_publish_killed_at_any_step_is_half_replaced_then_repaired_by_the_rerun(lake):
    storage, table = lake
    budget = 0
    while True:
        for path in list(contents(storage, table)):
            storage.delete(table + path)
        write_old(storage, table)
        killed = new_run_id(SCOPE)
        files = new_files(killed)
        staged = stage(storage, table, killed, files)
        dying = DyingStorage(storage, budget)
        try:
            publish(dying, table, killed, staged, OWNED)
        except Killed:
            pass
        else:
            break
        seen = published(storage, table)  # read once: nothing changes the table until the rerun
        assert_old_or_new_per_scope(seen, files, budget)
        records = {prefix: read_record(storage, scope(table, prefix)) for prefix in OWNED}
        half = {prefix for prefix, record in records.items() if record.state == PUBLISHING}
        changed = {
            prefix
            for prefix in OWNED
            if {p for p in seen if p.startswith(prefix)} != {p for p in OLD if p.startswith(prefix)}
            or any(seen.get(p) != OLD[p] for p in OLD if p.startswith(prefix) and p in seen)
        }
        claims = open_claims(storage, table)
        reported = {claim.scope for claim in claims}
        assert changed & half <= reported <= half, (budget, changed, half, reported)  # what status calls half-replaced
        assert all(claim.run == killed for claim in claims)

        rerun = new_run_id(SCOPE)
        result = publish(storage, table, rerun, stage(storage, table, rerun, new_files(rerun)), OWNED, clock=after_the_lease)
        left = contents(storage, table)
        assert {path: text for path, text in left.items() if not path.startswith("_")} == {
            **new_files(rerun),
            "dt=9/part-00000.json": "not owned\n",
        }, budget
        staging = {path for path in left if path.startswith("_staging/")}
        if half:  # a run known dead by its claim loses its staging folder with it
            assert not staging, budget
        else:  # one killed before it claimed anything cannot be told from a run still staging
            assert all(path.startswith(f"_staging/{killed}/") for path in staging), budget
        assert set(result.repaired) == half
        assert open_claims(storage, table) == []
        assert not any(path.startswith("_commits/_open/") for path in left), budget
        budget += 1
    assert budget > 8, "claims, moves, deletes and commits were each killed"


def test_a_run_that_fails_part_way_ends_its_lease_so_the_rerun_repairs_at_once(lake):
    storage, table = lake
    write_old(storage, table)
    run = new_run_id(SCOPE)
    moves = []

    def fail_second_move(operation: str, url: str) -> None:
        if operation == "move":
            moves.append(url)
            if len(moves) == 2:
                raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        publish(SteppedStorage(storage, fail_second_move), table, run, stage(storage, table, run, new_files(run)), OWNED)
    claims = open_claims(storage, table)
    assert claims and all(claim.over(time.time()) for claim in claims), "the failed run ended its lease"
    rerun = new_run_id(SCOPE)
    publish(storage, table, rerun, stage(storage, table, rerun, new_files(rerun)), OWNED, lease=LATER)
    assert published(storage, table) == {**new_files(rerun), "dt=9/part-00000.json": "not owned\n"}


def test_commit_records_hold_the_state_the_run_and_each_files_bytes_and_rows(lake):
    storage, table = lake
    write_old(storage, table)
    publishing.identify("stedi-accelerometer-trusted-x", "jr_123")
    try:
        run = new_run_id(SCOPE)
        result = publish(storage, table, run, stage(storage, table, run, new_files(run)), OWNED)
    finally:
        publishing.identify("", None)
    document = json.loads(storage.read_text(record_url(table, "dt=1/")))
    assert document["state"] == COMMITTED and document["run"] == run
    assert document["who"]["job"] == "stedi-accelerometer-trusted-x" and document["who"]["job_run"] == "jr_123"
    assert document["scope"] == "dt=1/"
    assert document["files"] == {"part-00000.json": {"bytes": len(new_files(run)["dt=1/part-00000.json"]), "rows": 3}}
    assert json.loads(storage.read_text(record_url(table, "dt=3/")))["files"] == {}
    assert (result.rows_before, result.rows_after, result.delta) == (4, 4, 0)
    assert result.summary()["row_delta"] == 0 and "4 → 4 rows (+0" in result.line()


def test_the_shrink_guard_counts_rows_per_run_and_refuses_naming_the_table_and_the_rows(lake):
    storage, table = lake
    write_old(storage, table)
    run = new_run_id(SCOPE)
    staged = stage(storage, table, run, {"dt=1/part-00000.json": "one\n"})
    before = contents(storage, table)
    with pytest.raises(
        ShrinkRefused,
        match=r"table/: this run would replace 4 rows with 1 \(-3, -75.0%\) in 3 scope\(s\) \(dt=1/, dt=2/, dt=3/\).*--allow-shrink true",
    ):
        publish(storage, table, run, staged, OWNED, shrink_guard=ShrinkGuard())
    assert contents(storage, table) == before, "claims released, nothing moved"
    result = publish(storage, table, run, staged, OWNED, shrink_guard=ShrinkGuard(max_loss=0.8))
    assert (result.rows_before, result.rows_after, result.delta) == (4, 1, -3)
    again = new_run_id(SCOPE)
    publish(storage, table, again, stage(storage, table, again, {}), OWNED, shrink_guard=ShrinkGuard(allowed=True))
    assert published(storage, table) == {"dt=9/part-00000.json": "not owned\n"}


def test_a_table_published_before_commit_records_has_its_old_rows_counted_once(lake):
    storage, table = lake
    for path, text in OLD.items():
        storage.write_text(table + path.replace("part-00000", "part-00000-5e1f-c000"), text)
    run = new_run_id(SCOPE)
    staged = stage(storage, table, run, {"dt=1/part-00000.json": "one\n"})
    with pytest.raises(ShrinkRefused, match="4 rows with 1"):
        publish(storage, table, run, staged, OWNED, shrink_guard=ShrinkGuard(), count_rows=json_lines_rows)
    assert read_record(storage, scope(table, "dt=1/")).rows == 2, "the refused run left the counts in records"
    with pytest.raises(ShrinkRefused, match="4 rows with 1"):
        publish(storage, table, run, staged, OWNED, shrink_guard=ShrinkGuard())
    publish(storage, table, run, staged, OWNED, shrink_guard=ShrinkGuard(allowed=True))
    assert set(published(storage, table)) == {"dt=1/part-00000.json", "dt=9/part-00000-5e1f-c000.json"}


def test_a_table_is_there_once_a_run_published_it_not_when_a_run_only_staged_or_claimed(lake):
    storage, table = lake
    storage.write_text(table.rstrip("/") + "x/dt=1/part-00000.json", "a table beside, named alike\n")
    storage.write_text(table + "_SUCCESS", "")
    assert not publishing.has_published(storage, table)
    run = new_run_id(SCOPE)
    staged = stage(storage, table, run, new_files(run))
    storage.write_text(f"{table}_commits/_open/{run}.json", json.dumps({"run": run, "records": []}))
    assert not publishing.has_published(storage, table), "a run's staging and its open-claims marker are no table"
    publish(storage, table, run, staged, OWNED)
    assert publishing.has_published(storage, table)
    emptied, legacy = table.rstrip("/") + "-empty/", table.rstrip("/") + "-legacy/"
    publish(storage, emptied, new_run_id("all"), {}, [""])
    storage.write_text(legacy + "dt=1/part-00000-5e1f-c000.json", "old\n")
    assert publishing.has_published(storage, emptied), "a table published empty is there, empty"
    assert publishing.has_published(storage, legacy), "a table published before commit records is there"


def test_a_table_whose_only_records_were_never_committed_is_not_there(lake):
    """A first run that failed after claiming leaves records, not a table: a released claim (committed,
    no run, no files) or a claim of a run that died publishing; neither was ever committed."""
    storage, table = lake
    run = new_run_id(SCOPE)
    released = record_url(table, "dt=1/")
    storage.write_text(released, json.dumps({"format": 1, "scope": "dt=1/", "state": COMMITTED, "files": {}}))
    storage.write_text(f"{table}_SUCCESS", "")
    storage.write_text(f"{table}dt=1/.part-00000.json.crc", "")
    storage.write_text(f"{table}_temporary/0/part-00000.json", "x\n")
    storage.write_text(table.rstrip("/") + "_old/dt=1/part-00000.json", "a sibling named alike\n")
    assert not publishing.has_published(storage, table), "a released first claim is no table"
    dying = record_url(table, "dt=2/")
    storage.write_text(dying, json.dumps({"format": 1, "scope": "dt=2/", "state": PUBLISHING, "run": run, "files": {}}))
    assert not publishing.has_published(storage, table), "a first run that died publishing published nothing"
    assert not publishing.has_published(storage, table.rstrip("/")), "the same without its trailing slash"
    publish(storage, table, run, stage(storage, table, run, new_files(run)), OWNED)
    assert publishing.has_published(storage, table.rstrip("/"))


def test_a_first_publish_killed_at_any_step_is_no_table_until_a_scope_is_committed(lake):
    """Killed after moving files in but before committing, a first run leaves a partial table: not read as one.
    A table from before commit records stays a table wherever a run replacing it was killed."""
    storage, table = lake
    legacy = table.rstrip("/") + "-legacy/"
    seen, finished = [], set()
    for budget in range(20):
        for name in (table, legacy):
            storage.delete_prefix(name)
        storage.write_text(legacy + "dt=1/part-00000-5e1f-c000.json", "old\n")  # replaced and deleted by the run
        for name in (table, legacy):
            run = new_run_id(SCOPE)
            try:
                publish(DyingStorage(storage, budget), name, run, stage(storage, name, run, new_files(run)), OWNED)
                finished.add(name)
            except Killed:
                committed = any(read_record(storage, scope(name, p)).committed_at for p in OWNED)
                seen.append((name, publishing.has_published(storage, name), committed))
        if finished == {table, legacy}:
            break
    assert all(there == committed for name, there, committed in seen if name == table), seen
    assert {(there, committed) for name, there, committed in seen if name == table} == {(False, False), (True, True)}
    assert all(there for name, there, _ in seen if name == legacy), seen
    assert publishing.has_published(storage, table)


def test_old_rows_that_cannot_be_counted_are_unknown_and_not_guarded(lake):
    storage, table = lake
    for path, text in OLD.items():
        storage.write_text(table + path.replace("part-00000", "part-00000-5e1f-c000"), text)
    run = new_run_id(SCOPE)
    unknown = publish(
        storage, table, run, stage(storage, table, run, {"dt=1/part-00000.json": "one\n"}), OWNED, shrink_guard=ShrinkGuard()
    )
    assert (unknown.rows_before, unknown.rows_after, unknown.delta) == (None, 1, None)
    assert "1 rows (no earlier count)" in unknown.line()
    assert set(published(storage, table)) == {"dt=1/part-00000.json", "dt=9/part-00000-5e1f-c000.json"}


def test_rows_counted_from_the_staged_files_must_match_what_the_run_counted(lake):
    storage, table = lake
    write_old(storage, table)
    run = new_run_id(SCOPE)
    files = {path: NewFile(path) for path in new_files(run)}
    stage(storage, table, run, new_files(run))
    before = contents(storage, table)
    with pytest.raises(CountsDoNotReconcile, match=r"table/: counts do not add up: 5 read but 4 accounted for .*-?1 row"):
        publish(storage, table, run, files, OWNED, count_rows=json_lines_rows, expected_rows=5)
    assert contents(storage, table) == before
    publish(storage, table, run, files, OWNED, count_rows=json_lines_rows, expected_rows=4)


def test_staging_of_live_runs_is_kept_and_of_dead_runs_removed(lake, monkeypatch):
    storage, table = lake
    other = new_run_id(SCOPE)  # same scope, still staging: runs of one scope may overlap
    stage(storage, table, other, {"dt=1/part-00000.json": "running elsewhere\n"})
    run = new_run_id(SCOPE)
    publish(storage, table, run, stage(storage, table, run, new_files(run)), OWNED)
    assert contents(storage, table)[f"_staging/{other}/dt=1/part-00000.json"] == "running elsewhere\n"
    monkeypatch.setattr(publishing, "ABANDONED_AFTER_S", -1)
    again = new_run_id(SCOPE)
    publish(storage, table, again, stage(storage, table, again, new_files(again)), OWNED)
    assert not any(path.startswith("_staging/") for path in contents(storage, table))


def test_a_whole_table_publish_keeps_its_staging_out_and_refuses_files_it_does_not_own(lake):
    storage, table = lake
    storage.write_text(table + "part-old.json", "old\n")
    storage.write_text(table + "_SUCCESS", "")
    run = new_run_id("all")
    publish(storage, table, run, stage(storage, table, run, {"part-00000.json": "new\n"}), [""])
    assert {path: text for path, text in contents(storage, table).items() if not path.startswith("_commits/")} == {
        "part-00000.json": "new\n"
    }
    run = new_run_id("all")
    staged = stage(storage, table, run, {"dt=5/part.json": "x\n"})
    with pytest.raises(PublishError, match="outside the partitions the run owns, e.g. dt=5/part.json"):
        publish(storage, table, run, staged, OWNED)
    with pytest.raises(PublishError, match="staged file missing"):
        publish(storage, table, run, {"dt=1/absent.json": NewFile("dt=1/absent.json")}, OWNED)
    with pytest.raises(PublishError, match="scopes '' and 'dt=1/' overlap"):
        publish(storage, table, run, {}, ["", "dt=1/"])
    assert published(storage, table)["part-00000.json"] == "new\n"
