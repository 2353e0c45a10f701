"""The commands end to end on the local profile: dry run, ingest, rerun, restore, verify, damage."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from ingest_helpers import assert_no_names, tree_digest

from job_helpers.cli import main
from job_helpers.ingest import edf
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
    assert out.count("(new: code drawn at ingest)") == 3 and "***" in out
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


def test_name_left_in_a_key_refuses_the_ingest_and_symlinks_are_reported(cli, src: Path, tmp_path: Path, caplog) -> None:
    (src / "Smith_John" / "link.txt").symlink_to(src / "Smith_John" / "reports JohnSmith" / "notes.txt")
    status, out = cli("ingest", "--src", str(src), "--dataset", "eeg", "--dry-run")
    assert status == 0 and "not ingested (1):" in out and "***/link.txt (symbolic link, not followed)" in out
    assert "not ingested: ***/link.txt (symbolic link, not followed)" in caplog.text

    (src / "maria LOPEZ" / "video" / "drlopez").mkdir()
    (src / "maria LOPEZ" / "video" / "drlopez" / "clip.mp4").write_bytes(b"clip")
    status, out = cli("ingest", "--src", str(src), "--dataset", "eeg")
    assert status == 2
    assert "refusing to upload: 1 file(s)" in out and "***/video/dr***/clip.mp4" in out
    assert_no_names(out, "output")
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
    header = edf.read_header(landing / code / "EEG" / f"{code}_1.edf")
    assert header.patient == code and header.start.hour == 9
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
    (landing / code / "video" / f"{code}_1.mp4").write_bytes(b"changed")
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
