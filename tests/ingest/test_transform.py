"""The rename plan: keys, numbering in recording order, EDF header patches, redaction, depth."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path, PurePosixPath

import pytest
from ingest_helpers import PATIENTS, assert_no_names, make_patient, write_edf

from job_helpers.ingest import edf
from job_helpers.ingest.read import scan_tree
from job_helpers.ingest.subjects import assign_codes
from job_helpers.ingest.transform import PlanError, ScannedFile, build_plan, patient_folders, subject_keys

CODES = {"john smith": "11111111", "lopez maria": "22222222", "anna berg der van": "33333333"}


def test_plan_of_generated_patients(src: Path) -> None:
    files = scan_tree(src).files
    assert subject_keys(patient_folders(files, 1)) == set(CODES)
    plan = build_plan(files, CODES, 1, new_keys={"john smith"})
    assert [s.code for s in plan.subjects] == ["11111111", "22222222", "33333333"]
    assert [s.new for s in plan.subjects] == [True, False, False]
    smith = plan.subjects[0]
    by_key = {f.key: f for f in smith.files}
    assert sorted(by_key) == [
        "11111111/EEG/11111111 session 2/11111111_3.edf",
        "11111111/EEG/11111111_1.edf",
        "11111111/EEG/11111111_2.edf",
        "11111111/reports 11111111/11111111_1.txt",
        "11111111/reports 11111111/11111111_2.txt",
        "11111111/video/11111111_1.mp4",
        "11111111/video/11111111_2.mp4",
    ]
    source = {f.key: f.source.name for f in smith.files}
    # EDF order from the header: "second" was recorded at 09:30, "first" at 14:00, the session file next day.
    assert source["11111111/EEG/11111111_1.edf"] == "JohnSmith_second.EDF"
    assert source["11111111/EEG/11111111_2.edf"] == "SMITH_JOHN_first.edf"
    # Other types from times in their names; undated files last.
    assert source["11111111/video/11111111_1.mp4"] == "john smith_20240301T081500.mp4"
    assert source["11111111/reports 11111111/11111111_2.txt"] == "notes.txt"
    assert {f.time_from for f in smith.files} == {"header", "name", "none"}
    for planned in plan.files:
        assert_no_names(planned.key + planned.shown + repr(planned), planned.key)
        if planned.kind == "edf":
            header = edf.parse_header(planned.header_patch)
            assert_no_names(header.patient + header.recording, planned.key)
            assert planned.key.split("/")[0] in header.patient
        else:
            assert planned.header_patch is None
    assert_no_names(" ".join(f for s in plan.subjects for f in s.folders), "folders")


def test_same_patient_in_two_folders_is_one_subject(tmp_path: Path) -> None:
    make_patient(tmp_path / "src" / "Smith_John", PATIENTS["Smith_John"], 1)
    make_patient(tmp_path / "src" / "JOHN smith", PATIENTS["Smith_John"], 3)
    plan = build_plan(scan_tree(tmp_path / "src").files, CODES)
    assert len(plan.subjects) == 1
    keys = [f.key for f in plan.files]
    assert len(keys) == len(set(keys)) == 14
    assert "11111111/EEG/11111111_4.edf" in keys


def test_patient_folders_at_a_deeper_level(tmp_path: Path) -> None:
    make_patient(tmp_path / "src" / "site a" / "Smith_John", PATIENTS["Smith_John"], 1)
    make_patient(tmp_path / "src" / "site b" / "maria LOPEZ", PATIENTS["maria LOPEZ"], 2)
    files = scan_tree(tmp_path / "src").files
    plan = build_plan(files, CODES, depth=2)
    assert {f.key.split("/")[0] for f in plan.files} == {"11111111", "22222222"}
    assert all("site" not in f.key for f in plan.files)
    with pytest.raises(PlanError, match="above the patient folders"):
        build_plan(files + [ScannedFile(PurePosixPath("stray.txt"), 1)], CODES, depth=2)


def test_unreadable_edf_stops_the_plan_without_naming_the_patient(tmp_path: Path) -> None:
    folder = tmp_path / "src" / "Smith_John"
    folder.mkdir(parents=True)
    (folder / "smith_john.edf").write_bytes(b"not an edf")
    with pytest.raises(PlanError) as caught:
        build_plan(scan_tree(tmp_path / "src").files, CODES)
    assert "***" in str(caught.value)
    assert_no_names(str(caught.value).replace(str(tmp_path), ""), "error")


def test_plan_is_a_pure_function_of_tree_and_codes(src: Path) -> None:
    files = scan_tree(src).files
    assert build_plan(files, CODES) == build_plan(list(reversed(files)), CODES)
    other = {**CODES, **assign_codes(["x"], CODES)}
    assert build_plan(files, other) == build_plan(files, CODES)


def make_mueller(folder: Path) -> None:
    """A patient whose name is spelled four ways: folder, sub-folders, file names, EDF headers."""
    session = folder / "Mueller Juergen session"
    surname = folder / "Müller"
    for path in (session, surname):
        path.mkdir(parents=True)
    write_edf(session / "a.edf", "MULLER_JURGEN", "Startdate 01-MAR-2024 Klinik Dr. Weiss", datetime(2024, 3, 1))
    write_edf(surname / "b.edf", "X M 01-JAN-1970 Muller_J", "EEG J.Mueller", datetime(2024, 3, 2))
    (surname / "J_Mueller notes.txt").write_text("notes\n")


def test_name_spelled_differently_in_folders_and_headers_is_replaced(tmp_path: Path) -> None:
    make_mueller(tmp_path / "src" / "Müller_Jürgen")
    plan = build_plan(scan_tree(tmp_path / "src").files, {"jürgen müller": "44444444"})
    assert sorted(f.key for f in plan.files) == [
        "44444444/44444444 session/44444444_1.edf",
        "44444444/44444444/44444444_1.txt",
        "44444444/44444444/44444444_2.edf",
    ]
    for planned in plan.files:
        if planned.kind == "edf":
            header = edf.parse_header(planned.header_patch)
            assert (header.patient, header.recording) == ("44444444", "44444444")
        assert "***" in planned.shown and "ller" not in planned.shown.lower()


def test_edf_identity_fields_become_the_code_whatever_they_hold(tmp_path: Path) -> None:
    folder = tmp_path / "src" / "Smith_John"
    folder.mkdir(parents=True)
    write_edf(
        folder / "x.edf", "MCH-0234567 M 02-MAY-1951 Haagse_Harry", "Startdate 02-MAR-2002 EMG561 BK/JOP", datetime(2002, 3, 2)
    )
    header = edf.parse_header(build_plan(scan_tree(tmp_path / "src").files, CODES).files[0].header_patch)
    assert (header.patient, header.recording) == ("11111111", "11111111")


def test_name_left_after_replacement_refuses_the_plan_naming_the_file_not_the_name(tmp_path: Path) -> None:
    folder = tmp_path / "src" / "Smith_John"
    (folder / "drsmith").mkdir(parents=True)
    (folder / "drsmith" / "a.txt").write_text("x")
    (folder / "ok").mkdir()
    (folder / "ok" / "b.txt").write_text("x")
    with pytest.raises(PlanError) as caught:
        build_plan(scan_tree(tmp_path / "src").files, CODES)
    message = str(caught.value)
    assert "Smith_John/dr***/a.txt".replace("Smith_John", "***") in message and "b.txt" not in message
    assert_no_names(message, "error")


def test_symbolic_links_are_reported_in_the_plan(tmp_path: Path) -> None:
    folder = tmp_path / "src" / "Smith_John"
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text("x")
    (folder / "smith_link.txt").symlink_to(folder / "a.txt")
    (folder / "linked dir").symlink_to(tmp_path, target_is_directory=True)
    tree = scan_tree(tmp_path / "src")
    plan = build_plan(tree.files, CODES, skipped=tree.skipped)
    assert [f.key for f in plan.files] == ["11111111/11111111_1.txt"]
    assert plan.skipped == ("***/linked dir (symbolic link, not followed)", "***/***_link.txt (symbolic link, not followed)")
