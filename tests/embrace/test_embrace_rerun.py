"""Reruns and overlapping chunks replace what an archive produced: identical output, never doubled rows."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
from embrace_helpers import chunk_params, run_chunk

from job_helpers.embrace.archives import Selection
from job_helpers.embrace.sample_data import write_embrace_sample
from job_helpers.storage import Storage

TABLES = ("clean", "duplicate_log", "wear_time", "devices")


def snapshot(spark, lake):
    """Every row of every Parquet output and every batch-load CSV line, as sorted lists."""
    tables = {name: sorted(map(tuple, spark.read.parquet(str(lake / name)).collect())) for name in TABLES}
    csv_lines = []
    for path in sorted((lake / "timestream_ready").rglob("*.csv")):
        folder = path.parent.relative_to(lake / "timestream_ready").as_posix()
        csv_lines += [(folder, line) for line in path.read_text().splitlines()[1:]]
    tables["timestream_ready"] = sorted(csv_lines)
    return tables


def test_rerun_and_overlapping_chunks_give_identical_output(tasks, small_spark, tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    storage = Storage()
    march = write_embrace_sample(
        storage,
        landing.as_uri() + "/",
        start=date(2024, 3, 30),
        days=2,
        seconds_per_day=20,
        participants=("fc157",),
        period_end=date(2024, 3, 31),
    )
    april = write_embrace_sample(
        storage,
        landing.as_uri() + "/",
        start=date(2024, 4, 1),
        days=1,
        seconds_per_day=20,
        participants=("fc157",),
        period_end=date(2024, 4, 30),
    )
    options = {"selection": Selection(streams=("eda",))}
    whole = chunk_params(landing, lake, date(2024, 3, 1), date(2024, 4, 30), **options)
    first = run_chunk(tasks, storage, whole)
    assert sorted(first.archives) == sorted([march.export, april.export])
    before = snapshot(small_spark, lake)
    assert len(before["clean"]) == march.clean["eda"] + april.clean["eda"]

    run_chunk(tasks, storage, chunk_params(landing, lake, date(2024, 3, 31), date(2024, 4, 2), **options))
    again = run_chunk(tasks, storage, chunk_params(landing, lake, date(2024, 3, 1), date(2024, 3, 31), **options))
    assert again.archives == [march.export]
    assert snapshot(small_spark, lake) == before


def test_a_day_or_device_no_longer_produced_is_removed(tasks, small_spark, tmp_path):
    """The re-export holds one day of one participant: the other participant's device leaves with every day of it."""
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    storage = Storage()
    write_embrace_sample(
        storage, landing.as_uri() + "/", start=date(2024, 3, 1), days=2, seconds_per_day=20, participants=("fc096", "fc157")
    )
    params = chunk_params(landing, lake, date(2024, 3, 1), date(2024, 3, 2), selection=Selection(streams=("temp",)))
    run_chunk(tasks, storage, params)
    shorter = write_embrace_sample(
        storage,
        landing.as_uri() + "/",
        start=date(2024, 3, 1),
        days=1,
        seconds_per_day=20,
        participants=("fc096",),
        period_end=date(2024, 3, 2),
    )
    # Half the archive's days went: more than the row guard lets a run lose unless allowed.
    run_chunk(tasks, storage, replace(params, allow_shrink=True))
    dates = {r["date"] for r in small_spark.read.parquet(str(lake / "clean")).select("date").distinct().collect()}
    assert {str(d) for d in dates} == {"2024-03-01"}
    clean = small_spark.read.parquet(str(lake / "clean"))
    assert clean.count() == shorter.clean["temp"]
    assert {r["ppt_id"] for r in clean.select("ppt_id").distinct().collect()} == {"fc096"}
    lines = [line for path in (lake / "timestream_ready").rglob("*.csv") for line in path.read_text().splitlines()[1:]]
    assert len(lines) == shorter.clean["temp"] and all(",fc096," in line for line in lines)
    counts = [json.loads(path.read_text()) for path in (lake / "load_counts").rglob("*.json")]
    assert sum(sum(c.values()) for c in counts) == shorter.clean["temp"]


def test_a_rerun_clears_the_former_batch_load_layout(tasks, tmp_path):
    """Files and counts of the former layouts (per export) go when their export is rerun."""
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    storage = Storage()
    sample = write_embrace_sample(
        storage, landing.as_uri() + "/", start=date(2024, 3, 1), days=1, seconds_per_day=20, participants=("fc096",)
    )
    formers = [
        lake / "timestream_ready" / f"export={sample.export}" / "stream=temp" / "date=2024-03-01" / "part-old-0000.csv",
        lake / "timestream_ready" / sample.export / "temp" / "2024-03-01" / "part-old-0000.csv",
        lake / "load_counts" / f"export={sample.export}" / "stream=temp.json",
        lake / "load_counts" / sample.export / "temp.json",
        lake / "clean" / f"export={sample.export}" / "stream=temp" / "date=2024-03-01" / "part-old.parquet",
        lake / "duplicate_log" / f"export={sample.export}" / "stream=temp" / "part-00000.parquet",
        lake / "devices" / f"export={sample.export}" / "part-00000.parquet",
    ]
    for path in formers:
        path.parent.mkdir(parents=True)
        if path.suffix == ".parquet":  # the publish counts the rows of the files it replaces
            pq.write_table(pa.table({"ppt_id": ["fc096"]}), path)
        else:
            path.write_text("written by an earlier version\n")
    run_chunk(
        tasks,
        storage,
        chunk_params(landing, lake, date(2024, 3, 1), date(2024, 3, 1), selection=Selection(streams=("temp",))),
    )
    assert [path for path in formers if path.exists()] == []
    ready = sorted(
        path.relative_to(lake / "timestream_ready").parent.as_posix() for path in (lake / "timestream_ready").rglob("*.csv")
    )
    assert ready == ["temp/2024-03-01"]
    assert json.loads((lake / "load_counts" / "temp" / "2024-03-01.json").read_text()) == {
        "fc096/2M4Y4111FK": sample.clean["temp"]
    }
