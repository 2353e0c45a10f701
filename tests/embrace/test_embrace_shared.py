"""The shared August and September exports: counts and the duplicate log follow from the raw CSVs.

Both exports hold the same FC readings (the September one under a top folder): they are published
once, and the overlap is reported per pair of exports and per participant.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from embrace_helpers import SHARED, chunk_params, run_chunk
from pyspark.sql import functions as F

from job_helpers.storage import Storage
from tests.support.embrace_oracle import expected, expected_union

AUGUST = "Sensors_U02_ALLSITES_20190801_20190831"
SEPTEMBER = "Sensors_U02_ALLSITES_20190901_20190930"


@pytest.fixture(scope="module")
def shared_run(tasks, small_spark, tmp_path_factory):
    if not (SHARED / f"{AUGUST}.zip").is_file():
        pytest.skip(f"reference data not found at {SHARED.resolve()} (the shared folder beside the repository)")
    lake = tmp_path_factory.mktemp("embrace-shared")
    params = chunk_params(SHARED, lake, date(2019, 8, 1), date(2019, 9, 30))
    return params, run_chunk(tasks, Storage(), params)


@pytest.mark.parametrize("export", [AUGUST, SEPTEMBER])
def test_clean_rows_per_stream_follow_the_rules(shared_run, small_spark, export):
    params, summary = shared_run
    clean, _, outside = expected(SHARED / f"{export}.zip")
    table = small_spark.read.parquet(params.outputs["clean"]).where(f"array_contains(exports, '{export}')")
    counts = Counter({row["stream"]: row["count"] for row in table.groupBy("stream").count().collect()})
    assert counts == clean
    assert summary.outside_period[export] == outside > 0
    assert not summary.failed and not summary.rejects_by_file and not summary.rejected


def test_each_reading_is_published_once_and_the_duplicate_log_follows_the_rules_over_both(shared_run, small_spark):
    params, summary = shared_run
    clean, log = expected_union([SHARED / f"{AUGUST}.zip", SHARED / f"{SEPTEMBER}.zip"])
    table = small_spark.read.parquet(params.outputs["clean"])
    assert Counter({row["stream"]: row["count"] for row in table.groupBy("stream").count().collect()}) == clean
    assert table.groupBy("ppt_id", "dev_id", "stream", "time_ms").count().where("count > 1").count() == 0
    names = ("total_rows", "total_dupes", "perfect", "nan", "unclear", "overlap")
    rows = (
        small_spark.read.parquet(params.outputs["duplicate_log"])
        .groupBy("ppt_id", "dev_id", "month", "stream")
        .agg(*[F.sum(name).alias(name) for name in names])
        .collect()
    )
    assert {(r["ppt_id"], r["dev_id"], r["month"], r["stream"]): tuple(r[n] for n in names) for r in rows} == log
    fc = sum(count for (ppt_id, *_), (*_, overlap) in log.items() if ppt_id.startswith("fc") for count in [overlap])
    assert fc > 0 and summary.duplicates.overlap == fc
    assert summary.overlap_by_exports == {f"{AUGUST} & {SEPTEMBER}": fc}
    assert set(summary.overlap_by_participant) == {"fc096", "fc157"}
    read = sum(v for k, v in summary.read.items())
    assert read == summary.clean_rows.total() + summary.rejected.total() + sum(summary.dropped.values())


def test_august_scenarios_unclear_events_and_two_devices(shared_run, small_spark):
    params, _ = shared_run
    log = small_spark.read.parquet(params.outputs["duplicate_log"]).where(
        f"array_contains(exports, '{AUGUST}') AND stream = 'eda'"
    )
    unclear = {r["ppt_id"]: r["unclear"] for r in log.where("unclear > 0").collect()}
    assert set(unclear) == {"fc096", "mgh096"}
    two_devices = small_spark.read.parquet(params.outputs["clean"]).where(
        f"array_contains(exports, '{AUGUST}') AND stream = 'eda' AND ppt_id = 'fc157'"
    )
    assert {r["dev_id"] for r in two_devices.select("dev_id").distinct().collect()} == {"ABCDE12345", "12345ABCDE"}
    assert log.where("ppt_id = 'fc157'").agg({"total_dupes": "sum"}).first()[0] == 0


def test_september_top_folder_gives_the_same_structure(shared_run, small_spark):
    params, _ = shared_run
    for url in (params.outputs[name] for name in ("clean", "duplicate_log", "devices")):
        frame = small_spark.read.parquet(url)
        by_export = {
            export: sorted(
                (r["ppt_id"], r["dev_id"])
                for r in frame.where(f"array_contains(exports, '{export}')").select("ppt_id", "dev_id").distinct().collect()
            )
            for export in (AUGUST, SEPTEMBER)
        }
        assert len(by_export[AUGUST]) == len(by_export[SEPTEMBER]) == 6
        assert {"u01157", "fc157"} <= {ppt for ppt, _ in by_export[SEPTEMBER]}
    devices = small_spark.read.parquet(params.outputs["devices"])
    assert devices.where(f"array_contains(exports, '{SEPTEMBER}')").count() == 6
    # The FC devices' records are the same in both exports: one row each, held by both.
    assert devices.count() == 9 and devices.where("size(exports) = 2").count() == 3
    assert {r["timezone_minutes"] for r in devices.collect()} == {-240}
    pairs = {
        (r["ppt_id"], r["dev_id"]) for r in small_spark.read.parquet(params.outputs["clean"]).select("ppt_id", "dev_id").collect()
    }
    worn = {(r["ppt_id"], r["dev_id"]) for r in small_spark.read.parquet(params.outputs["wear_time"]).collect()}
    assert worn == pairs and len(pairs) == 9
