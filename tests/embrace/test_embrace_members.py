"""Archive members the task side must take, refuse or fail alone, and batch-load files that stay within their limit."""

from __future__ import annotations

import unicodedata
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from job_helpers.embrace.archives import Archive, Selection, UnsafeMemberPath, parse_member
from job_helpers.embrace.members import UnreadableArchive
from job_helpers.embrace.outputs import file_stem
from job_helpers.embrace.read import member_groups
from job_helpers.embrace.stream_tasks import DeviceStream, Targets, process
from job_helpers.embrace.write import TimestreamFiles
from job_helpers.storage import Storage

EDA = "Unix Timestamp (UTC),EDA (microS)\n"


def archive(tmp_path: Path, members: dict[str, bytes]) -> Archive:
    path = tmp_path / "Sensors_U02_ALLSITES_20240301_20240331.zip"
    with zipfile.ZipFile(path, "w") as handle:
        for name, body in members.items():
            handle.writestr(name, body)
    return Archive(path.as_uri(), path.stem, "U02", "ALLSITES", date(2024, 3, 1), date(2024, 3, 31))


def test_windows_separators_and_participant_case_are_understood(tmp_path):
    found = archive(tmp_path, {"U02\\FC\\P096\\D1\\eda.csv": (EDA + "1709251200000,0.5\n").encode()})
    for selection in (Selection.from_text("all", "FCp096", ".*"), Selection.from_text("all", "all", "fcP0.*")):
        groups = member_groups(found, selection, Storage()).groups
        assert [(g.ppt_id, g.dev_id, g.kind) for g in groups] == [("fcp096", "D1", "eda")]


def test_stream_file_names_match_in_any_case_and_each_spelling_is_read():
    names = ["U02/FC/096/D1/eda.csv", "U02/FC/096/D1/EDA.csv", "U02/FC/096/D1/Eda.CSV", "U02/FC/096/D1/METADATA.csv"]
    assert [(m.ppt_id, m.dev_id, m.kind) for m in map(parse_member, names)] == [("fc096", "D1", "eda")] * 3 + [
        ("fc096", "D1", "metadata")
    ]
    assert [parse_member(name) for name in ("U02/FC/096/D1/eda.csv.bak", "U02/FC/096/D1/eda", "U02/FC/096/D1/notes.csv")] == [
        None
    ] * 3


def test_one_participant_spelled_in_other_cases_or_unicode_forms_has_one_id():
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    spellings = [f"U02/FC/{nfc}/Dé/eda.csv", f"U02/fc/{nfd}/D{nfd[-2:]}/eda.csv", f"x/U02/Fc/{nfc.upper()}/Dé/eda.csv"]
    keys = {(m.ppt_id, m.dev_id) for m in map(parse_member, spellings)}
    assert keys == {(unicodedata.normalize("NFC", "fccafé"), unicodedata.normalize("NFC", "Dé"))}


def test_spaces_around_a_folder_or_file_name_count_as_none(tmp_path):
    """A stream file named ' eda.csv ' was skipped unseen, and 'FC /096' published the participant 'fc 096'
    beside 'fc096'; both are read as the names without the spaces, as the dot segments are."""
    found = archive(
        tmp_path,
        {
            "U02/FC/096/D1/eda.csv": (EDA + "1709251200000,0.5\n").encode(),
            "U02/FC /\t096 / D1/ EDA.csv\t": (EDA + "1709251201000,0.6\n").encode(),
            "U02/FC/096/D1/ metadata.csv": b"",
        },
    )
    read = member_groups(found, Selection.from_text("all", "FC096", ".*"), Storage())
    assert read.refused == []
    assert sorted((g.ppt_id, g.dev_id, g.kind, len(g.entries)) for g in read.groups) == [
        ("fc096", "D1", "eda", 2),
        ("fc096", "D1", "metadata", 1),
    ]


@pytest.mark.parametrize("segment", [" ..", ".. ", " . ", "  ", "\t..\t"])
def test_dot_segments_with_spaces_around_them_are_unsafe(segment):
    with pytest.raises(UnsafeMemberPath):
        parse_member(f"U02/FC/{segment}/D1/eda.csv")


@pytest.mark.parametrize("name", ["FC/096/D1/eda.csv", "096/D1/ACC.csv", "D1/temp.csv", "eda.csv", "096/D1/metadata.csv"])
def test_a_stream_file_outside_a_device_folder_is_refused_not_skipped(tmp_path, name):
    found = archive(tmp_path, {"U02/FC/096/D1/eda.csv": (EDA + "1709251200000,0.5\n").encode(), name: EDA.encode()})
    members = member_groups(found, Selection(), Storage())
    assert [(g.ppt_id, g.dev_id, g.kind) for g in members.groups] == [("fc096", "D1", "eda")]
    assert [(m.name, m.kind) for m in members.refused] == [(name, name.rsplit("/", 1)[-1][:-4].lower())]
    assert "the file must sit in <study>/<SITE>/<participant>/<device>/" in members.refused[0].reason


def test_an_archive_of_stream_files_outside_device_folders_alone_is_unreadable(tmp_path):
    with pytest.raises(UnreadableArchive, match=r"no member is laid out .* \(1 refused for their paths\)"):
        member_groups(archive(tmp_path, {"FC/096/eda.csv": EDA.encode()}), Selection(), Storage())


def test_file_names_stay_short_and_distinct_whatever_the_ids():
    stems = {file_stem("fc" + "p" * 300 + str(n), "D1") for n in range(3)} | {file_stem("fc" + "參" * 300, "D1")}
    assert len(stems) == 4 and max(len(stem.encode()) for stem in stems) < 200


@pytest.mark.parametrize(
    "name, message",
    [("U02/FC/096/D,1/eda.csv", "cannot hold commas"), ("readme/ACC.txt", "no member is laid out")],
)
def test_archives_that_would_publish_wrong_or_nothing_are_refused(tmp_path, name, message):
    with pytest.raises(UnreadableArchive, match=message):
        member_groups(archive(tmp_path, {name: EDA.encode()}), Selection(), Storage())


def test_a_header_only_member_is_empty_and_unreadable_text_fails_its_archive(tmp_path):
    members = {
        "U02/FC/096/D1/eda.csv": EDA.encode(),
        "U02/FC/096/D1/temp.csv": b"Unix Timestamp (UTC),Degrees (\xc2\xb0C)\n17092512\xff00000,30\n",
    }
    found = archive(tmp_path, members)
    outputs = {name: (tmp_path / name).as_uri() + "/" for name in ("clean", "timestream_ready", "rejects")}
    targets = Targets.of_run(outputs, "run", [found.export], 1 << 30)
    (eda,) = [g for g in member_groups(found, Selection(), Storage()).groups if g.kind == "eda"]
    result = process(DeviceStream(eda.ppt_id, eda.dev_id, eda.kind, (eda,)), targets)
    assert (result.errors, result.days) == ({}, {})
    (temp,) = [g for g in member_groups(found, Selection(), Storage()).groups if g.kind == "temp"]
    failed = process(DeviceStream(temp.ppt_id, temp.dev_id, temp.kind, (temp,)), targets)
    assert list(failed.errors) == [found.export]
    assert found.url in failed.errors[found.export] and "replace the file" in failed.errors[found.export]


def test_batch_load_files_stay_within_the_limit_for_the_widest_values(tmp_path):
    ts = np.arange(1709251200000, 1709251200000 + 500, dtype=np.int64)
    values = np.full((500, 3), -1.2345678901234567e-6)
    folder = tmp_path / "ts"
    files = TimestreamFiles(Storage(), folder.as_uri() + "/", tmp_path, "part-x", ("fc096", "設備設備設備"), "acc", 4096)
    for start in range(0, 500, 70):  # the rows come in slices, as a day's hours do
        files.add(ts[start : start + 70], values[start : start + 70])
    files.close()
    names = files.written
    sizes = [(folder / name).stat().st_size for name in names]
    assert len(sizes) > 1 and max(sizes) <= 4096
    assert sum(len((folder / name).read_text().splitlines()) - 1 for name in names) == 500
