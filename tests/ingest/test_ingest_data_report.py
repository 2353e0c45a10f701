"""make data-report dataset=ingest: recordings per subject and day, and where each subject's data sits, codes only."""

from __future__ import annotations

import json
from collections import Counter

from data_report_pages import new_project, number, opened, written
from ingest_helpers import SENSITIVE, make_src

from job_helpers.storage import local_path


def test_ingest_report_shows_codes_only_recordings_per_day_and_where_data_sits(tmp_path, capsys):
    project = new_project(tmp_path / "repo")
    assert project.cli("ingest", "--src", str(make_src(tmp_path / "incoming")), "--dataset", "eeg") == 0
    capsys.readouterr()
    codes = set(json.loads((project.root / "map.json").read_text())["subjects"].values())
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
    assert all(row["files"] == row["in landing"] for row in places.values())
    assert "2 of 3 subject(s) have every file in landing and their tar in the archive." in found["ingest-eeg-places"].reading
    for word in SENSITIVE:
        assert word not in dom.casefold(), f"{word!r} is in the report"
