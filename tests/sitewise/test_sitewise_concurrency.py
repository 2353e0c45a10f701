"""Runs of the same day that overlap, interleaved deterministically, on local files and moto S3.

A run is paused in a thread right after it uploaded its merged file and before it commits it
(``before_each_commit``); other runs work on the day meanwhile, then it resumes.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sitewise_helpers import (
    FIRST_DAY,
    SEED,
    SERIES,
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

from job_helpers.sitewise.day_index import MANIFEST, TIMESERIES, read_day_index
from job_helpers.sitewise.keys import Layout, parse_raw_key
from job_helpers.sitewise.run import RunSummary, merge_days
from job_helpers.sitewise.sample_data import write_cold_tier
from job_helpers.sitewise.series import from_asset_metadata
from job_helpers.sitewise.write import staged_url
from job_helpers.storage import Storage, WriteConflict, join
from jobs.sitewise_repartition import main

WAIT_SECONDS = 120


class PausedRun:
    """A run of one day in a thread that stops after its first upload until ``finish`` is called.

    Only the first commit of the test waits, so runs started meanwhile commit at once.
    """

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, lake: Lake, timeseries_type: str = "ASSOCIATED", day: date = FIRST_DAY
    ) -> None:
        self.uploaded, self.resume = threading.Event(), threading.Event()
        self.summary: RunSummary | None = None
        self.error: BaseException | None = None
        series_filter = from_asset_metadata(lake.storage, lake.layout, timeseries_type)
        before_each_commit(monkeypatch, self._pause)
        self.thread = threading.Thread(
            target=self._run, args=(lake, series_filter, day), name=f"paused-{timeseries_type}", daemon=True
        )
        self.thread.start()
        assert self.uploaded.wait(WAIT_SECONDS), "the paused run never uploaded its merged file"

    def _pause(self, day: date, url: str) -> None:
        if not self.uploaded.is_set():
            self.uploaded.set()
            if not self.resume.wait(WAIT_SECONDS):
                raise TimeoutError("the paused run was never resumed")

    def _run(self, lake: Lake, series_filter, day: date) -> None:
        try:
            self.summary = merge_days(lake.storage, lake.layout, [day], series_filter, max_workers=2)
        except BaseException as error:
            self.error = error

    def finish(self) -> RunSummary:
        self.resume.set()
        self.thread.join(WAIT_SECONDS)
        assert not self.thread.is_alive(), "the paused run did not end"
        if self.error is not None:
            raise self.error
        assert self.summary is not None
        return self.summary


def one_day_argv(lake: Lake, timeseries_type: str = "ASSOCIATED") -> list[str]:
    return job_argv(lake.layout, timeseries_type, first=FIRST_DAY, last=FIRST_DAY)


def assert_published_exactly_once(lake: Lake, series: tuple[str, ...]) -> None:
    """Every input record of the series once in the day's files, every raw key in one committed file."""
    assert output_records(lake, FIRST_DAY) == input_records(lake, FIRST_DAY, series)
    index = read_day_index(lake.storage, lake.layout.index_day(FIRST_DAY))
    committed = Counter(key for merged in index.files.values() for key in merged.keys)
    assert set(committed.values()) == {1}
    assert set(committed) == {parse_raw_key(url).key for url in raw_urls(lake, FIRST_DAY, series)}
    assert {url.rsplit("/", 1)[-1] for url in output_urls(lake, FIRST_DAY)} == set(index.files)
    series_text = lake.storage.read_text(join(lake.layout.index_day(FIRST_DAY), TIMESERIES))
    assert series_text.split("\n") == sorted(index.series())
    assert staged_urls(lake, FIRST_DAY) == []


def test_run_that_merges_the_day_while_another_waits_to_commit_loses_nothing(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    paused = PausedRun(monkeypatch, lake)
    add_late_file(lake, FIRST_DAY)

    main(one_day_argv(lake))
    first_run = paused.finish()
    main(one_day_argv(lake))

    assert_published_exactly_once(lake, lake.written.associated)
    assert not first_run.failed
    assert first_run.merged == [], "everything the paused run merged was committed by the other run"


def test_runs_of_disjoint_series_both_commit_their_files(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    paused = PausedRun(monkeypatch, lake, "ASSOCIATED")

    main(one_day_argv(lake, "DISASSOCIATED"))
    first_run = paused.finish()

    assert_published_exactly_once(lake, lake.written.associated + lake.written.disassociated)
    assert not first_run.failed and len(first_run.merged) == 1
    assert len(read_day_index(lake.storage, lake.layout.index_day(FIRST_DAY)).files) == 2


def test_run_that_keeps_losing_the_day_gives_up_and_publishes_nothing_twice(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    series_filter = from_asset_metadata(lake.storage, lake.layout, "ASSOCIATED")
    other_runs: list[RunSummary] = []
    other_run_going = threading.Event()

    def another_run_commits_first(day: date, _: str) -> None:
        if other_run_going.is_set():
            return  # the other run's own commit
        other_run_going.set()
        try:
            other_runs.append(merge_days(lake.storage, lake.layout, [day], series_filter, max_workers=2))
        finally:
            other_run_going.clear()
        add_late_file(lake, day, hour=len(other_runs))

    with monkeypatch.context() as interleaved:
        before_each_commit(interleaved, another_run_commits_first)
        losing = merge_days(lake.storage, lake.layout, [FIRST_DAY], series_filter, max_workers=2)

    assert "other runs committed raw keys of this day 5 times" in losing.failed[FIRST_DAY]
    assert all(len(run.merged) == 1 and not run.failed for run in other_runs)
    main(one_day_argv(lake))
    assert_published_exactly_once(lake, lake.written.associated)


def test_file_committed_by_a_run_that_died_before_moving_it_is_moved_by_the_next(lake: Lake) -> None:
    main(one_day_argv(lake))
    published = snapshot(lake)
    index = read_day_index(lake.storage, lake.layout.index_day(FIRST_DAY))
    ((name, merged),) = index.files.items()
    staged = staged_url(lake.layout, FIRST_DAY, merged.run, name)
    lake.storage.move(join(lake.layout.output_day(FIRST_DAY), name), staged)
    lake.storage.delete(join(lake.layout.index_day(FIRST_DAY), TIMESERIES))

    main(one_day_argv(lake))

    assert snapshot(lake) == published
    assert staged_urls(lake, FIRST_DAY) == []


def test_committed_file_that_is_nowhere_fails_the_day_naming_it(lake: Lake) -> None:
    main(one_day_argv(lake))
    (output,) = output_urls(lake, FIRST_DAY)
    lake.storage.delete(output)

    message = failure_of(one_day_argv(lake))

    assert f"{output}: committed in the day's manifest" in message
    assert lake.storage.exists(join(lake.layout.index_day(FIRST_DAY), MANIFEST))
    assert "run the day again with --repair-days true to rebuild it" in message

    main([*one_day_argv(lake), "--repair-days", "true"])

    assert output_urls(lake, FIRST_DAY) == [output]
    assert output_records(lake, FIRST_DAY) == input_records(lake, FIRST_DAY, lake.written.associated)


def test_old_staged_leftovers_are_removed_and_recent_ones_kept(lake: Lake) -> None:
    staging = lake.layout.staging_day(FIRST_DAY)
    old = join(staging, "20200101T000000Z-0123456789ab-merged_00000000000000aa.avro")
    recent = staged_url(lake.layout, FIRST_DAY, "29991231T000000Z-0123456789ab", "merged_00000000000000bb.avro")
    for url in (old, recent):
        lake.storage.write_bytes(url, b"left by a run")

    main(one_day_argv(lake))

    assert staged_urls(lake, FIRST_DAY) == [recent]
    assert output_records(lake, FIRST_DAY) == input_records(lake, FIRST_DAY, lake.written.associated)


class AnswerLostOnce(Storage):
    """Local storage whose first conditional write lands but reports a conflict, like a retried PUT."""

    lost = False

    def write_if(self, url: str, data: bytes, version: str | None) -> str:
        new_version = super().write_if(url, data, version)
        if not self.lost:
            self.lost = True
            raise WriteConflict(f"{url}: changed since it was read (the first answer was lost)")
        return new_version


def test_commit_whose_answer_was_lost_counts_once(tmp_path: Path) -> None:
    storage, base = AnswerLostOnce(), tmp_path.as_uri()
    layout = Layout(f"{base}/cold", f"{base}/repartitioned", f"{base}/index")
    written = write_cold_tier(storage, layout.cold_tier, FIRST_DAY, 1, SERIES, records_per_file=20, seed=SEED)
    lake = Lake(storage, layout, written)
    series_filter = from_asset_metadata(storage, layout, "ASSOCIATED")

    summary = merge_days(storage, layout, [FIRST_DAY], series_filter, max_workers=2)

    assert storage.lost and not summary.failed and len(summary.merged) == 1
    assert_published_exactly_once(lake, written.associated)
