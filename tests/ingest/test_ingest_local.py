"""The commands end to end on the local profile: dry run, ingest, rerun, restore, verify, damage."""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from ingest_helpers import assert_no_names, make_patient, tree_digest, write_edf

from job_helpers.control.cli import main
from job_helpers.ingest import edf
from job_helpers.ingest.names import fold
from job_helpers.storage import Storage

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture):
    """Run a command on a private lake and subject map; returns (exit status, standard output then standard error)."""
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    caplog.set_level(logging.DEBUG)
    map_file = tmp_path / "secrets" / "subject_map.json"

    def run(*argv: str) -> tuple[int, str]:
        status = main(
            ["--config", str(REPO / "config.yml"), "--profile", "local", "--set", f"ingest.subject_map.file={map_file}", *argv]
        )
        captured = capsys.readouterr()
        return status, captured.out + captured.err

    run.map_file = map_file  # type: ignore[attr-defined]
    return run


def lake_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_dry_run_prints_the_plan_and_changes_nothing(cli, src: Path, tmp_path: Path, caplog) -> None:
    before = tree_digest(src)
    status, out = cli("ingest", "--src", str(src), "--dataset", "eeg", "--dry-run")
    assert status == 0
    assert "dry run: 3 subject(s) (3 new), 21 file(s)" in out
    assert out.count("(new: code drawn at ingest)") == 3 and "from folder(s) #1" in out and "#3/#3/#2" in out
    assert "<new-3>" in out and "<new-4>" not in out and "…" not in out
    assert_no_names(out, "printed plan")
    assert_no_names(caplog.text, "log")
    assert not (tmp_path / "lake").exists() and not cli.map_file.exists()
    assert tree_digest(src) == before

    # The dry run showed no number: none of the codes the ingest then draws appears in it.
    assert cli("ingest", "--src", str(src), "--dataset", "eeg")[0] == 0
    codes = json.loads(cli.map_file.read_text())["subjects"].values()
    assert not [code for code in codes if code in out]
    status, again = cli("ingest", "--src", str(src), "--dataset", "eeg", "--dry-run")
    assert status == 0 and all(f"subject {code} (known code)" in again for code in codes)


def config_keeping(tmp_path: Path, **keep: list[str]) -> Path:
    """A copy of config.yml whose ingest.keep lists are ``keep``'s."""
    document = yaml.safe_load((REPO / "config.yml").read_text())
    document["ingest"]["keep"].update(keep)
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_name_in_a_kept_folder_refuses_the_ingest_and_symlinks_are_reported(cli, src: Path, tmp_path: Path, caplog) -> None:
    (src / "Smith_John" / "link.txt").symlink_to(src / "Smith_John" / "reports JohnSmith" / "notes.txt")
    status, out = cli("ingest", "--src", str(src), "--dataset", "eeg", "--dry-run")
    assert status == 0 and "not ingested (1):" in out and "#1/#2 (symbolic link, not followed)" in out
    assert "not ingested: #1/#2 (symbolic link, not followed)" in caplog.text

    (src / "maria LOPEZ" / "video" / "drlopez").mkdir()
    (src / "maria LOPEZ" / "video" / "drlopez" / "clip.mp4").write_bytes(b"clip")
    config = config_keeping(tmp_path, folders=["video", "dr.*"])
    status, out = cli("--config", str(config), "ingest", "--src", str(src), "--dataset", "eeg")
    assert status == 2
    assert "refusing to upload: 1 file(s)" in out and "#3/#3/#2/#1: a folder kept by ingest.keep.folders holds a word" in out
    assert_no_names(out, "output")
    assert not (tmp_path / "lake").exists() and not cli.map_file.exists()

    # Not kept, the same folder is dropped from the key: nothing of it leaves, nothing is refused.
    status, out = cli("ingest", "--src", str(src), "--dataset", "eeg")
    assert status == 0 and "22 file(s)" in out
    assert_no_names(out, "output")


def test_look_alike_letters_in_a_kept_folder_refuse_the_ingest(cli, tmp_path: Path) -> None:
    """keep.folders ['.*'] and a folder spelling the name with Cyrillic Ѕ (U+0405) and і (U+0456): exit 2, nothing lands."""
    (tmp_path / "src" / "Smith_John" / "Ѕmіth").mkdir(parents=True)
    write_edf(tmp_path / "src" / "Smith_John" / "Ѕmіth" / "rec.edf", "X X X X", "Startdate X X X X", datetime(2024, 3, 1, 9, 30))
    config = config_keeping(tmp_path, folders=[".*"])
    status, out = cli("--config", str(config), "ingest", "--src", str(tmp_path / "src"), "--dataset", "eeg")
    assert status == 2
    assert "#1/#1/#1: a folder kept by ingest.keep.folders mixes scripts within a word" in out
    assert "ѕmіth" not in out.casefold() and "smith" not in fold(out)
    assert not (tmp_path / "lake").exists() and not cli.map_file.exists()


def test_ingest_restore_verify_on_the_local_profile(cli, src: Path, tmp_path: Path, caplog) -> None:
    before = tree_digest(src)
    status, out = cli("ingest", "--src", str(src), "--dataset", "eeg")
    assert status == 0, out
    assert tree_digest(src) == before
    codes = set(json.loads(cli.map_file.read_text())["subjects"].values())
    assert len(codes) == 3 and all(len(c) == 8 and c.isdigit() for c in codes)
    assert cli.map_file.stat().st_mode & 0o777 == 0o600

    landing = tmp_path / "lake" / "clinical-ingest-landing" / "eeg"
    archive = tmp_path / "lake" / "clinical-ingest-archive" / "eeg"
    stored = lake_files(tmp_path / "lake")
    assert {p.name for p in landing.iterdir()} == codes
    assert len([k for k in stored if k.endswith(".tar")]) == 3
    manifests = [k for k in stored if "/manifests/" in k]
    assert len(manifests) == 3
    for key, body in stored.items():
        assert_no_names(key, key)
        if key.endswith((".json", ".edf", ".tar")):
            assert_no_names(body.decode("latin-1"), key)
    for path in (tmp_path / "lake").rglob("*"):
        assert path.stat().st_mode & 0o002 == 0, f"{path} is world-writable"
    code = sorted(codes)[0]
    [first] = (landing / code).glob(f"{code}_2024030?T093000_1.edf")
    header = edf.read_header(first)
    assert header.patient == code and header.start.hour == 9
    assert sorted(p.name.split("_", 1)[1] for p in (landing / code).iterdir() if not p.name.endswith(".edf")) == [
        "1.mp4",
        "1.txt",
        "2.mp4",
        "2.txt",
    ]
    manifest = json.loads(stored[next(k for k in manifests if f"/{code}/" in k)])
    assert manifest["subject"] == code and len(manifest["files"]) == 7
    assert manifest["archive"]["members"] == [f["key"] for f in manifest["files"]]

    # A second run finds the same codes and uploads nothing.
    status, out = cli("ingest", "--src", str(src), "--dataset", "eeg")
    assert status == 0 and set(json.loads(cli.map_file.read_text())["subjects"].values()) == codes
    assert lake_files(tmp_path / "lake") == stored
    assert "(0 new)" in out and caplog.text.count("0 file(s) uploaded, 7 already in landing") == 3

    status, out = cli("verify", "--dataset", "eeg")
    assert status == 0 and "3 manifest(s), 24 object(s) checked, 0 problem(s)" in out

    status, out = cli("restore", "--subject", code, "--dataset", "eeg", "--dest", str(tmp_path / "from-landing"))
    assert status == 0, out
    status, out = cli(
        "restore", "--subject", code, "--dataset", "eeg", "--dest", str(tmp_path / "from-archive"), "--from", "archive"
    )
    assert status == 0, out
    expected = {k.split("eeg/", 1)[1]: v for k, v in stored.items() if k.startswith(f"clinical-ingest-landing/eeg/{code}/")}
    assert lake_files(tmp_path / "from-landing") == expected
    assert lake_files(tmp_path / "from-archive") == expected
    assert_no_names(caplog.text, "log")

    # Damage: a landing file changed and the archive tar replaced; verify lists both, restore refuses.
    (landing / code / f"{code}_1.mp4").write_bytes(b"changed")
    tar = next((archive / code).glob("*.tar"))
    tar.write_bytes(tar.read_bytes()[:-1024] + b"\1" * 1024)
    status, out = cli("verify", "--dataset", "eeg")
    assert status == 1 and "2 problem(s)" in out and out.count("mismatch") == 2
    status, out = cli("restore", "--subject", code, "--dataset", "eeg", "--dest", str(tmp_path / "bad"), "--from", "archive")
    assert status == 1 and "SHA-256" in out
    assert lake_files(tmp_path / "bad") == {}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".restore-")]


def test_verify_reports_objects_of_an_interrupted_ingest(cli, src: Path, tmp_path: Path, monkeypatch) -> None:
    upload = Storage.upload
    calls = []

    def failing_after_9(self, *args, **kwargs):
        if len(calls) >= 9:
            raise ConnectionError("connection lost")
        calls.append(args)
        return upload(self, *args, **kwargs)

    monkeypatch.setattr(Storage, "upload", failing_after_9)
    status, out = cli("ingest", "--src", str(src), "--dataset", "eeg", "--workers", "1")
    assert status == 1 and "error: ConnectionError: connection lost" in out and "Traceback" not in out
    monkeypatch.setattr(Storage, "upload", upload)
    assert len(lake_files(tmp_path / "lake")) == 9

    status, out = cli("verify", "--dataset", "eeg")
    assert status == 1 and "0 manifest(s)" in out and "9 problem(s)" in out and out.count("unlisted") == 9

    # Resuming the ingest completes it: verify is clean again.
    assert cli("ingest", "--src", str(src), "--dataset", "eeg")[0] == 0
    status, out = cli("verify", "--dataset", "eeg")
    assert status == 0 and "0 problem(s)" in out

    # A stray object under the archive's data set prefix is unlisted too.
    stray = tmp_path / "lake" / "clinical-ingest-archive" / "eeg" / "12345678" / "stray.tar"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"x")
    status, out = cli("verify", "--dataset", "eeg")
    assert status == 1 and "1 problem(s)" in out and out.count("unlisted") == 1
    status, out = cli("verify", "--dataset", "eeg", "--json")
    # A job started in this process earlier in the session may have left log lines on stdout.
    found, _ = json.JSONDecoder().raw_decode(out[out.index('{\n  "dataset"') :])
    assert (
        status == 1
        and [p["problem"] for p in found["problems"]] == ["unlisted"]
        and found["problems"][0]["object"].endswith("stray.tar")
    )


def test_bad_input_is_a_usage_error(cli, tmp_path: Path) -> None:
    status, out = cli("ingest", "--src", str(tmp_path / "nowhere"), "--dataset", "eeg")
    assert status == 2 and "no such folder" in out
    status, out = cli("ingest", "--src", str(tmp_path), "--dataset", "nope")
    assert status == 2 and "not an ingest data set" in out
    status, out = cli("restore", "--subject", "12", "--dataset", "eeg", "--dest", str(tmp_path / "d"))
    assert status == 2 and "8-digit" in out


def test_the_plan_errors_and_logs_never_print_a_name_part(cli, tmp_path: Path, caplog) -> None:
    """Source names the matcher cannot know (nicknames, other languages, a date of birth) are never printed."""
    src = tmp_path / "src"
    patient = src / "O'Brien_Sean"
    folders = ["Seans Aufnahmen", "OBRIEN-Familie", "Dr.OBrien Befunde", "Schwester Oona", "Ó Briain", "ОБрайен"]
    for number, name in enumerate(folders):
        (patient / name).mkdir(parents=True)
        (patient / name / f"sean_obrien_1990-01-0{number + 1}.txt").write_text("x")
        (patient / name / f"{name} Kathleen.mp4").write_bytes(b"x")
    write_edf(patient / "ОБрайен" / "Sean Kathleen.rec", "Sean OBrien 02-MAY-1951", "Oona", datetime(2024, 3, 1, 8))
    (patient / "Seans Aufnahmen" / "Grainne.txt").symlink_to(patient / "Seans Aufnahmen" / f"{folders[0]} Kathleen.mp4")
    words = {w for p in patient.rglob("*") for w in re.findall(r"[a-z]{3,}", fold(p.relative_to(src).as_posix()))}
    words -= {"txt", "mp4", "rec", "may"}
    assert {
        "sean",
        "obrien",
        "brien",
        "aufnahmen",
        "familie",
        "befunde",
        "schwester",
        "oona",
        "briain",
        "kathleen",
        "grainne",
    } <= words

    status, dry = cli("ingest", "--src", str(src), "--dataset", "eeg", "--dry-run")
    assert status == 0 and "not ingested (1):" in dry and "#1/#4/#1 (symbolic link, not followed)" in dry
    status, out = cli("ingest", "--src", str(src), "--dataset", "eeg")
    assert status == 0 and "13 file(s)" in out
    printed = fold(dry + out + caplog.text + "".join(lake_files(tmp_path / "lake")))
    assert not {w for w in words if w in printed}
    for code in json.loads(cli.map_file.read_text())["subjects"].values():
        printed = printed.replace(code, "#")  # a random subject code may hold any four digits
    assert "1951" not in printed and "1990" not in printed


def test_one_patient_copied_from_two_machines_is_one_subject(cli, tmp_path: Path) -> None:
    nfc, nfd = unicodedata.normalize("NFC", "Müller_Jürgen"), unicodedata.normalize("NFD", "Müller_Jürgen")
    assert nfc != nfd
    for root, folder, day in (
        (tmp_path / "linux", nfc, 1),
        (tmp_path / "mac", nfd, 2),
        (tmp_path / "mac", "MUELLER, Dr. Juergen", 3),
    ):
        make_patient(root / folder, ("Mueller_Juergen", "müller jürgen", "MÜLLER"), day)
    assert cli("ingest", "--src", str(tmp_path / "linux"), "--dataset", "eeg")[0] == 0
    status, out = cli("ingest", "--src", str(tmp_path / "mac"), "--dataset", "eeg")
    assert status == 0 and "1 subject(s) (0 new)" in out
    [code] = json.loads(cli.map_file.read_text())["subjects"].values()
    landing = tmp_path / "lake" / "clinical-ingest-landing" / "eeg"
    # 7 files from linux; from mac 6 new recordings, and of the 8 other files (the same 4 contents twice)
    # one copy of each is the content linux landed, kept under its key: 7 + 6 + 4.
    assert [p.name for p in landing.iterdir()] == [code] and len(list((landing / code).iterdir())) == 17
    # Each object once, however many manifests list it: 17 landing objects and 2 tar parts.
    assert "2 manifest(s), 19 object(s) checked, 0 problem(s)" in cli("verify", "--dataset", "eeg")[1]
