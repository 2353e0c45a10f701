"""EDF, EDF+ and BDF recognised by content whatever the file is called, and every text in them that
leaves de-identified: identity fields built, annotation texts replaced unless kept, signal labels and
the other free-text header fields checked, each refusal naming the file (by position) and the place."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from ingest_helpers import run_ingest, tal, write_edf, write_edf_plus

from job_helpers.ingest import edf
from job_helpers.ingest.connect import map_storage
from job_helpers.ingest.keep import NOTHING_KEPT, Keep
from job_helpers.ingest.payload import open_payload
from job_helpers.ingest.read import prepare, scan_tree
from job_helpers.ingest.subjects import ObjectSubjectStore
from job_helpers.ingest.transform import NameLeakError, PlanError, PlannedFile, build_plan

CODES = {"john smith": "11111111", "anna lee": "22222222"}
START = datetime(2024, 3, 1, 9, 30)


def payload(src: Path, planned: PlannedFile) -> bytes:
    with open_payload(src / planned.source, planned.deid, planned.size) as stream:
        return stream.read()


def plan_of(src: Path, keep: Keep = NOTHING_KEPT, tmp: Path | None = None):
    store = ObjectSubjectStore(map_storage(None, None), ((tmp or src.parent) / "map.json").as_uri())
    return prepare(src, 1, store, keep, workers=2)[0]


@pytest.mark.parametrize(
    "name",
    ["a.bdf", "a.rec", "a.edf.bak", "A.EDF", "a", "a.txt", "a.dat", ".hidden", "Smith John 02-MAY-1951.EEG"],
)
@pytest.mark.parametrize("kind", ["edf", "bdf"])
def test_an_edf_or_bdf_header_is_de_identified_whatever_the_file_is_called(tmp_path: Path, name: str, kind: str) -> None:
    folder = tmp_path / "src" / "Smith_John"
    folder.mkdir(parents=True)
    reserved = "BDF+C" if kind == "bdf" else ""
    write_edf_plus(folder / name, START, [[b""]], kind=kind, reserved=reserved, patient="Smith John 02-MAY-1951")
    plan = plan_of(tmp_path / "src")
    [planned] = plan.files
    assert planned.key == f"{planned.key[:8]}/{planned.key[:8]}_20240301T093000_1.{kind}"
    body = payload(tmp_path / "src", planned)
    text = body.replace(planned.key[:8].encode(), b"#")  # the random subject code may hold any four digits
    assert b"Smith" not in text and b"1951" not in text and b"MAY" not in text
    header = edf.parse_header(body[:1024])
    assert header.kind == kind and header.patient.startswith(planned.key[:8]) and header.start == START
    assert planned.sha256 and len(body) == planned.size == (tmp_path / "src" / "Smith_John" / name).stat().st_size


def test_files_named_as_edf_or_bdf_without_a_header_are_refused_and_others_are_plain_files(tmp_path: Path) -> None:
    folder = tmp_path / "src" / "Smith_John"
    folder.mkdir(parents=True)
    (folder / "x.rec").write_bytes(b"Smith John 02-MAY-1951 " * 20)
    plan = build_plan(scan_tree(tmp_path / "src").files, CODES)
    assert [f.key for f in plan.files] == ["11111111/11111111_1.bin"]
    for name in ("y.BDF", "z.edf"):
        (folder / name).write_bytes(b"Smith John 02-MAY-1951 " * 20)
    with pytest.raises(PlanError) as caught:
        build_plan(scan_tree(tmp_path / "src").files, CODES)
    assert "#1/#2: named as EDF/BDF" in str(caught.value) and "#1/#3: named as EDF/BDF" in str(caught.value)
    assert "mith" not in str(caught.value)


def test_an_edf_whose_header_is_cut_short_is_refused_whatever_it_is_called(tmp_path: Path) -> None:
    folder = tmp_path / "src" / "Smith_John"
    folder.mkdir(parents=True)
    write_edf(folder / "x.bak", "Smith John", "r", START, signals=4)
    (folder / "x.bak").write_bytes((folder / "x.bak").read_bytes()[:700])
    with pytest.raises(PlanError, match="#1/#1: the file ends inside its header"):
        build_plan(scan_tree(tmp_path / "src").files, CODES)


@pytest.mark.parametrize(("kind", "reserved"), [("edf", "EDF+C"), ("edf", "EDF+D"), ("bdf", "BDF+D")])
def test_annotation_texts_are_replaced_in_every_channel_and_record(tmp_path: Path, kind: str, reserved: str) -> None:
    folder = tmp_path / "src" / "Smith_John"
    folder.mkdir(parents=True)
    areas = [
        [
            tal("+0", "") + tal("+0.5", "Patient John Smith awake", "Eyes closed"),
            tal("+0.2", "Dr Lee called, Smith family", duration="1.5"),
        ],
        [tal("+1", "") + tal("+1.25", "SMITH JOHN moved"), b""],
        [tal("+3", ""), tal("+3.5", "Eyes closed", "photic 10 Hz")],
    ]
    write_edf_plus(folder / "Smith John.edf", START, areas, kind=kind, reserved=reserved)
    plan = plan_of(tmp_path / "src", Keep(annotations=("Eyes (open|closed)", "photic [0-9]+ Hz")))
    [planned] = plan.files
    assert planned.deid.annotations is not None and [c.signal for c in planned.deid.annotations.channels] == [3, 4]
    body = payload(tmp_path / "src", planned)
    assert b"mith" not in body.lower() and b"john" not in body.lower() and b"lee" not in body.lower()
    source = (folder / "Smith John.edf").read_bytes()
    assert len(body) == len(source)
    header = edf.parse_header(body[: 256 * 5])
    width = 3 if kind == "bdf" else 2
    record = (32 + 32 + 60 + 60) * width
    for index, texts in enumerate(
        [
            [tal("+0", "") + tal("+0.5", "X", "Eyes closed"), tal("+0.2", "X", duration="1.5")],
            [tal("+1", "") + tal("+1.25", "X"), b""],
            [tal("+3", ""), tal("+3.5", "Eyes closed", "photic 10 Hz")],
        ]
    ):
        start = header.header_bytes + index * record
        # EEG samples unchanged, each annotation area rewritten and zero-padded to its length.
        assert body[start : start + 64 * width] == source[start : start + 64 * width]
        first = start + 64 * width
        assert body[first : first + 60 * width] == texts[0].ljust(60 * width, b"\0")
        assert body[first + 60 * width : first + 120 * width] == texts[1].ljust(60 * width, b"\0")


@pytest.mark.parametrize(
    ("kept", "text"),
    [
        ("Eyes .*", "Eyes closed by Mr Smith"),
        (".*", "O'Brien"),
        (".*", "DrLee"),
        (".*", "Иванов"),
    ],
)
def test_a_kept_annotation_holding_the_name_refuses_naming_the_file_and_channel(tmp_path: Path, kept: str, text: str) -> None:
    for patient in ("Smith_John", "O'Brien Sean", "Lee_Anna", "Иванов Иван"):
        folder = tmp_path / "src" / patient
        folder.mkdir(parents=True)
        write_edf_plus(folder / "r.edf", START, [[tal("+0", "")], [tal("+1", "", text)]])
    with pytest.raises(PlanError) as caught:
        plan_of(tmp_path / "src", Keep(annotations=(kept,)))
    message = str(caught.value)
    assert ": annotation signal 3, data record 2: a text kept by ingest.keep.annotations holds a word" in message
    assert text.casefold() not in message.casefold() and "smith" not in message.casefold()


@pytest.mark.parametrize(
    "area",
    [b"Smith John", tal("+0", "") + b"Smith\x14John\x14\0", tal("+0", "") + b"\0\0Smith John"],
)
def test_annotation_bytes_that_are_not_tals_refuse_naming_the_file_and_channel(tmp_path: Path, area: bytes) -> None:
    folder = tmp_path / "src" / "Smith_John"
    folder.mkdir(parents=True)
    write_edf_plus(folder / "r", START, [[tal("+0", ""), b""], [tal("+1", ""), area]])
    with pytest.raises(PlanError) as caught:
        plan_of(tmp_path / "src")
    assert "#1/#1: annotation signal 4, data record 2: bytes that are not a time-stamped annotation list" in str(caught.value)
    assert "mith" not in str(caught.value)


@pytest.mark.parametrize(
    ("field", "options"),
    [
        ("signal 1 label", {"eeg_labels": ("Smith", "EEG Cz")}),
        ("signal 2 label", {"eeg_labels": ("EEG Fp1", "DrLee")}),
        ("signal 1 transducer", {"transducer": "electrode of J. Smith"}),
        ("reserved", {"reserved": "EDF+C Smith"}),
    ],
)
def test_names_in_labels_and_other_header_fields_refuse_naming_the_field(tmp_path: Path, field: str, options: dict) -> None:
    folder = tmp_path / "src" / ("Lee_Anna" if "Lee" in str(options) else "Smith_John")
    folder.mkdir(parents=True)
    write_edf_plus(folder / "r.bdf", START, [[tal("+0", "")]], **options)
    with pytest.raises(NameLeakError) as caught:
        build_plan(scan_tree(tmp_path / "src").files, CODES)
    assert f"#1/#1: EDF header field '{field}' holds a word of the name" in str(caught.value)
    assert "mith" not in str(caught.value) and "Lee" not in str(caught.value)


def test_annotations_in_data_that_does_not_fill_whole_records_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "src" / "Smith_John"
    folder.mkdir(parents=True)
    write_edf_plus(folder / "r.edf", START, [[tal("+0", "")], [tal("+1", "")]])
    with open(folder / "r.edf", "ab") as handle:
        handle.write(tal("+2", "Smith John"))
    with pytest.raises(PlanError, match="#1/#1: its data records do not fill the file exactly"):
        build_plan(scan_tree(tmp_path / "src").files, CODES)


def test_annotations_of_a_recording_whose_record_count_is_unknown_are_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "src" / "Smith_John"
    folder.mkdir(parents=True)
    write_edf_plus(folder / "r.edf", START, [[tal("+0", "")], [tal("+1", "", "Smith John")]])
    raw = bytearray((folder / "r.edf").read_bytes())
    raw[236:244] = b"-1      "  # the count a recorder writes while recording
    (folder / "r.edf").write_bytes(bytes(raw))
    [planned] = plan_of(tmp_path / "src").files
    assert planned.deid.annotations.records == 2
    assert b"Smith" not in payload(tmp_path / "src", planned)


def test_kept_folders_and_extensions_from_macos_and_linux_are_one_key_part(tmp_path: Path) -> None:
    import unicodedata

    for form in ("NFC", "NFD"):
        folder = tmp_path / "src" / "Smith_John" / unicodedata.normalize(form, "Séance 1")
        folder.mkdir(parents=True)
        (folder / f"{form}.TXT").write_text(form)
    keys = sorted(f.key for f in plan_of(tmp_path / "src", Keep(folders=("séance [0-9]",), extensions=("txt",))).files)
    assert keys == [f"{keys[0][:8]}/Séance 1/{keys[0][:8]}_{n}.txt" for n in (1, 2)]
    assert all(unicodedata.is_normalized("NFC", key) for key in keys)


def test_what_lands_and_is_archived_holds_no_name_on_either_store(lake, tmp_path: Path) -> None:
    """EDF/BDF under other names, with annotations in several signals: landing objects and tars read back."""
    storage, landing, archive_url = lake
    folder = tmp_path / "src" / "O'Brien_Sean"
    folder.mkdir(parents=True)
    areas = [[tal("+0", "") + tal("+0.5", "Sean OBrien asleep"), tal("+0.1", "Eyes closed", "O’Brien family")]] * 3
    write_edf_plus(folder / "sean.rec", START, areas, kind="bdf", reserved="BDF+D", patient="Sean O'Brien 02-MAY-1951")
    write_edf_plus(folder / "OBRIEN", START, areas, reserved="EDF+C", recording="Startdate 01-MAR-2024 Sean_OBrien")
    write_edf(folder / "copy.edf.bak", "O'Brien Sean", "Sean", START)
    plan, result = run_ingest(tmp_path / "src", lake, tmp_path / "map.json", Keep(annotations=("Eyes (open|closed)",)))
    assert result.failures == [] and sorted(f.kind for f in plan.files) == ["bdf", "edf", "edf"]
    stored = [o.url for o in storage.list(landing)] + [o.url for o in storage.list(archive_url)]
    assert len(stored) == 3 + 2
    plain = landing + next(f.key for f in plan.files if f.source.name == "copy.edf.bak")
    for url in stored:
        body = storage.read_bytes(url).lower()
        # The birth year as a value of its own: inside a SHA-256 or a timestamp's digits it is chance, not a leak.
        year = re.search(rb"(?<![0-9a-f])1951(?![0-9a-f])", body)
        assert b"brien" not in body and b"sean" not in body and year is None, url
        # The kept annotation text is still there, in landing and in the tar.
        assert (b"eyes closed" in body) is (url != plain and not url.endswith(".json")), url
