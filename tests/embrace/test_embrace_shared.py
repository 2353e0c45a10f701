"""The shared August and September exports: counts and the duplicate log follow from the raw CSVs."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from embrace_helpers import SHARED, chunk_params, run_chunk
from oracle import expected

from job_helpers.storage import Storage

AUGUST = "Sensors_U02_ALLSITES_20190801_20190831"
SEPTEMBER = "Sensors_U02_ALLSITES_20190901_20190930"


@pytest.fixture(scope="module")
def shared_run(small_spark, tmp_path_factory):
    if not (SHARED / f"{AUGUST}.zip").is_file():
        pytest.skip(f"reference data not found at {SHARED.resolve()} (the shared folder beside the repository)")
    lake = tmp_path_factory.mktemp("embrace-shared")
    params = chunk_params(SHARED, lake, date(2019, 8, 1), date(2019, 9, 30))
    return params, run_chunk(small_spark, Storage(), params)


@pytest.mark.parametrize("export", [AUGUST, SEPTEMBER])
def test_clean_rows_per_stream_follow_the_rules(shared_run, small_spark, export):
    params, summary = shared_run
    clean, _, outside = expected(SHARED / f"{export}.zip")
    table = small_spark.read.parquet(params.outputs["clean"]).where(f"export = '{export}'")
    counts = Counter({row["stream"]: row["count"] for row in table.groupBy("stream").count().collect()})
    assert counts == clean
    assert summary.outside_period[export] == outside > 0
    assert not summary.failed and not summary.rejects_by_file and not summary.rejected


@pytest.mark.parametrize("export", [AUGUST, SEPTEMBER])
def test_duplicate_log_follows_the_rules(shared_run, small_spark, export):
    params, _ = shared_run
    _, log, _ = expected(SHARED / f"{export}.zip")
    rows = small_spark.read.parquet(params.outputs["duplicate_log"]).where(f"export = '{export}'").collect()
    found = {
        (r["ppt_id"], r["dev_id"], r["month"], r["stream"]): (
            r["total_rows"],
            r["total_dupes"],
            r["perfect"],
            r["nan"],
            r["unclear"],
        )
        for r in rows
    }
    assert found == log


def test_august_scenarios_unclear_events_and_two_devices(shared_run, small_spark):
    params, _ = shared_run
    log = small_spark.read.parquet(params.outputs["duplicate_log"]).where(f"export = '{AUGUST}' AND stream = 'eda'")
    unclear = {r["ppt_id"]: r["unclear"] for r in log.where("unclear > 0").collect()}
    assert set(unclear) == {"fc096", "mgh096"}
    two_devices = small_spark.read.parquet(params.outputs["clean"]).where(
        f"export = '{AUGUST}' AND stream = 'eda' AND ppt_id = 'fc157'"
    )
    assert {r["dev_id"] for r in two_devices.select("dev_id").distinct().collect()} == {"ABCDE12345", "12345ABCDE"}
    assert log.where("ppt_id = 'fc157'").agg({"total_dupes": "sum"}).first()[0] == 0


def test_september_top_folder_gives_the_same_structure(shared_run, small_spark):
    params, _ = shared_run
    for url in (params.outputs[name] for name in ("clean", "duplicate_log", "devices", "wear_time")):
        frame = small_spark.read.parquet(url)
        by_export = {
            export: sorted(
                (r["ppt_id"], r["dev_id"])
                for r in frame.where(f"export = '{export}'").select("ppt_id", "dev_id").distinct().collect()
            )
            for export in (AUGUST, SEPTEMBER)
        }
        assert len(by_export[AUGUST]) == len(by_export[SEPTEMBER]) == 6
        assert {"u01157", "fc157"} <= {ppt for ppt, _ in by_export[SEPTEMBER]}
    devices = small_spark.read.parquet(params.outputs["devices"]).where(f"export = '{SEPTEMBER}'")
    assert devices.count() == 6
    assert {r["timezone_minutes"] for r in devices.collect()} == {-240}
