"""EDF header reading and patching, name matching, times in names, code drawing, the patched stream."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime
from pathlib import Path

import pytest
from ingest_helpers import write_edf

from job_helpers.ingest import edf
from job_helpers.ingest.connect import map_storage
from job_helpers.ingest.names import subject_key, time_from_name
from job_helpers.ingest.payload import PatchedReader, open_payload, sha256_of
from job_helpers.ingest.sample_data import build_header
from job_helpers.ingest.subjects import ObjectSubjectStore, SubjectMapError, assign_codes


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
        edf.parse_header(b"\xffBIOSEMI" + b" " * 248, "x.edf")
    with pytest.raises(edf.EdfError, match="at least 256"):
        edf.parse_header(b"0       ", "x.edf")


def test_edf_identity_fields_set_to_the_code_and_everything_else_kept() -> None:
    raw = build_header("MCH-1 F 01-JAN-1970 Lopez_Maria", "EEG of MARIA LOPEZ", datetime(2024, 1, 2), 1, 1, 1, 8)
    header = edf.parse_header(raw)
    patched = edf.with_identity(header, "12345678")
    assert patched is not None and len(patched) == 256
    again = edf.parse_header(patched)
    assert (again.patient, again.recording) == ("12345678", "12345678")
    assert patched[:8] == raw[:8] and patched[168:] == raw[168:256]
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


def test_patched_reader_overlays_header_and_seeks(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    data = bytes(range(256)) * 40
    path.write_bytes(data)
    patch = b"P" * 300
    expected = patch + data[300:]
    with open_payload(path, patch) as stream:
        assert stream.read() == expected
    reader = PatchedReader(path, patch)
    reader.seek(290)
    assert reader.read(20) == expected[290:310]
    reader.seek(0)
    assert io.BufferedReader(reader, 7).read(1000) == expected[:1000]
    assert path.read_bytes() == data

    assert sha256_of(path, patch) == hashlib.sha256(expected).hexdigest()
