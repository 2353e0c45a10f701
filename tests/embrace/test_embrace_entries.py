"""Archive entries the names alone would get wrong: two members of one name, unsafe paths, timestamps in seconds."""

from __future__ import annotations

import json
import warnings
import zipfile
from datetime import date

import pytest
from embrace_helpers import job_argv

import jobs.embrace_dedupe as job
from job_helpers.embrace.archives import Archive, Selection
from job_helpers.embrace.read import member_groups
from job_helpers.storage import Storage

EXPORT = "Sensors_U02_FC_20240301_20240331"
EDA = "Unix Timestamp (UTC),EDA (microS)\n"
TEMP = "Unix Timestamp (UTC),Degrees (°C)\n"
ACC = "Unix Timestamp (UTC),x (g),y (g),z (g)\n"
MIDNIGHT_MS = 1709251200000  # 2024-03-01T00:00:00Z
REPEATED = "U02/FC/006/devF/eda.csv"
UNSAFE = {
    "U02/FC/../devF/eda.csv": "'..' segment",
    "U02/FC/./devF/temp.csv": "'.' segment",
    "U02/FC//devF/acc.csv": "empty segment",
    "/U02/FC/007/devH/eda.csv": "absolute",
    "U02/FC/ ../devF/eda.csv": "'..' segment",
}
SECONDS = "U02/FC/008/devS/temp.csv"
# One device stream spelled two ways (participant and file name in other cases), overlapping by 5 readings.
SPELLINGS = {"U02/FC/P009/devC/eda.csv": 0, "U02/fc/p009/devC/EDA.CSV": 5}
LONG_ID = "p" * 300


def eda_rows(first_ms: int, count: int) -> str:
    return "".join(f"{first_ms + 250 * n},{0.5 + n / 100:.2f}\n" for n in range(count))


def write_archive(path) -> None:
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as archive:
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about the duplicate name, which is the point
        archive.writestr(REPEATED, EDA + eda_rows(MIDNIGHT_MS, 10))
        archive.writestr(REPEATED, EDA + eda_rows(MIDNIGHT_MS + 10_000, 10) + "1709251300000,0.1,9\n")
        for name in UNSAFE:
            header = {"eda": EDA, "temp": TEMP, "acc": ACC}[name.rsplit("/", 1)[-1][:-4]]
            archive.writestr(name, header)
        seconds = "".join(f"{MIDNIGHT_MS // 1000 + n},{30 + n / 10:.1f}\n" for n in range(5))
        archive.writestr(SECONDS, TEMP + seconds + f"{MIDNIGHT_MS + 9000},31.0\n")
        for name, first in SPELLINGS.items():
            archive.writestr(name, EDA + "".join(eda_rows(MIDNIGHT_MS, 15).splitlines(keepends=True)[first : first + 10]))
        archive.writestr(f"U02/FC/{LONG_ID}/devL/eda.csv", EDA + eda_rows(MIDNIGHT_MS, 5))


@pytest.fixture(scope="module")
def run(small_spark, tmp_path_factory):
    """The job run on the archive; its report, as published in the reports folder."""
    root = tmp_path_factory.mktemp("embrace-entries")
    landing, lake = root / "landing", root / "lake"
    landing.mkdir()
    write_archive(landing / f"{EXPORT}.zip")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JOB_HELPERS_RUNTIME", "local")
        job.main(job_argv(landing, lake, "2024-03-01", "2024-03-31"))
    report = json.loads((lake / "reports" / "2024-03-01_2024-03-31.json").read_text())
    return lake, report


def test_two_members_of_one_name_are_both_read_as_one_stream(run, small_spark):
    lake, report = run
    assert report["status"] == "SUCCEEDED" and not report["failed"]
    clean = small_spark.read.parquet(str(lake / "clean")).where("ppt_id = 'fc006' AND stream = 'eda'")
    assert clean.count() == 20
    (log,) = small_spark.read.parquet(str(lake / "duplicate_log")).where("ppt_id = 'fc006'").collect()
    assert (log["total_rows"], log["perfect"], log["total_dupes"]) == (20, 0, 0)
    assert report["details"]["repeated_members"] == {f"{EXPORT}.zip/{REPEATED}": 2}
    assert report["details"]["rejects_by_file"][f"{EXPORT}.zip/{REPEATED}#2"] == 1
    (reject,) = small_spark.read.json(str(lake / "rejects")).where(f"file = '{REPEATED}#2'").collect()
    assert (reject["line"], reject["record"]) == (12, "1709251300000,0.1,9")


def test_members_with_unsafe_paths_are_refused_as_rejects_and_the_rest_is_published(run, small_spark):
    lake, report = run
    refused = report["details"]["refused_members"]
    assert set(refused) == {f"{EXPORT}.zip/{name}" for name in UNSAFE}
    for name, reason in UNSAFE.items():
        assert reason in refused[f"{EXPORT}.zip/{name}"]
    rejects = small_spark.read.json(str(lake / "rejects")).where("record IS NULL").collect()
    assert sorted((r["stream"], r["file"]) for r in rejects) == sorted((n.rsplit("/", 1)[-1][:-4], n) for n in UNSAFE)
    ids = {r["ppt_id"] for r in small_spark.read.parquet(str(lake / "clean")).select("ppt_id").distinct().collect()}
    assert ids == {"fc006", "fc008", "fcp009", f"fc{LONG_ID}"}


def test_other_spellings_of_one_stream_are_read_as_one_and_long_ids_are_published(run, small_spark):
    lake, report = run
    clean = small_spark.read.parquet(str(lake / "clean"))
    spelled = clean.where("ppt_id = 'fcp009'")
    assert {(r["dev_id"], r["stream"]) for r in spelled.select("dev_id", "stream").distinct().collect()} == {("devC", "eda")}
    assert spelled.count() == 15 and spelled.select("time_ms").distinct().count() == 15
    (log,) = small_spark.read.parquet(str(lake / "duplicate_log")).where("ppt_id = 'fcp009'").collect()
    assert (log["total_rows"], log["perfect"]) == (20, 10)  # both copies of the 5 readings the spellings share
    assert clean.where(f"ppt_id = 'fc{LONG_ID}' AND dev_id = 'devL'").count() == 5
    assert report["read"]["eda"] == 20 + 20 + 5 + 1


def test_timestamps_in_seconds_are_read_as_seconds_and_reported(run, small_spark):
    lake, report = run
    assert report["details"]["timestamps_in_seconds"] == [f"{EXPORT}.zip/{SECONDS}"]
    rows = small_spark.read.parquet(str(lake / "clean")).where("ppt_id = 'fc008'").orderBy("time_ms").collect()
    assert [r["time_ms"] for r in rows] == [MIDNIGHT_MS + 1000 * n for n in range(5)]
    assert {str(r["date"]) for r in rows} == {"2024-03-01"}
    (reject,) = small_spark.read.json(str(lake / "rejects")).where(f"file = '{SECONDS}'").collect()
    assert (reject["line"], reject["reason"]) == (7, "timestamp is not in seconds like the member's")


def test_refusal_happens_only_for_selected_streams(tmp_path):
    path = tmp_path / f"{EXPORT}.zip"
    write_archive(path)
    found = Archive(path.as_uri(), EXPORT, "U02", "FC", date(2024, 3, 1), date(2024, 3, 31))
    members = member_groups(found, Selection(streams=("temp",)), Storage())
    assert [m.name for m in members.refused] == ["U02/FC/./devF/temp.csv"]
    assert [(g.ppt_id, g.kind, [e.label for e in g.entries]) for g in members.groups] == [("fc008", "temp", [SECONDS])]
    eda = member_groups(found, Selection(streams=("eda",)), Storage())
    assert [e.label for g in eda.groups for e in g.entries] == [
        f"{REPEATED}#1",
        f"{REPEATED}#2",
        *SPELLINGS,
        f"U02/FC/{LONG_ID}/devL/eda.csv",
    ]
