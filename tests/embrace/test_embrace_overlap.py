"""Exports holding the same readings publish each reading once: across the exports of a chunk and against what earlier runs published.

Every lake is checked against the oracle applied to all its archives together, and lakes reached
in different orders (one chunk, chunk by chunk, the re-export first) hold the same tables.
"""

from __future__ import annotations

import shutil
import zipfile
from datetime import date
from pathlib import Path

from embrace_helpers import assert_follows_the_rules, chunk_params, run_chunk, tables

from job_helpers.embrace.sample_data import write_embrace_sample
from job_helpers.storage import Storage

ALL = ("fc096", "mgh096", "fc157")
FC = ("fc096", "fc157")


def sample(landing: Path, **options) -> str:
    """One generated archive (20 seconds a day) in ``landing``; returns its export name."""
    defaults = {"start": date(2024, 3, 1), "days": 2, "seconds_per_day": 20, "participants": ALL}
    return write_embrace_sample(Storage(), landing.as_uri() + "/", **{**defaults, **options}).export


def test_an_allsites_export_and_a_site_export_of_the_same_days_publish_each_reading_once(tasks, small_spark, tmp_path):
    landing, lake, alone = tmp_path / "landing", tmp_path / "lake", tmp_path / "alone"
    allsites = sample(landing)
    fc = sample(landing, site="FC", participants=FC)
    params = chunk_params(landing, lake, date(2024, 3, 1), date(2024, 3, 31))
    result = run_chunk(tasks, Storage(), params)
    log = assert_follows_the_rules(small_spark, lake, sorted(landing.glob("*.zip")))
    overlap = sum(counts[-1] for counts in log.values())
    assert overlap > 0 and result.duplicates.overlap == overlap
    assert result.overlap_by_exports == {f"{allsites} & {fc}": overlap}
    assert set(result.overlap_by_participant) == set(FC)
    assert sum(result.read.values()) == result.clean_rows.total() + result.rejected.total() + sum(result.dropped.values())
    # The same readings as the ALLSITES export alone gives: the site export adds nothing, and the
    # two devices of fc157 recording the same instants stay two devices.
    only = tmp_path / "only"
    only.mkdir()
    shutil.copy(landing / f"{allsites}.zip", only)
    run_chunk(tasks, Storage(), chunk_params(only, alone, date(2024, 3, 1), date(2024, 3, 31)))
    columns = ["ppt_id", "dev_id", "stream", "time_ms", "x", "y", "z", "eda", "temp"]
    both = small_spark.read.parquet(str(lake / "clean"))
    assert sorted(both.select(columns).collect()) == sorted(
        small_spark.read.parquet(str(alone / "clean")).select(columns).collect()
    )
    held = {tuple(r["exports"]) for r in both.where("ppt_id = 'fc157'").select("exports").distinct().collect()}
    assert held == {(allsites, fc)}
    per_device = {r["dev_id"]: r["count"] for r in both.where("ppt_id = 'fc157'").groupBy("dev_id").count().collect()}
    assert per_device.keys() == {"ABCDE12345", "12345ABCDE"} and len(set(per_device.values())) == 1
    assert [r["exports"] for r in both.where("ppt_id = 'mgh096'").select("exports").distinct().collect()] == [[allsites]]


def test_a_re_export_with_a_later_end_date_adds_no_second_copy_whatever_the_order(tasks, small_spark, tmp_path):
    first, later = tmp_path / "first", tmp_path / "later"
    first.mkdir()
    march = sample(first, start=date(2024, 3, 30), participants=FC, period_end=date(2024, 3, 31))
    sample(later, start=date(2024, 3, 30), days=3, participants=FC, period_start=date(2024, 4, 1), period_end=date(2024, 4, 30))
    (reexport,) = later.glob("*.zip")
    march_chunk, april_chunk = (date(2024, 3, 1), date(2024, 3, 31)), (date(2024, 4, 1), date(2024, 4, 30))
    # Month by month: March with its export, then April with the re-export (which holds March 30 and 31 again).
    in_order = tmp_path / "in-order"
    run_chunk(tasks, Storage(), chunk_params(first, in_order, *march_chunk))
    shutil.copy(reexport, first)
    april = run_chunk(tasks, Storage(), chunk_params(first, in_order, *april_chunk))
    assert april.archives == [reexport.stem] and april.read["published"] > 0
    assert april.overlap_by_exports == {f"{march} & {reexport.stem}": sum(april.overlap_by_participant.values())}
    assert_follows_the_rules(small_spark, in_order, sorted(first.glob("*.zip")))
    settled = tables(small_spark, in_order)
    run_chunk(tasks, Storage(), chunk_params(first, in_order, *april_chunk))
    run_chunk(tasks, Storage(), chunk_params(first, in_order, *march_chunk))
    assert tables(small_spark, in_order) == settled, "a rerun of either month changed the tables"
    # The re-export first (April), then the March export arrives and March runs (reading both).
    backwards, landing = tmp_path / "backwards", tmp_path / "landing"
    landing.mkdir()
    shutil.copy(reexport, landing)
    run_chunk(tasks, Storage(), chunk_params(landing, backwards, *april_chunk))
    shutil.copy(first / f"{march}.zip", landing)
    run_chunk(tasks, Storage(), chunk_params(landing, backwards, *march_chunk))
    assert tables(small_spark, backwards) == settled
    # Both in one chunk.
    together = tmp_path / "together"
    run_chunk(tasks, Storage(), chunk_params(landing, together, date(2024, 3, 1), date(2024, 4, 30)))
    assert tables(small_spark, together) == settled


def test_the_same_archive_under_two_names_and_an_export_overlapping_in_part(tasks, small_spark, tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    export = sample(landing)
    shutil.copy(landing / f"{export}.zip", landing / "Sensors_U02_ALLSITES_20240301_20240303.zip")
    # Overlapping one day: its first day (March 2) has its own injected duplicates, missing values,
    # unclear readings and -0.0, so March 2 gets rows that agree with the first export and rows that do not.
    sample(landing, start=date(2024, 3, 2), site="FC", participants=FC, seed=7)
    run_chunk(tasks, Storage(), chunk_params(landing, lake, date(2024, 3, 1), date(2024, 3, 31)))
    log = assert_follows_the_rules(small_spark, lake, sorted(landing.glob("*.zip")))
    assert {key[2] for key, counts in log.items() if counts[-1]} == {"2024-03"}
    clean = small_spark.read.parquet(str(lake / "clean"))
    days = {str(r["date"]) for r in clean.where("size(exports) = 3").select("date").distinct().collect()}
    assert days == {"2024-03-02"}


def test_a_disagreeing_export_makes_its_readings_unclear_and_a_corrected_one_brings_them_back(tasks, small_spark, tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    allsites = sample(landing)
    fc = sample(landing, site="FC", participants=FC)
    params = chunk_params(landing, lake, date(2024, 3, 1), date(2024, 3, 31))
    run_chunk(tasks, Storage(), params)
    before = tables(small_spark, lake)
    # The site export is re-delivered with one temp reading changed: that instant is unclear, both copies dropped.
    path = landing / f"{fc}.zip"
    name = "U02/FC/096/2M4Y4111FK/temp.csv"
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    lines = members[name].decode().splitlines()
    ts, _ = lines[30].split(",")
    lines[30] = f"{ts},99.5"
    with zipfile.ZipFile(path, "w") as archive:
        for member, body in members.items():
            archive.writestr(member, "\n".join(lines) + "\n" if member == name else body)
    run_chunk(tasks, Storage(), params)
    assert_follows_the_rules(small_spark, lake, [landing / f"{allsites}.zip", path])
    clean = small_spark.read.parquet(str(lake / "clean"))
    assert clean.where(f"ppt_id = 'fc096' AND stream = 'temp' AND time_ms = {ts}").count() == 0
    held = small_spark.read.parquet(str(lake / "clean" / "_held")) if (lake / "clean" / "_held").is_dir() else None
    assert held is not None and held.where(f"time_ms = {ts}").count() == 2
    # Corrected again: the reading is published again, from the rows kept beside the clean files.
    with zipfile.ZipFile(path, "w") as archive:
        for member, body in members.items():
            archive.writestr(member, body)
    run_chunk(tasks, Storage(), params)
    assert tables(small_spark, lake) == before
