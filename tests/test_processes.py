"""One probe of whether a process runs (the local registry and the class archive wrote it twice)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from job_helpers import class_archive
from job_helpers.processes import process_alive
from job_helpers.sitewise.work_dir import RUN_FOLDER_PREFIX, remove_abandoned_run_dirs

PACKAGE = Path(__file__).resolve().parents[1] / "job_helpers"


def beyond_the_kernel_s_pids() -> int:
    """A pid no process can have: past /proc/sys/kernel/pid_max (Linux's largest is 2^22)."""
    try:
        return int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    except OSError:
        return 2**22 + 1


def test_a_running_process_is_alive_and_a_pid_no_process_has_is_not():
    assert process_alive(os.getpid())
    assert not process_alive(beyond_the_kernel_s_pids())


@pytest.mark.parametrize("pid", [0, -1, "minus this process", 2**70])
def test_only_a_positive_pid_in_range_names_a_process(pid):
    """os.kill(0, 0) and os.kill(-1, 0) ask about process groups, which exist: 0 was alive forever; 2^70 overflowed.
    (The ids are fixed: two test workers must collect the same names.)"""
    assert not process_alive(-os.getpid() if pid == "minus this process" else pid)


def test_a_recording_note_with_a_pid_of_no_process_is_cleared_not_awaited(tmp_path):
    """A note naming pid 0 kept every later session waiting for a JVM that never was (the group answered)."""
    archive = tmp_path / "spark-driver-x.jsa"
    note = tmp_path / "spark-driver-x.0.recording.json"
    note.write_text('{"pid": 0, "class_path": ""}', encoding="utf-8")
    assert class_archive._settle_recordings("java", "", archive, tmp_path / "own.recording") is False
    assert not note.exists()


@pytest.mark.parametrize("pid", ["true", "null", "[1]", '"1"', "1.0"])
def test_a_recording_note_whose_pid_is_not_a_whole_number_is_cleared_not_awaited_or_a_crash(tmp_path, pid):
    """int(True) is init's pid 1, alive for ever, so a note reading true was awaited by every later session;
    null or a list ended the session's start in TypeError. Only a JSON whole number names a process."""
    archive = tmp_path / "spark-driver-x.jsa"
    note = tmp_path / "spark-driver-x.1.recording.json"
    note.write_text(f'{{"pid": {pid}, "class_path": ""}}', encoding="utf-8")
    assert class_archive._settle_recordings("java", "", archive, tmp_path / "own.recording") is False
    assert not note.exists()
    assert not process_alive(True) and process_alive(1)


def test_a_sitewise_run_folder_of_pid_0_is_abandoned_and_a_live_run_s_is_kept(tmp_path):
    """The SiteWise work folders had a third copy of the probe: a folder named for pid 0 was kept forever."""
    abandoned = tmp_path / f"{RUN_FOLDER_PREFIX}0-abc"
    live = tmp_path / f"{RUN_FOLDER_PREFIX}{os.getpid()}-abc"
    gone = tmp_path / f"{RUN_FOLDER_PREFIX}{beyond_the_kernel_s_pids()}-abc"
    for folder in (abandoned, live, gone):
        folder.mkdir()
    remove_abandoned_run_dirs(tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == [live.name]


def test_the_probe_is_written_once():
    probing = sorted(
        path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py") if "os.kill(" in path.read_text(encoding="utf-8")
    )
    assert probing == ["processes.py"]
