"""make data-report dataset=ingest: recordings per subject and day, and where each subject's data sits, codes only."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

import boto3
import pytest
from ingest_helpers import SENSITIVE, make_src, write_edf

from job_helpers.ingest.connect import map_storage
from job_helpers.ingest.read import find_manifests, prepare
from job_helpers.ingest.restore import request_restore
from job_helpers.ingest.subjects import ObjectSubjectStore
from job_helpers.ingest.write import Targets, ingest, save_codes
from job_helpers.storage import Storage, join, local_path, split_s3
from tests.support.data_report_pages import new_project, number, opened, written


@pytest.mark.subprocess
def test_ingest_report_shows_codes_only_recordings_per_day_and_where_data_sits(tmp_path, capsys):
    project = new_project(tmp_path / "repo")
    src = make_src(tmp_path / "incoming")
    assert project.cli("ingest", "--src", str(src), "--dataset", "eeg") == 0
    # A later recording of one subject: a second tar part, holding that file alone.
    write_edf(src / "Smith_John" / "EEG" / "later.edf", "Smith John", "r", datetime(2024, 4, 1, 8))
    assert project.cli("ingest", "--src", str(src), "--dataset", "eeg") == 0
    capsys.readouterr()
    subjects = json.loads((project.root / "map.json").read_text())["subjects"]
    codes = set(subjects.values())
    datasets = project.settings().datasets
    landing = local_path(datasets["ingest.eeg"])
    next(local_path(datasets["ingest_archive"]).rglob("*.tar")).unlink()

    dom, found = opened(written(project, capsys, "--dataset", "ingest"), tmp_path / "chromium")
    files = Counter(path.relative_to(landing).parts[0] for path in landing.rglob("*") if path.is_file())
    shown = Counter()
    for row in found["ingest-eeg-recordings"].table():
        shown[row["subject"]] += number(row["files"])
    assert shown == files and set(files) == codes and len(codes) == 3
    days = {row["day"] for row in found["ingest-eeg-recordings"].table()}
    assert {"2024-03-01", "2024-03-02", "2024-03-03"} <= days, "EDF start dates"

    places = {row["subject"]: row for row in found["ingest-eeg-places"].table()}
    assert set(places) == codes
    assert sorted(row["tar in archive"] for row in places.values()) == ["no", "yes", "yes"]
    assert {code: row["tar parts"] for code, row in places.items()} == {
        code: "2" if code == subjects["john smith"] else "1" for code in codes
    }
    assert all(row["files"] == row["in landing"] for row in places.values())
    assert "2 of 3 subject(s) have every file in landing and every tar part in the archive." in found["ingest-eeg-places"].reading
    for word in SENSITIVE:
        assert word not in dom.casefold(), f"{word!r} is in the report"


def test_ingest_report_on_s3_shows_deep_archive_tars_and_a_restored_one(moto_server, tmp_path, capsys):
    project = new_project(tmp_path / "repo")
    options = project.settings("aws").section("ingest")
    assert options is not None
    landing, archive = options.landing_url("eeg"), options.archive_url
    s3 = boto3.Session(region_name="us-east-1").client("s3")
    for url in (landing, archive):
        s3.create_bucket(Bucket=split_s3(url)[0])
    storage = Storage(s3_client=s3)
    subjects = ObjectSubjectStore(map_storage(None, None), (tmp_path / "map.json").as_uri())
    src = make_src(tmp_path / "incoming")
    plan, new = prepare(src, 1, subjects)
    save_codes(subjects, new)
    ingest(plan, src, Targets("eeg", landing, archive, "DEEP_ARCHIVE"), storage, workers=2)
    restored = find_manifests(storage, archive, "eeg")[0]
    request_restore(storage, join(archive, restored.archive.key), 1, "Bulk")

    dom, found = opened(written(project, capsys, "--dataset", "ingest", profile="aws"), tmp_path / "chromium")
    places = {row["subject"]: row for row in found["ingest-eeg-places"].table()}
    assert set(places) == set(new.values()) and len(places) == 3
    assert {row["storage class"] for row in places.values()} == {"DEEP_ARCHIVE"}
    assert places[restored.subject]["restore"] in ("in-progress", "available")
    assert [row["restore"] for code, row in places.items() if code != restored.subject] == ["none", "none"]
    shown = Counter()
    for row in found["ingest-eeg-recordings"].table():
        shown[row["subject"]] += number(row["files"])
    assert shown == {code: len([f for f in plan.files if f.key.startswith(f"{code}/")]) for code in places}
    for word in SENSITIVE:
        assert word not in dom.casefold(), f"{word!r} is in the report"
