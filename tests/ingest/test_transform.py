"""The plan: keys built from code, recording start, number and type; only kept source text; numbering in
recording order; EDF identity fields; files shown by position; earlier landings found by content."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import Path, PurePosixPath

import pytest
from ingest_helpers import PATIENTS, assert_no_names, make_patient, write_edf

from job_helpers.ingest import edf
from job_helpers.ingest.keep import Keep
from job_helpers.ingest.manifest import ArchiveEntry, Manifest, ManifestFile
from job_helpers.ingest.read import payload_digests, scan_tree
from job_helpers.ingest.subjects import assign_codes
from job_helpers.ingest.transform import NameLeakError, PlanError, ScannedFile, build_plan, patient_folders, settle, subject_keys

CODES = {"john smith": "11111111", "lopez maria": "22222222", "anna berg der van": "33333333"}
KEEP = Keep(folders=("EEG", "video", "session [0-9]+"), extensions=("mp4", "txt"))
# A built key: code, kept folders (here: none, or those of KEEP), code, optional start, number, type.
BUILT = re.compile(r"(\d{8})/(?:(?:EEG|video|session \d+)/)*\1(?:_\d{8}T\d{6})?_\d+\.(?:edf|bdf|mp4|txt|bin)")


def test_plan_of_generated_patients(src: Path) -> None:
    files = scan_tree(src).files
    assert subject_keys(patient_folders(files, 1)) == set(CODES)
    plan = build_plan(files, CODES, 1, new_keys={"john smith"}, keep=KEEP)
    assert [s.code for s in plan.subjects] == ["11111111", "22222222", "33333333"]
    assert [s.new for s in plan.subjects] == [True, False, False]
    smith = plan.subjects[0]
    source = {f.key: f.source.name for f in smith.files}
    assert source == {
        # EDF keys carry the header's start: "second" was recorded at 09:30, "first" at 14:00, the session file next day.
        "11111111/EEG/11111111_20240301T093000_1.edf": "JohnSmith_second.EDF",
        "11111111/EEG/11111111_20240301T140000_1.edf": "SMITH_JOHN_first.edf",
        "11111111/EEG/11111111_20240302T100000_1.edf": "john smith_2024-03-01_1000.edf",
        # Other types are numbered by the time in their names, undated last; the folder "reports …" is not kept.
        "11111111/video/11111111_1.mp4": "john smith_20240301T081500.mp4",
        "11111111/video/11111111_2.mp4": "SMITH_JOHN_20240301T101500.mp4",
        "11111111/11111111_1.txt": "JohnSmith-report-2024-03-01.txt",
        "11111111/11111111_2.txt": "notes.txt",
    }
    assert {f.time_from for f in smith.files} == {"header", "name", "none"}
    # By position, in byte order: Smith_John is the 1st folder of src; EEG, "reports …" and video its 1st to 3rd.
    assert smith.folders == ("#1",)
    assert {f.locator for f in smith.files} == {
        "#1/#1/#1",
        "#1/#1/#2",
        "#1/#1/#3/#1",
        "#1/#2/#1",
        "#1/#2/#2",
        "#1/#3/#1",
        "#1/#3/#2",
    }
    for planned in plan.files:
        assert BUILT.fullmatch(planned.key), planned.key
        assert_no_names(planned.key + planned.locator + repr(planned), planned.key)
        if planned.kind == "edf":
            assert planned.deid is not None and planned.header_rewritten
            header = edf.parse_header(planned.deid.header)
            assert_no_names(header.patient + header.recording, planned.key)
            assert planned.key.split("/")[0] in header.patient
        else:
            assert planned.deid is None
    assert_no_names(" ".join(f for s in plan.subjects for f in s.folders), "folders")


def test_nothing_of_the_source_path_is_kept_by_default(src: Path) -> None:
    plan = build_plan(scan_tree(src).files, CODES)
    keys = {f.key for f in plan.files if f.key.startswith("11111111/")}
    assert keys == {
        "11111111/11111111_1.bin",
        "11111111/11111111_2.bin",
        "11111111/11111111_3.bin",
        "11111111/11111111_4.bin",
        "11111111/11111111_20240301T093000_1.edf",
        "11111111/11111111_20240301T140000_1.edf",
        "11111111/11111111_20240302T100000_1.edf",
    }


@pytest.mark.parametrize(
    "name",
    [
        "Johnny's recordings",  # a nickname and an apostrophe the matcher does not know
        "born 1951-05-02",  # a date of birth: a time in a name orders files, but never reaches a key
        "MRN 0234567 St Mary",  # a hospital number and a hospital
        "Jean-Pierre",  # a second given name only the family knows
        unicodedata.normalize("NFD", "Jürgen") + " Müller",
        "Смит",
        "史密斯",
    ],
)
def test_no_text_of_a_source_path_reaches_a_key_unless_kept(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "src" / "Smith_John" / name
    folder.mkdir(parents=True)
    (folder / f"{name}.txt").write_text("x")
    (folder / f"{name} 2024-03-01.mp4").write_text("x")
    (folder / f"{name}.{name}").write_text("x")
    write_edf(folder / f"{name}.rec", name, name, datetime(2024, 3, 1, 8))
    plan = build_plan(scan_tree(tmp_path / "src").files, CODES, keep=KEEP)
    for planned in plan.files:
        assert BUILT.fullmatch(planned.key), planned.key
        assert "1951" not in planned.key and "0234567" not in planned.key and "#" in planned.locator
        assert not set(re.findall(r"[^\W\d_]{3,}", name.casefold())) & set(re.findall(r"[^\W\d_]{3,}", planned.key.casefold()))


@pytest.mark.parametrize(
    ("patient", "kept"),
    [
        ("O'Brien_Sean", "OBrien notes"),
        ("O'Brien_Sean", "o’brien"),
        ("D'Angelo, Maria", "Dr D'Angelo"),
        ("Lee_Anna", "DrLee"),
        ("Lee_Anna", "Lee session 2"),
        ("Ng_Wei", "MrsNg"),
        ("Smith-Jones Ann", "jones"),
        ("van der Berg, Anna", "Berg"),
        ("Иванов Иван", "Ivanov"),
        ("王伟", "Wang"),
        ("Müller_Jürgen", unicodedata.normalize("NFD", "Müller")),
        (unicodedata.normalize("NFD", "Müller_Jürgen"), "Mueller"),
    ],
)
def test_a_kept_folder_holding_the_name_refuses_the_plan_naming_the_file_by_position(
    tmp_path: Path, patient: str, kept: str
) -> None:
    folder = tmp_path / "src" / patient
    (folder / kept).mkdir(parents=True)
    (folder / kept / "a.txt").write_text("x")
    (folder / "ok").mkdir()
    (folder / "ok" / "b.txt").write_text("x")
    files = scan_tree(tmp_path / "src").files
    codes = {key: "44444444" for key in subject_keys(patient_folders(files, 1))}
    assert build_plan(files, codes, keep=Keep(folders=("ok",)))  # not kept: dropped, nothing refused
    with pytest.raises(NameLeakError) as caught:
        build_plan(files, codes, keep=Keep(folders=(".*",)))
    message = str(caught.value)
    position = sorted([kept, "ok"]).index(kept) + 1
    assert "1 file(s)" in message and f"#1/#{position}/#1: a folder kept by ingest.keep.folders" in message
    assert kept.casefold() not in message.casefold() and f"#1/#{3 - position}/#1" not in message


def test_a_kept_extension_holding_the_name_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "src" / "Lee_Anna"
    folder.mkdir(parents=True)
    (folder / "report.lee").write_text("x")
    files = scan_tree(tmp_path / "src").files
    codes = {"anna lee": "44444444"}
    assert [f.key for f in build_plan(files, codes).files] == ["44444444/44444444_1.bin"]
    with pytest.raises(NameLeakError, match="#1/#1: an extension kept by ingest.keep.extensions"):
        build_plan(files, codes, keep=Keep(extensions=("[a-z]+",)))


def test_a_name_split_over_kept_parts_or_in_look_alike_letters_is_refused(tmp_path: Path) -> None:
    """Each kept part alone holds no name word; the key built of them does, or the check cannot read them."""
    folder = tmp_path / "src" / "Smith_John"
    for kept, file in [("Smi/th", "a.txt"), ("Smi", "b.th"), ("ok", "c.txt"), ("Ѕmіth", "d.txt")]:
        (folder / kept).mkdir(parents=True, exist_ok=True)
        (folder / kept / file).write_text("x")
    files = scan_tree(tmp_path / "src").files
    codes = {"john smith": "44444444"}
    with pytest.raises(NameLeakError) as caught:
        build_plan(files, codes, keep=Keep(folders=(".*",), extensions=("txt", "th")))
    message = str(caught.value)
    # By position (LC_ALL=C order: Smi, ok, Ѕmіth): b.th in Smi, a.txt in Smi/th, d.txt in Ѕmіth; ok/c.txt is fine.
    assert "3 file(s)" in message and "\n  #1/#2/#1" not in message
    assert "#1/#1/#1: its landing key holds a word of the name" in message
    assert "#1/#1/#2/#1: its landing key holds a word of the name" in message
    assert "#1/#3/#1: a folder kept by ingest.keep.folders mixes scripts within a word (Cyrillic and Latin)" in message
    assert not {"smi", "ѕmіth", "smith", ".th"} & set(re.split(r"[^\w.]+", message.casefold()))


def test_same_patient_in_two_folders_is_one_subject(tmp_path: Path) -> None:
    make_patient(tmp_path / "src" / "Smith_John", PATIENTS["Smith_John"], 1)
    make_patient(tmp_path / "src" / "JOHN smith", PATIENTS["Smith_John"], 3)
    plan = build_plan(scan_tree(tmp_path / "src").files, CODES, keep=KEEP)
    assert len(plan.subjects) == 1 and plan.subjects[0].folders == ("#1", "#2")
    keys = [f.key for f in plan.files]
    assert len(keys) == len(set(keys)) == 14
    assert "11111111/video/11111111_4.mp4" in keys and "11111111/EEG/11111111_20240303T093000_1.edf" in keys


def test_files_with_the_same_start_are_numbered_in_path_order(tmp_path: Path) -> None:
    folder = tmp_path / "src" / "Smith_John"
    folder.mkdir(parents=True)
    for name in ("b.edf", "a.edf", "c.bdf"):
        write_edf(folder / name, "x", "y", datetime(2024, 3, 1, 9))
    plan = build_plan(scan_tree(tmp_path / "src").files, CODES)
    assert {f.source.name: f.key for f in plan.files} == {
        "a.edf": "11111111/11111111_20240301T090000_1.edf",
        "b.edf": "11111111/11111111_20240301T090000_2.edf",
        "c.bdf": "11111111/11111111_20240301T090000_3.edf",  # EDF content: the type comes from it, not the name
    }


def test_patient_folders_at_a_deeper_level(tmp_path: Path) -> None:
    make_patient(tmp_path / "src" / "site a" / "Smith_John", PATIENTS["Smith_John"], 1)
    make_patient(tmp_path / "src" / "site b" / "maria LOPEZ", PATIENTS["maria LOPEZ"], 2)
    files = scan_tree(tmp_path / "src").files
    plan = build_plan(files, CODES, depth=2, keep=KEEP)
    assert {f.key.split("/")[0] for f in plan.files} == {"11111111", "22222222"}
    assert all("site" not in f.key for f in plan.files)
    assert [s.folders for s in plan.subjects] == [("#1/#1",), ("#2/#1",)]
    with pytest.raises(PlanError, match="above the patient folders"):
        build_plan(files + [ScannedFile(PurePosixPath("stray.txt"), 1)], CODES, depth=2)


def test_unreadable_edf_stops_the_plan_without_naming_the_patient(tmp_path: Path) -> None:
    folder = tmp_path / "src" / "Smith_John"
    folder.mkdir(parents=True)
    (folder / "smith_john.edf").write_bytes(b"not an edf")
    with pytest.raises(PlanError) as caught:
        build_plan(scan_tree(tmp_path / "src").files, CODES)
    assert "#1/#1: named as EDF/BDF but its content has no EDF or BDF version field" in str(caught.value)
    assert_no_names(str(caught.value).replace(str(tmp_path), ""), "error")


def test_plan_is_a_pure_function_of_tree_and_codes(src: Path) -> None:
    files = scan_tree(src).files
    assert build_plan(files, CODES, keep=KEEP) == build_plan(list(reversed(files)), CODES, keep=KEEP)
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


def test_name_spelled_differently_in_folders_and_headers_never_leaves(tmp_path: Path) -> None:
    make_mueller(tmp_path / "src" / "Müller_Jürgen")
    plan = build_plan(scan_tree(tmp_path / "src").files, {"juergen mueller": "44444444"}, keep=KEEP)
    assert sorted(f.key for f in plan.files) == [
        "44444444/44444444_1.txt",
        "44444444/44444444_20240301T000000_1.edf",
        "44444444/44444444_20240302T000000_1.edf",
    ]
    for planned in plan.files:
        if planned.kind == "edf":
            header = edf.parse_header(planned.deid.header)
            assert (header.patient, header.recording) == ("44444444", "44444444")
        assert "ller" not in (planned.locator + planned.key).lower()


def test_edf_identity_fields_become_the_code_whatever_they_held(tmp_path: Path) -> None:
    folder = tmp_path / "src" / "Smith_John"
    folder.mkdir(parents=True)
    write_edf(
        folder / "x.edf", "MCH-0234567 M 02-MAY-1951 Haagse_Harry", "Startdate 02-MAR-2002 EMG561 BK/JOP", datetime(2002, 3, 2)
    )
    header = edf.parse_header(build_plan(scan_tree(tmp_path / "src").files, CODES).files[0].deid.header)
    assert (header.patient, header.recording) == ("11111111", "11111111")


def test_symbolic_links_are_reported_in_the_plan_by_position(tmp_path: Path) -> None:
    folder = tmp_path / "src" / "Smith_John"
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text("x")
    (folder / "smith_link.txt").symlink_to(folder / "a.txt")
    (folder / "linked dir").symlink_to(tmp_path, target_is_directory=True)
    tree = scan_tree(tmp_path / "src")
    plan = build_plan(tree.files, CODES, skipped=tree.skipped, keep=KEEP)
    assert [f.key for f in plan.files] == ["11111111/11111111_1.txt"]
    assert plan.skipped == ("#1/#2 (symbolic link, not followed)", "#1/#3 (symbolic link, not followed)")


def manifest(code: str, ingest: str, files: list[tuple[str, str, int]]) -> Manifest:
    listed = tuple(ManifestFile(key, sha256, size) for key, sha256, size in files)
    return Manifest("eeg", code, ingest, "2024-01-01T00:00:00+00:00", listed, ArchiveEntry("t", "s", 1, "STANDARD", ()))


def test_content_landed_before_keeps_its_key_and_new_files_skip_used_keys(src: Path) -> None:
    plan = build_plan(scan_tree(src).files, CODES, keep=KEEP)
    digests = payload_digests(src, plan.files, 2)
    smith = {f.key: f for f in plan.subjects[0].files}
    notes = smith["11111111/11111111_2.txt"]
    video = smith["11111111/video/11111111_1.mp4"]
    landed = {
        "11111111": [
            # An ingest under the old scheme: the folder written as the old cleaner left it.
            manifest("11111111", "old1", [("11111111/reports 11111111/11111111_2.txt", digests[notes.source], notes.size)]),
            # The same content again in a later manifest under another key: the latest wins.
            manifest("11111111", "old2", [("11111111/reports 11111111/notes.txt", digests[notes.source], notes.size)]),
            # A file whose content changed since: its key stays taken, the new content gets the next number.
            manifest("11111111", "old3", [("11111111/video/11111111_1.mp4", "0" * 64, video.size)]),
        ]
    }
    settled = settle(plan, digests, landed)
    by_source = {f.source: f for f in settled.files}
    assert by_source[notes.source].key == "11111111/reports 11111111/notes.txt"
    assert by_source[notes.source].landed_by == "old2"
    # None of these manifests has a tar part holding it: this ingest's part takes it.
    assert by_source[notes.source].archived_by is None
    assert by_source[video.source].key == "11111111/video/11111111_2.mp4" and by_source[video.source].landed_by is None
    keys = [f.key for f in settled.files]
    assert len(keys) == len(set(keys)) == 21 and all(f.sha256 == digests[f.source] for f in settled.files)
    assert settle(plan, digests, {}) == settle(plan, digests, {"99999999": landed["11111111"]})
    assert [f.key for f in settle(plan, digests, {}).files] == [f.key for f in plan.files]


def test_content_an_earlier_part_holds_is_not_archived_again(src: Path) -> None:
    plan = build_plan(scan_tree(src).files, CODES, keep=KEEP)
    digests = payload_digests(src, plan.files, 2)
    smith = {f.key: f for f in plan.subjects[0].files}
    notes, video = smith["11111111/11111111_2.txt"], smith["11111111/video/11111111_1.mp4"]
    listed = [(notes.key, digests[notes.source], notes.size), (video.key, digests[video.source], video.size)]
    full = manifest("11111111", "full", listed)
    held = Manifest(
        full.dataset, full.subject, "part", full.created, full.files, ArchiveEntry("t", "s", 1, "STANDARD", (notes.key,))
    )
    by_key = {f.key: f for f in settle(plan, digests, {"11111111": [held]}).files}
    assert (by_key[notes.key].landed_by, by_key[notes.key].archived_by) == ("part", "part")
    assert (by_key[video.key].landed_by, by_key[video.key].archived_by) == ("part", None), "listed, but in no part"
    assert all(f.archived_by is None for f in by_key.values() if f.key not in (notes.key, video.key))


def test_a_key_landed_before_that_holds_the_name_is_refused(src: Path) -> None:
    plan = build_plan(scan_tree(src).files, CODES, keep=KEEP)
    digests = payload_digests(src, plan.files, 2)
    notes = next(f for f in plan.subjects[0].files if f.key == "11111111/11111111_2.txt")
    leaky = manifest("11111111", "old1", [("11111111/reports JohnSmith/11111111_2.txt", digests[notes.source], notes.size)])
    with pytest.raises(NameLeakError) as caught:
        settle(plan, digests, {"11111111": [leaky]})
    assert "in landing under a key of ingest old1" in str(caught.value)
    assert_no_names(str(caught.value), "error")
