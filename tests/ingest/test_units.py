"""EDF/BDF header reading and patching, annotation texts, times in names, code drawing, the payload stream."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime
from pathlib import Path

import pytest
from ingest_helpers import tal, write_edf, write_edf_plus

from job_helpers.ingest import edf
from job_helpers.ingest import tal as tals
from job_helpers.ingest.connect import map_storage
from job_helpers.ingest.names import subject_key, time_from_name
from job_helpers.ingest.payload import Deidentification, FileChanged, PayloadReader, open_payload, payload_sha256
from job_helpers.ingest.sample_data import build_header
from job_helpers.ingest.subjects import ObjectSubjectStore, SubjectMapError, assign_codes, known_codes


def test_edf_header_round_trip_and_layout(tmp_path: Path) -> None:
    path = tmp_path / "r.edf"
    write_edf(
        path,
        "X M 02-MAY-1951 Smith_John",
        "Startdate 02-MAR-2024 EEG",
        datetime(2024, 3, 2, 9, 5, 7),
        records=3,
        signals=2,
        samples_per_record=64,
    )
    raw = path.read_bytes()
    assert raw[168:184] == b"02.03.2409.05.07"
    assert int(raw[184:192]) == 256 * 3
    assert len(raw) == 256 * 3 + 3 * 2 * 64 * 2
    header = edf.read_header(path)
    assert header.patient == "X M 02-MAY-1951 Smith_John"
    assert header.recording == "Startdate 02-MAR-2024 EEG"
    assert header.start == datetime(2024, 3, 2, 9, 5, 7)
    assert "Smith" not in repr(header)


def test_edf_year_clipping_and_bad_dates() -> None:
    raw = bytearray(build_header("p", "r", datetime(1999, 12, 31, 23, 59, 59), 1, 1, 1, 8)[:256])
    assert edf.parse_header(bytes(raw)).start == datetime(1999, 12, 31, 23, 59, 59)
    raw[168:176] = b"31.02.24"
    assert edf.parse_header(bytes(raw)).start is None


def test_edf_reader_rejects_non_edf() -> None:
    with pytest.raises(edf.EdfError, match="version field"):
        edf.parse_header(b"1       " + b" " * 248, "x.edf")
    with pytest.raises(edf.EdfError, match="version field"):
        edf.parse_header(b"\xffBIOSEMX" + b" " * 248, "x.bdf")
    with pytest.raises(edf.EdfError, match="at least 256"):
        edf.parse_header(b"0       ", "x.edf")


@pytest.mark.parametrize(
    ("start", "kind"),
    [
        (b"0       ", "edf"),
        (b"\xffBIOSEMI", "bdf"),
        (b"0      ", None),
        (b"0\x00\x00\x00\x00\x00\x00\x00", None),
        (b"\xffBIOSEM", None),
        (b"%PDF-1.7", None),
        (b"", None),
    ],
)
def test_formats_are_recognised_by_their_version_field(start: bytes, kind: str | None) -> None:
    assert edf.content_kind(start) == kind


def test_bdf_header_is_read_with_its_signals_and_24_bit_records(tmp_path: Path) -> None:
    path = tmp_path / "recording"
    write_edf_plus(path, datetime(2024, 3, 2, 9, 5, 7), [[tal("+0", "")], [tal("+1", "")]], kind="bdf", reserved="BDF+C")
    header = edf.read_header(path)
    assert header.kind == "bdf" and header.plus and header.records == 2
    assert [s.label for s in header.signals] == ["EEG Fp1-Ref", "EEG Cz-Ref", "BDF Annotations"]
    assert header.header_bytes == 256 * 4 and header.record_size == (32 + 32 + 60) * 3
    assert header.annotation_channels() == (edf.AnnotationChannel(3, 64 * 3, 180),)
    assert path.stat().st_size == header.header_bytes + 2 * header.record_size
    again = edf.parse_header(edf.with_identity(header, "12345678"))
    assert (again.patient, again.recording) == ("12345678 X X X", "Startdate X 12345678 X X")
    assert again.raw[:8] == b"\xffBIOSEMI" and again.raw[88 + 80 :] == header.raw[88 + 80 :]


def test_a_header_cut_short_or_inconsistent_is_refused(tmp_path: Path) -> None:
    raw = build_header("p", "r", datetime(2024, 1, 2), 1, 1, 3, 8)
    (tmp_path / "cut").write_bytes(raw[:600])
    with pytest.raises(edf.EdfError, match="ends inside its header"):
        edf.read_header(tmp_path / "cut")
    bad = bytearray(raw)
    bad[184:192] = b"512     "
    with pytest.raises(edf.EdfError, match="header size"):
        edf.parse_header(bytes(bad))
    bad = bytearray(raw)
    bad[256 + 16 * 3 :][:5] = b"Smith"  # a transducer field with non-ASCII would be refused too
    bad[300] = 0xE9
    with pytest.raises(edf.EdfError, match="non-ASCII"):
        edf.parse_header(bytes(bad))


def test_edf_identity_fields_set_to_the_code_and_everything_else_kept() -> None:
    raw = build_header("MCH-1 F 01-JAN-1970 Lopez_Maria", "EEG of MARIA LOPEZ", datetime(2024, 1, 2), 1, 1, 1, 8)
    header = edf.parse_header(raw)
    patched = edf.with_identity(header, "12345678")
    assert patched is not None and len(patched) == len(raw) == 512
    again = edf.parse_header(patched)
    assert (again.patient, again.recording) == ("12345678", "12345678")
    assert patched[:8] == raw[:8] and patched[168:] == raw[168:]
    assert edf.with_identity(again, "12345678") is None


def test_edf_plus_keeps_the_subfield_layout() -> None:
    raw = bytearray(
        build_header("MCH-0234567 F 02-MAY-1951 Haagse_Harry", "Startdate 02-MAR-2002 EMG561", datetime(2002, 3, 2), 1, 1, 1, 8)
    )
    raw[192:197] = b"EDF+C"
    again = edf.parse_header(edf.with_identity(edf.parse_header(bytes(raw)), "12345678"))
    assert (again.patient, again.recording) == ("12345678 X X X", "Startdate X 12345678 X X")


def test_subject_key_is_order_and_case_free() -> None:
    assert subject_key("Smith_John") == subject_key("john SMITH") == "john smith"
    assert subject_key("Smith_John") != subject_key("Smith_Jane")


def test_known_codes_find_entries_written_before_names_were_normalised() -> None:
    import unicodedata

    stored = {unicodedata.normalize("NFD", "jürgen müller"): "11111111", "o'brien sean": "22222222", "dr lee anna": "33333333"}
    keys = {subject_key("Müller_Jürgen"), subject_key("O’Brien Sean"), subject_key("Lee, Anna"), subject_key("New One")}
    assert known_codes(stored, keys) == {"juergen mueller": "11111111", "obrien sean": "22222222", "anna lee": "33333333"}
    assert assign_codes(keys, stored, iter([44444444]).__next__) == {"new one": "44444444"}
    doubled = {**stored, "jürgen müller": "55555555"}
    with pytest.raises(SubjectMapError, match="11111111, 55555555") as caught:
        known_codes(doubled, keys)
    assert "ller" not in str(caught.value) and "rgen" not in str(caught.value)
    assert known_codes(doubled, {subject_key("O'Brien Sean")}) == {"obrien sean": "22222222"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("x_2024-03-01_0930.edf", datetime(2024, 3, 1, 9, 30)),
        ("x_20240301T101500.mp4", datetime(2024, 3, 1, 10, 15)),
        ("x-report-2024-03-01.txt", datetime(2024, 3, 1)),
        ("x_2024.03.01 09-30-15.txt", datetime(2024, 3, 1, 9, 30, 15)),
        ("x_20241399.txt", None),
        ("notes.txt", None),
        ("id123456789.txt", None),
    ],
)
def test_time_from_name(name: str, expected: datetime | None) -> None:
    assert time_from_name(name) == expected


def test_codes_are_eight_digits_distinct_and_never_reuse_a_taken_code() -> None:
    draws = iter([11111111, 11111111, 22222222, 33333333])
    new = assign_codes(["b", "c", "a"], {"a": "22222222", "z": "99999999"}, lambda: next(draws))
    assert new == {"b": "11111111", "c": "33333333"}
    many = assign_codes([f"p{i}" for i in range(500)], {})
    assert len(set(many.values())) == 500 and all(len(c) == 8 and c.isdigit() for c in many.values())


def test_subject_map_file_is_private_and_refused_when_readable_by_others(tmp_path: Path) -> None:
    path = tmp_path / "secret" / "map.json"
    store = ObjectSubjectStore(map_storage(None, None), path.as_uri())
    assert store.load() == {}
    store.add({"john smith": "12345678"})
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o077 == 0
    assert store.load() == {"john smith": "12345678"}
    path.chmod(0o644)
    with pytest.raises(SubjectMapError, match="chmod 600"):
        store.load()


def test_payload_reader_overlays_the_header_and_seeks(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    data = bytes(range(256)) * 40
    path.write_bytes(data)
    patch = b"P" * 300
    expected = patch + data[300:]
    with open_payload(path, Deidentification(patch), len(data)) as stream:
        assert stream.read() == expected
    reader = PayloadReader(path, Deidentification(patch), len(data))
    reader.seek(290)
    assert reader.read(20) == expected[290:310]
    reader.seek(0)
    assert io.BufferedReader(reader, 7).read(1000) == expected[:1000]
    assert path.read_bytes() == data
    mtime = path.stat().st_mtime_ns
    assert payload_sha256(path, Deidentification(patch), len(data), mtime) == hashlib.sha256(expected).hexdigest()


def test_payload_reader_refuses_a_pass_that_differs_from_the_plan(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    data = bytes(range(256)) * 4096 * 3  # 3 MiB: several buffered reads
    path.write_bytes(data)
    planned = (len(data), hashlib.sha256(data).hexdigest())
    with open_payload(path, None, len(data), planned) as stream:
        assert stream.read() == data
        stream.seek(0)
        assert stream.read() == data  # a second pass (a retry) is checked again
    changed = bytearray(data)
    changed[-1] ^= 1
    path.write_bytes(bytes(changed))
    with open_payload(path, None, len(data), planned) as stream:
        assert stream.read(1000) == data[:1000]
        with pytest.raises(FileChanged, match="differs from the plan"):
            stream.read()
    path.write_bytes(data[:-10])
    with open_payload(path, None, len(data), planned) as stream, pytest.raises(FileChanged, match="ends at byte"):
        stream.read()
    path.write_bytes(data + b"appended")
    with pytest.raises(FileChanged, match="size changed"):
        payload_sha256(path, None, len(data), path.stat().st_mtime_ns)
    path.write_bytes(data)
    with pytest.raises(FileChanged, match="modified time"):
        payload_sha256(path, None, len(data), path.stat().st_mtime_ns - 10**9)


def test_annotation_texts_are_replaced_and_timing_kept() -> None:
    area = (tal("+0", "") + tal("+12.5", "Smith John said stop", "Eyes closed", duration="2.25") + tal("-0.5", "")).ljust(
        120, b"\0"
    )
    rewritten, kept = tals.rewrite(area, lambda text: text == "Eyes closed")
    assert rewritten == (tal("+0", "") + tal("+12.5", "X", "Eyes closed", duration="2.25") + tal("-0.5", "")).ljust(120, b"\0")
    assert kept == ["Eyes closed"]
    assert tals.rewrite(b"\0" * 40, lambda text: True) == (b"\0" * 40, [])
    not_utf8 = tal("+1", "x").replace(b"x", b"\xff\xfe")
    assert tals.rewrite(not_utf8, lambda text: True)[0] == tal("+1", "X").ljust(len(not_utf8), b"\0")


@pytest.mark.parametrize(
    "area",
    [
        b"Smith John\0\0\0",  # text with no time stamp
        tal("+0", "") + b"Smith\x14\0",  # a second "TAL" whose onset is text
        tal("+1", "a")[:-2] + b"\0",  # a TAL that does not end with \x14
        b"+1\x15Smith\x14x\x14\0",  # a duration that is text
        tal("+0", "") + b"\0\0 Smith",  # bytes after the padding
    ],
)
def test_annotation_bytes_that_are_not_tals_are_refused(area: bytes) -> None:
    with pytest.raises(tals.AnnotationError) as caught:
        tals.rewrite(area, lambda text: True)
    assert "mith" not in str(caught.value)
