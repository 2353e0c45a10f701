"""SiteWise's day manifest as a commit record of the common publish protocol, on local files and moto S3:
readable as before, half-replaced after a kill at each step, finished by the next run with one copy."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sitewise_helpers import FIRST_DAY, Lake, input_records, job_argv, output_records, output_urls, raw_urls

from job_helpers import publish as publishing
from job_helpers.commit_record import COMMITTED, PUBLISHING
from job_helpers.publish import Lease, open_claims
from job_helpers.sitewise.day_index import MANIFEST, TIMESERIES, read_day_index
from job_helpers.sitewise.keys import parse_raw_key
from job_helpers.sitewise.run import merge_days
from job_helpers.sitewise.series import from_asset_metadata
from job_helpers.storage import join
from jobs.sitewise_repartition import main
from tests.support.publish_steps import Killed, SteppedStorage


def one_day(lake: Lake) -> list[str]:
    return job_argv(lake.layout, "ASSOCIATED", first=FIRST_DAY, last=FIRST_DAY)


def manifest(lake: Lake) -> dict:
    return json.loads(lake.storage.read_text(join(lake.layout.index_day(FIRST_DAY), MANIFEST)))


def assert_merged_once(lake: Lake, series: tuple[str, ...] | None = None) -> None:
    """Every input record once in the day's files, each raw key in one committed file, the series listed."""
    series = lake.written.associated if series is None else series
    assert output_records(lake, FIRST_DAY) == input_records(lake, FIRST_DAY, series)
    index = read_day_index(lake.storage, lake.layout.index_day(FIRST_DAY))
    committed = Counter(key for merged in index.files.values() for key in merged.keys)
    assert set(committed.values()) == {1} and set(committed) == {parse_raw_key(u).key for u in raw_urls(lake, FIRST_DAY, series)}
    assert {url.rsplit("/", 1)[-1] for url in output_urls(lake, FIRST_DAY)} == set(index.files) and not index.claimed
    listed = lake.storage.read_text(join(lake.layout.index_day(FIRST_DAY), TIMESERIES))
    assert listed.split("\n") == sorted(index.series())


def test_the_manifest_keeps_what_its_readers_read_and_adds_the_records_state(lake: Lake) -> None:
    main(one_day(lake))
    document = manifest(lake)
    ((name, entry),) = document["files"].items()
    assert document["format"] == 1 and name.startswith("merged_") and name.endswith(".avro")
    assert sorted(entry["keys"]) == sorted(parse_raw_key(u).key for u in raw_urls(lake, FIRST_DAY, lake.written.associated))
    assert entry["records"] == entry["rows"] == len(input_records(lake, FIRST_DAY, lake.written.associated))
    assert entry["bytes"] > 0 and entry["run"] == document["run"]
    assert document["state"] == COMMITTED and document["scope"] == "startYear=2024/startMonth=1/startDay=31/"


def test_a_manifest_written_before_the_protocol_reads_as_committed_and_the_day_grows_from_it(lake: Lake) -> None:
    main(one_day(lake))
    document = manifest(lake)
    old = {"format": 1, "files": {n: {k: e[k] for k in ("keys", "records", "run")} for n, e in document["files"].items()}}
    lake.storage.write_text(join(lake.layout.index_day(FIRST_DAY), MANIFEST), json.dumps(old))
    assert set(read_day_index(lake.storage, lake.layout.index_day(FIRST_DAY)).files) == set(document["files"])

    main(job_argv(lake.layout, "DISASSOCIATED", first=FIRST_DAY, last=FIRST_DAY))

    grown = manifest(lake)
    assert set(document["files"]) < set(grown["files"]) and grown["state"] == COMMITTED
    assert_merged_once(lake, lake.written.associated + lake.written.disassociated)


def test_a_run_killed_at_each_step_of_its_commit_is_finished_by_the_next_run(lake: Lake, monkeypatch) -> None:
    monkeypatch.setattr(publishing, "LEASE", Lease(seconds=0, wait=0))  # a dead run's claim is stale at once
    series_filter = from_asset_metadata(lake.storage, lake.layout, "ASSOCIATED")
    steps = 0
    while True:
        for root in (lake.layout.repartitioned, lake.layout.index):
            lake.storage.delete_prefix(root)
        changes = []

        def die(operation: str, url: str, budget=steps, changes=changes) -> None:
            if "/_staging/" in url and operation == "write":
                return  # the merged file's upload, before the commit
            changes.append(operation)
            if len(changes) > budget:
                raise Killed(f"killed before {operation} {url}")

        killed = merge_days(SteppedStorage(lake.storage, die), lake.layout, [FIRST_DAY], series_filter, max_workers=2)
        if not killed.failed:
            break
        state = read_day_index(lake.storage, lake.layout.index_day(FIRST_DAY))
        claims = open_claims(lake.storage, lake.layout.repartitioned)
        if state.claimed and output_urls(lake, FIRST_DAY):  # moved, not committed: what status calls half-replaced
            assert [c.scope for c in claims] == ["startYear=2024/startMonth=1/startDay=31/"], steps
            assert manifest(lake)["state"] == PUBLISHING
        assert len(output_urls(lake, FIRST_DAY)) <= 1, "never a record twice"

        main(one_day(lake))

        assert_merged_once(lake)
        assert open_claims(lake.storage, lake.layout.repartitioned) == []
        steps += 1
    assert steps >= 3, "the claim, the move and the commit were each killed"
    assert output_records(lake, FIRST_DAY) == input_records(lake, FIRST_DAY, lake.written.associated)


@pytest.fixture(autouse=True)
def no_identity() -> None:
    publishing.identify("", None)
