"""Reruns after raw hours expired keep what was published; a rerun that would publish far less is refused."""

from __future__ import annotations

import json
import shutil
from datetime import date

import pytest
from sensor_lake import published_files, sample_lake

from job_helpers.publish import ShrinkGuard, ShrinkRefused
from job_helpers.sensors.read import folder_hour, raw_chunk
from job_helpers.sensors.transform import hour_grids
from job_helpers.sensors.write import ExportSummary, export_chunk
from job_helpers.storage import Storage, local_path

DAY = date(2024, 3, 1)
EXPIRED = ("dt=2024-03-01/hour=00/", "dt=2024-03-01/hour=01/", "dt=2024-03-01/hour=02/")


@pytest.fixture
def lake(tmp_path) -> dict[str, str]:
    return sample_lake(tmp_path, DAY, days=1, seed=5, sensors=3, hours_per_day=4)


def export(tasks, lake: dict[str, str], allow_shrink: bool = False) -> ExportSummary:
    chunk = raw_chunk(Storage(), lake["sensors.raw"], DAY, DAY, tasks=2)
    guard = ShrinkGuard(allowed=allow_shrink)
    return export_chunk(tasks, Storage(), chunk, hour_grids, lake["curated"], lake["rejects"], shrink_guard=guard)


def _event_time(line: str) -> int:
    try:
        return int(json.loads(line)["event_time"])
    except (ValueError, KeyError, TypeError):
        return -1


def files(url: str) -> dict[str, bytes]:
    root = local_path(url)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in published_files(root, "*")}


def test_a_rerun_after_raw_hours_expired_keeps_their_published_hours_and_says_so(tasks, spark, lake, caplog):
    first = export(tasks, lake)
    curated, rejects = files(lake["curated"]), files(lake["rejects"])
    assert {name.rsplit("/", 1)[0] + "/" for name in curated} >= set(EXPIRED)
    for hour in ("00", "01", "02"):
        shutil.rmtree(local_path(lake["sensors.raw"]) / "2024" / "03" / "01" / hour)

    summary = export(tasks, lake)
    assert summary.kept == EXPIRED
    assert "3 published hour(s) kept, their raw objects gone" in summary.line()
    assert "kept 3 published hour(s)" in caplog.text
    assert files(lake["curated"]) == curated
    assert files(lake["rejects"]) == rejects
    hour3 = spark.read.parquet(lake["curated"] + "dt=2024-03-01/hour=03/").count()
    assert summary.rows_out == hour3 < first.rows_out, "only what was published is counted"

    summary = export(tasks, lake, allow_shrink=True)
    assert summary.kept == ()
    after = files(lake["curated"])
    assert not any(name.startswith(EXPIRED[:2]) for name in after)
    assert {name: data for name, data in after.items() if "hour=03" in name} == {
        name: data for name, data in curated.items() if "hour=03" in name
    }


def test_a_rerun_whose_raw_objects_were_cut_short_is_refused_unless_allowed(tasks, spark, lake):
    export(tasks, lake)
    curated = files(lake["curated"])
    for path in local_path(lake["sensors.raw"]).rglob("*"):
        if path.is_file():  # the first 20 readings of the folder's own hour; no late ones to stretch the grid
            hour = folder_hour(path.as_uri()) * 1000
            own = [line for line in path.read_text().splitlines() if _event_time(line) in range(hour, hour + 3_600_000)]
            path.write_text("".join(line + "\n" for line in own[:20]))
    with pytest.raises(
        ShrinkRefused,
        match=r"curated/: this run would replace [\d,]+ rows with \d+ \(-[\d,]+, -\d+\.\d%\) in 24 scope\(s\) \(dt=2024-03-01/hour=00/",
    ) as refused:
        export(tasks, lake)
    assert "--allow-shrink true" in str(refused.value)
    assert files(lake["curated"]) == curated
    export(tasks, lake, allow_shrink=True)
    assert sum(map(len, files(lake["curated"]).values())) < sum(map(len, curated.values())) / 2
