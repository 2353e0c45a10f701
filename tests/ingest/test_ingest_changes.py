"""A file that changes while it is ingested fails the ingest for its subject, on file:// and on moto's S3:
landing, manifest and tar never disagree, the other subjects complete, and a rerun completes it.

Each change is made at one point of the ingest (after planning, while its bytes are being read for
landing, after its upload, before its tar is written) and in one way (appended, touched, or
rewritten with the same size and modified time, which only the checksum can tell).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from ingest_helpers import PATIENTS, assert_no_names, make_patient, run_ingest, write_edf

from job_helpers.control.cli import main
from job_helpers.ingest import archive, write
from job_helpers.ingest.verify import verify
from job_helpers.storage import Storage

REPO = Path(__file__).resolve().parents[2]


def run(src: Path, lake: tuple[Storage, str, str], tmp_path: Path):
    return run_ingest(src, lake, tmp_path / "map.json")


def append(path: Path) -> None:
    with open(path, "ab") as handle:
        handle.write(b"more")


def touch(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def remove(path: Path) -> None:
    path.unlink()


def same_size_and_time(path: Path) -> None:
    """Flip the last byte in place and put the modified time back: size and time cannot tell."""
    stat = path.stat()
    with open(path, "r+b") as handle:
        handle.seek(-1, os.SEEK_END)
        last = handle.read(1)
        handle.seek(-1, os.SEEK_END)
        handle.write(bytes([last[0] ^ 0xFF]))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


class ChangingStream:
    """The upload stream of one file, changing it once ``after_bytes`` were read, or when closed."""

    def __init__(self, stream, path: Path, change: Callable[[Path], None], after_bytes: int | None) -> None:
        self.stream, self.path, self.after_bytes, self.read_so_far = stream, path, after_bytes, 0
        self.pending: Callable[[Path], None] | None = change

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.read_so_far += len(data)
        if self.after_bytes is not None and self.read_so_far >= self.after_bytes:
            self._change()
        return data

    def _change(self) -> None:
        if self.pending is not None:
            self.pending(self.path)
            self.pending = None

    def __getattr__(self, name: str):
        return getattr(self.stream, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.stream.close()
        self._change()


def change_at(monkeypatch: pytest.MonkeyPatch, target: Path, when: str, change: Callable[[Path], None]) -> None:
    """Change ``target`` once: after planning, while landing reads it, after its upload, or before its tar."""
    module = archive if when == "before its tar" else write
    opened = module.open_payload
    done = []

    def open_payload(path, *args, **kwargs):
        if Path(path) != target or done:
            return opened(path, *args, **kwargs)
        done.append(when)
        if when in ("after planning", "before its tar"):
            change(target)
            return opened(path, *args, **kwargs)
        after = 1 if when == "while it is read" else None
        return ChangingStream(opened(path, *args, **kwargs), target, change, after)

    monkeypatch.setattr(module, "open_payload", open_payload)


def make_src(root: Path) -> Path:
    make_patient(root / "Smith_John", PATIENTS["Smith_John"], 1)
    make_patient(root / "maria LOPEZ", PATIENTS["maria LOPEZ"], 2)
    # One EDF of about 11 MB: three 5 MB parts on S3, so a change in its last part aborts a multipart upload.
    write_edf(root / "Smith_John" / "EEG" / "long.edf", "Smith John", "r", datetime(2024, 3, 5), records=44_000)
    return root


@pytest.mark.parametrize("file", ["EEG/long.edf", "reports JohnSmith/notes.txt"])
@pytest.mark.parametrize(
    ("when", "change"),
    [
        ("after planning", append),
        ("after planning", same_size_and_time),
        ("while it is read", same_size_and_time),
        ("while it is read", append),
        ("after its upload", touch),
        ("after its upload", append),
        ("after its upload", remove),
        ("after planning", remove),
        ("before its tar", same_size_and_time),
        ("before its tar", remove),
    ],
)
def test_a_file_changed_while_ingested_fails_its_subject_and_nothing_disagrees(
    lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file: str, when: str, change
) -> None:
    storage, landing, archive_url = lake
    src = make_src(tmp_path / "src")
    target = src / "Smith_John" / file
    change_at(monkeypatch, target, when, change)
    plan, result = run(src, lake, tmp_path)
    smith = next(s for s in plan.subjects if any(f.source == target.relative_to(src) for f in s.files))
    planned = next(f for f in smith.files if f.source == target.relative_to(src))

    [failure] = result.failures
    assert (failure.code, failure.key, failure.locator) == (smith.code, planned.key, planned.locator)
    assert [s.code for s in result.subjects] == [s.code for s in plan.subjects if s.code != smith.code]
    # The changed file is not in landing; its subject has no tar and no manifest; the other subject is whole.
    landed = {o.url for o in storage.list(landing)}
    assert landing + planned.key not in landed
    archived = [o.url for o in storage.list(archive_url)]
    assert not [url for url in archived if f"/{smith.code}/" in url]
    report = verify("eeg", storage, landing, archive_url)
    assert report.manifests == 1
    assert {p.kind for p in report.problems} <= {"unlisted"}
    assert {p.url for p in report.problems} == {url for url in landed if f"/{smith.code}/" in url}
    if landing.startswith("s3://"):
        assert "Uploads" not in storage.s3.list_multipart_uploads(Bucket="landing")

    # Once the file stops changing, a rerun completes the subject: one copy of everything, nothing unlisted.
    monkeypatch.undo()
    if not target.exists() and target.suffix == ".edf":
        write_edf(target, "Smith John", "back again", datetime(2024, 3, 5), records=10)
    elif not target.exists():
        target.write_bytes(b"back again")
    _, again = run(src, lake, tmp_path)
    assert again.failures == [] and sorted(s.code for s in again.subjects) == sorted(s.code for s in plan.subjects)
    report = verify("eeg", storage, landing, archive_url)
    assert report.problems == [] and report.manifests == 2
    assert len([o for o in storage.list(landing)]) == len(plan.files)


def test_the_command_names_the_changed_file_by_position_and_exits_1(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    src = make_src(tmp_path / "src")
    change_at(monkeypatch, src / "Smith_John" / "EEG" / "long.edf", "while it is read", same_size_and_time)
    argv = ["--config", str(REPO / "config.yml"), "--set", f"ingest.subject_map.file={tmp_path / 'map.json'}"]
    assert main([*argv, "ingest", "--src", str(src), "--dataset", "eeg"]) == 1
    printed = capsys.readouterr()
    out, err = printed.out, printed.err
    code = json.loads((tmp_path / "map.json").read_text())["subjects"]["john smith"]
    assert f"subject {code}: #1/#1/#4 -> {code}/{code}_20240305T000000_1.edf: its content differs from the plan" in out
    assert "error: 1 file(s) changed while they were ingested" in err
    assert_no_names(out + err, "output")
    assert not (tmp_path / "lake" / "clinical-ingest-archive" / "eeg" / code).exists()
    assert not (tmp_path / "lake" / "clinical-ingest-landing" / "eeg" / code / f"{code}_20240305T000000_1.edf").exists()
