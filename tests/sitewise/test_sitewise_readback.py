"""Nothing is committed that does not read back, and committed days that do not can be repaired.

On local files and on the moto S3 server: raw blocks whose counts lie fail their day naming the
key; a staged file that does not read back, or whose records do not reconcile with those read,
is never committed; ``--repair-days true`` rebuilds committed files that an earlier version of
the job published unreadable or short, and a rerun of a repaired day changes nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from avro_builders import block, blocks_of, container, with_block_count
from sitewise_helpers import (
    FIRST_DAY,
    LAST_DAY,
    Lake,
    add_late_file,
    before_each_commit,
    failure_of,
    input_records,
    job_argv,
    output_records,
    output_urls,
    raw_urls,
    snapshot,
    staged_urls,
)

from job_helpers import publish as publishing
from job_helpers.commit_record import COMMITTED, PUBLISHING, read_record
from job_helpers.publish import Lease, open_claims
from job_helpers.run_report import RunReport, read_report, report_url
from job_helpers.sitewise import avro_blocks, write
from job_helpers.sitewise.day_index import MANIFEST, MergedFile, day_scope, read_day_index
from job_helpers.sitewise.keys import Layout, parse_raw_key
from job_helpers.sitewise.run import RunSummary, merge_days
from job_helpers.sitewise.sample_data import RAW_SCHEMA
from job_helpers.sitewise.series import from_asset_metadata
from job_helpers.storage import Storage, join
from jobs.sitewise_repartition import main
from tests.support.publish_steps import Killed, SteppedStorage

REPAIR = ["--repair-days", "true"]


def with_report(argv: list[str], tmp_path: Path, run_id: str) -> list[str]:
    return [*argv, "--JOB_RUN_ID", run_id, "--run-reports", tmp_path.as_uri() + "/reports/"]


def report_of(tmp_path: Path, run_id: str) -> RunReport:
    report = read_report(Storage(), report_url(tmp_path.as_uri() + "/reports/", "sitewise_repartition", run_id))
    assert report is not None
    return report


def assert_day_published_once(lake: Lake, day: date) -> None:
    """Every input record of the day's associated series once, every raw key in one committed file."""
    assert output_records(lake, day) == input_records(lake, day, lake.written.associated)
    index = read_day_index(lake.storage, lake.layout.index_day(day))
    committed = Counter(key for merged in index.files.values() for key in merged.keys)
    assert set(committed.values()) == {1}
    assert set(committed) == {parse_raw_key(url).key for url in raw_urls(lake, day, lake.written.associated)}
    assert {url.rsplit("/", 1)[-1] for url in output_urls(lake, day)} == set(index.files)
    assert sum(merged.records for merged in index.files.values()) == len(output_records(lake, day))
    assert staged_urls(lake, day) == []


def assert_day_untouched(lake: Lake, day: date) -> None:
    assert output_urls(lake, day) == [] and staged_urls(lake, day) == []
    assert not lake.storage.exists(join(lake.layout.index_day(day), MANIFEST))


# A raw block whose count lies fails its day naming the key; the other days are published.


@pytest.mark.parametrize("declared", [2**31, 2**63 - 1, 0, "one more", "one less"])
def test_a_raw_block_whose_count_lies_fails_its_day_naming_the_key(lake: Lake, tmp_path: Path, declared: int | str) -> None:
    victim = raw_urls(lake, LAST_DAY, lake.written.associated)[0]
    data = lake.storage.read_bytes(victim)
    truth = blocks_of(data)[1][0].count
    count = truth + 1 if declared == "one more" else truth - 1 if declared == "one less" else int(declared)
    lake.storage.write_bytes(victim, with_block_count(data, 0, count))

    message = failure_of(with_report(job_argv(lake.layout), tmp_path, "jr_lying"))

    assert f"{LAST_DAY}: " in message and parse_raw_key(victim).key in message
    assert f"declares {count} records, but its data holds {truth}" in message
    assert_day_untouched(lake, LAST_DAY)
    assert_day_published_once(lake, FIRST_DAY)
    report = report_of(tmp_path, "jr_lying")
    first_day = len(input_records(lake, FIRST_DAY, lake.written.associated))
    assert report.status == "FAILED" and list(report.failed) == [LAST_DAY.isoformat()]
    assert report.read == {lake.layout.cold_tier: first_day} and report.written == {lake.layout.repartitioned: first_day}
    assert report.details["records_by_day"] == {FIRST_DAY.isoformat(): {"read": first_day, "written": first_day}}


def test_empty_blocks_and_files_without_blocks_are_merged_as_the_nothing_they_hold(lake: Lake) -> None:
    first, second = raw_urls(lake, FIRST_DAY, lake.written.associated)[:2]
    header, blocks, _ = blocks_of(lake.storage.read_bytes(first))
    lake.storage.write_bytes(first, header)  # no blocks at all
    empty = block(0, b"", "snappy")  # fastavro, which the test reads inputs with, cannot read a (0, 0) snappy block
    lake.storage.write_bytes(second, container([empty, *blocks_of(lake.storage.read_bytes(second))[1], empty]))

    main(job_argv(lake.layout, first=FIRST_DAY, last=FIRST_DAY))

    assert_day_published_once(lake, FIRST_DAY)
    assert parse_raw_key(first).key in read_day_index(lake.storage, lake.layout.index_day(FIRST_DAY)).merged_keys()


def test_a_raw_file_of_another_schema_fails_its_day_naming_the_key(lake: Lake) -> None:
    victim = raw_urls(lake, LAST_DAY, lake.written.associated)[1]
    other = {**RAW_SCHEMA, "fields": [{**f, "type": "int"} if f["name"] == "timeInSeconds" else f for f in RAW_SCHEMA["fields"]]}
    lake.storage.write_bytes(victim, container([], "snappy", other))

    message = failure_of(job_argv(lake.layout))

    assert f"{LAST_DAY}: " in message and parse_raw_key(victim).key in message and "schema differs from that of" in message
    assert_day_untouched(lake, LAST_DAY)
    assert_day_published_once(lake, FIRST_DAY)


# What is staged is read back, and its records reconciled, before the commit.


def test_a_staged_file_that_does_not_read_back_is_never_committed(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    stage = write.stage

    def damaged_in_transit(storage: Storage, layout: Layout, day: date, path: Path, merged: MergedFile) -> write.Staged:
        staged = stage(storage, layout, day, path, merged)
        if day == LAST_DAY:
            data = bytearray(storage.read_bytes(staged.url))
            data[-30] ^= 0x01
            storage.write_bytes(staged.url, bytes(data))
        return staged

    monkeypatch.setattr(write, "stage", damaged_in_transit)

    message = failure_of(job_argv(lake.layout))

    assert f"{LAST_DAY}: " in message and "/_staging/" in message
    assert "read back, block" in message and "differs from the block written" in message
    assert_day_untouched(lake, LAST_DAY)
    assert_day_published_once(lake, FIRST_DAY)


def test_records_that_do_not_reconcile_fail_the_day_before_its_commit(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    write_block = avro_blocks.BlockMerger._write

    def loses_the_third_block(merger: avro_blocks.BlockMerger, block: avro_blocks.Block) -> None:
        merger.lost = getattr(merger, "lost", 0) + 1
        if merger.lost != 3:
            write_block(merger, block)

    monkeypatch.setattr(avro_blocks.BlockMerger, "_write", loses_the_third_block)

    message = failure_of(job_argv(lake.layout, first=LAST_DAY, last=LAST_DAY))

    assert f"{LAST_DAY}: " in message and "records were read from the raw files but" in message
    assert "were read back from" in message and "nothing was committed" in message
    assert_day_untouched(lake, LAST_DAY)


# --repair-days: committed files that do not read back are rebuilt in place, once.


def poison(lake: Lake, day: date, how: str) -> str:
    """Damage the day's committed file as earlier versions of the job could publish it; return its URL."""
    index = read_day_index(lake.storage, lake.layout.index_day(day))
    ((name, merged),) = index.files.items()
    url = join(lake.layout.output_day(day), name)
    data = lake.storage.read_bytes(url)
    first_count = blocks_of(data)[1][0].count
    records = merged.records
    if how == "count 2^31":  # a raw block claiming 2^31 records, copied as it was
        data, records = with_block_count(data, 0, 2**31), merged.records - first_count + 2**31
    elif how == "count 0":  # a raw block claiming none: readers skip its records
        data, records = with_block_count(data, 0, 0), merged.records - first_count
    elif how == "truncated":
        data = data[: len(data) // 2]
    elif how == "count in the manifest":
        records = merged.records + 5
    if how == "missing":
        lake.storage.delete(url)
    else:
        lake.storage.write_bytes(url, data)
    manifest = join(lake.layout.index_day(day), MANIFEST)
    document = json.loads(lake.storage.read_text(manifest))
    document["files"][name]["records"] = records
    lake.storage.write_text(manifest, json.dumps(document))
    return url


POISONS = ["count 2^31", "count 0", "truncated", "missing", "count in the manifest"]


@pytest.mark.parametrize("how", POISONS)
def test_a_poisoned_committed_day_is_rebuilt_by_a_rerun_with_repair_days(lake: Lake, tmp_path: Path, how: str) -> None:
    main(job_argv(lake.layout))
    healthy = {url: lake.storage.read_bytes(url) for url in output_urls(lake, LAST_DAY)}
    poisoned = poison(lake, FIRST_DAY, how)

    main(with_report([*job_argv(lake.layout), *REPAIR], tmp_path, "jr_repair"))

    assert_day_published_once(lake, FIRST_DAY)
    assert output_urls(lake, FIRST_DAY) == [poisoned], "the rebuilt file holds the same keys, so it has the same name"
    assert {url: lake.storage.read_bytes(url) for url in output_urls(lake, LAST_DAY)} == healthy
    report = report_of(tmp_path, "jr_repair")
    rebuilt = len(input_records(lake, FIRST_DAY, lake.written.associated))
    assert report.status == "SUCCEEDED" and report.details["failing_files_rebuilt"] == 1
    assert report.read == {lake.layout.cold_tier: rebuilt} and report.written == {lake.layout.repartitioned: rebuilt}
    repaired = snapshot(lake)

    main([*job_argv(lake.layout), *REPAIR])
    main(job_argv(lake.layout))

    assert snapshot(lake) == repaired


def test_a_failing_file_whose_raw_keys_are_gone_fails_its_day_and_changes_nothing(lake: Lake) -> None:
    main(job_argv(lake.layout))
    poison(lake, FIRST_DAY, "count 2^31")
    gone = raw_urls(lake, FIRST_DAY, lake.written.associated)[2]
    lake.storage.delete(gone)
    before = snapshot(lake)

    message = failure_of([*job_argv(lake.layout), *REPAIR])

    assert f"{FIRST_DAY}: " in message and "fails its read-back" in message and "declares 2147483648 records" in message
    assert f"1 of its {len(raw_urls(lake, FIRST_DAY, lake.written.associated)) + 1} raw keys" in message
    assert parse_raw_key(gone).key in message
    assert snapshot(lake) == before


def restore(lake: Lake, saved: dict[str, bytes]) -> None:
    """Put the repartitioned and index folders back as ``snapshot`` saw them."""
    for root in (lake.layout.repartitioned, lake.layout.index):
        lake.storage.delete_prefix(root)
    for url, data in saved.items():
        lake.storage.write_bytes(url, data)


@pytest.mark.parametrize("lake", ["local"], indirect=True)
def test_a_repair_killed_at_each_step_of_its_publish_is_finished_by_the_next_run(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed before each change of its publish (claim, open-claims marker, move over the failing
    file, commit, the series list), the failing file damaged or deleted in turn: the day holds at
    most one file under its name, old or rebuilt; the next run of the day, plain or repairing, each
    from the same killed state, finishes it.

    On local files only: the same publish killed at every step on moto's S3, a move cut between its
    copy and its delete included, is tests/test_publish_replacing.py's, and the takeover of a killed
    SiteWise publish on S3 is test_sitewise_publish.py's."""
    monkeypatch.setattr(publishing, "LEASE", Lease(seconds=0, wait=0))  # a dead run's claim is stale at once
    one_day = job_argv(lake.layout, first=FIRST_DAY, last=FIRST_DAY)
    series_filter = from_asset_metadata(lake.storage, lake.layout, "ASSOCIATED")
    scope = day_scope(lake.layout.index_day(FIRST_DAY), FIRST_DAY)
    main(one_day)
    healthy = snapshot(lake)
    poisoned: dict[str, dict[str, bytes]] = {}
    for how in ("count 2^31", "missing"):
        restore(lake, healthy)
        (url,) = output_urls(lake, FIRST_DAY)
        assert poison(lake, FIRST_DAY, how) == url
        poisoned[how] = snapshot(lake)
    outcomes = set()
    steps = 0
    while True:
        how = ("count 2^31", "missing")[steps % 2]
        restore(lake, poisoned[how])
        old = poisoned[how].get(url)
        changes: list[str] = []

        def die(operation: str, target: str, budget: int = steps, changes: list[str] = changes) -> None:
            if "/_staging/" in target and operation == "write":
                return  # the rebuilt file's upload, before its publish
            changes.append(operation)
            if len(changes) > budget:
                raise Killed(f"killed before {operation} {target}")

        killed = merge_days(
            SteppedStorage(lake.storage, die), lake.layout, [FIRST_DAY], series_filter, max_workers=2, repair=True
        )
        if not killed.failed:
            break
        assert list(killed.failed) == [FIRST_DAY]
        rebuilt_in_place = lake.storage.exists(url) and lake.storage.read_bytes(url) != old
        assert output_urls(lake, FIRST_DAY) == ([url] if old or rebuilt_in_place else []), (
            "never the old and the new side by side"
        )
        claim = read_record(lake.storage, scope)
        staged = staged_urls(lake, FIRST_DAY)
        if claim.state == PUBLISHING and staged:  # claimed, not moved yet
            ((_, waiting),) = claim.staged.items()
            assert staged == [waiting] and lake.storage.read_bytes(waiting) != old and not rebuilt_in_place, steps
        if claim.state == PUBLISHING and rebuilt_in_place:  # moved over the failing file, not committed
            assert [c.scope for c in open_claims(lake.storage, lake.layout.repartitioned)] == [scope.prefix], steps
        outcomes.add((claim.state, rebuilt_in_place))
        unclaimed = claim.state == COMMITTED and not rebuilt_in_place  # killed before its claim
        orphans = staged if unclaimed else []
        assert len(orphans) == unclaimed
        left = snapshot(lake)
        for rerun in [REPAIR] if unclaimed else [[], REPAIR]:  # a plain rerun does not repair an unclaimed day
            restore(lake, left)

            main([*one_day, *rerun])

            assert staged_urls(lake, FIRST_DAY) == orphans, "a recent staged file may belong to a live run, so it stays"
            for orphan in orphans:
                lake.storage.delete(orphan)
            assert_day_published_once(lake, FIRST_DAY)
            assert output_urls(lake, FIRST_DAY) == [url]
            assert read_record(lake.storage, scope).state == COMMITTED
            assert open_claims(lake.storage, lake.layout.repartitioned) == []
        steps += 1
    assert {(PUBLISHING, False), (PUBLISHING, True)} <= outcomes, "killed after its claim, and after its move"
    assert steps >= 4
    repaired = snapshot(lake)
    main([*one_day, *REPAIR])
    assert snapshot(lake) == repaired


def test_repair_days_must_be_true_or_false(lake: Lake) -> None:
    message = failure_of([*job_argv(lake.layout), "--repair-days", "maybe"])

    assert "--repair-days 'maybe' must be true or false" in message


def test_two_repairs_of_a_day_at_once_rebuild_its_failing_file_once(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    main(job_argv(lake.layout))
    poison(lake, FIRST_DAY, "count 2^31")
    series_filter = from_asset_metadata(lake.storage, lake.layout, "ASSOCIATED")
    other_runs: list[RunSummary] = []

    def another_repair_commits_first(day: date, _: str) -> None:
        if other_runs:
            return  # the other run's own commit
        other_runs.append(RunSummary())
        other_runs[0] = merge_days(lake.storage, lake.layout, [day], series_filter, max_workers=2, repair=True)

    with monkeypatch.context() as interleaved:
        before_each_commit(interleaved, another_repair_commits_first)
        first = merge_days(lake.storage, lake.layout, [FIRST_DAY], series_filter, max_workers=2, repair=True)

    assert other_runs[0].rebuilt == 1 and not other_runs[0].failed
    assert not first.failed and first.rebuilt == 0, "its rebuilt file lost the commit, and the day then read back"
    assert_day_published_once(lake, FIRST_DAY)


def test_a_repair_whose_commit_an_ordinary_run_of_a_late_file_beats_commits_beside_it(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A raw file arrives late; a plain run merges and commits it while a repair of the same day
    waits to commit its rebuilt file: the repair still replaces the entry it read (unchanged) and
    keeps the late file beside it, and the day holds every key once."""
    main(job_argv(lake.layout))
    poisoned = poison(lake, FIRST_DAY, "truncated")
    late = add_late_file(lake, FIRST_DAY)
    series_filter = from_asset_metadata(lake.storage, lake.layout, "ASSOCIATED")
    plain_runs: list[RunSummary] = []

    def a_plain_run_commits_the_late_file_first(day: date, _: str) -> None:
        if plain_runs:
            return  # the plain run's own commit
        plain_runs.append(RunSummary())
        plain_runs[0] = merge_days(lake.storage, lake.layout, [day], series_filter, max_workers=2)

    with monkeypatch.context() as interleaved:
        before_each_commit(interleaved, a_plain_run_commits_the_late_file_first)
        repair = merge_days(lake.storage, lake.layout, [FIRST_DAY], series_filter, max_workers=2, repair=True)

    (plain,) = plain_runs
    assert not plain.failed and plain.records == len(late) and plain.rebuilt == 0
    assert (
        not repair.failed
        and repair.rebuilt == 1
        and repair.records == len(input_records(lake, FIRST_DAY, lake.written.associated)) - len(late)
    )
    assert_day_published_once(lake, FIRST_DAY)
    assert poisoned in output_urls(lake, FIRST_DAY) and len(output_urls(lake, FIRST_DAY)) == 2
    assert read_record(lake.storage, day_scope(lake.layout.index_day(FIRST_DAY), FIRST_DAY)).state == COMMITTED
