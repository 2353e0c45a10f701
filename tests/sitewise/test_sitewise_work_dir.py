"""Local download folders: one per run, gone when the run ends, and removed after a killed run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest
from sitewise_helpers import (
    FIRST_DAY,
    LAST_DAY,
    REPO,
    SEED,
    SERIES,
    Lake,
    before_each_commit,
    input_records,
    output_records,
    raw_urls,
)

from job_helpers.sitewise.keys import Layout
from job_helpers.sitewise.run import merge_days
from job_helpers.sitewise.sample_data import write_cold_tier
from job_helpers.sitewise.series import SeriesFilter, from_asset_metadata
from job_helpers.sitewise.work_dir import RUN_FOLDER_PREFIX
from job_helpers.storage import Storage

# A run in its own process that is killed (SIGKILL, no clean-up) after its third download.
KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import date
    from pathlib import Path
    from job_helpers.sitewise.run import merge_days
    from job_helpers.sitewise.keys import Layout
    from job_helpers.sitewise.series import from_asset_metadata
    from job_helpers.storage import Storage

    class DiesMidDownload(Storage):
        downloads = 0

        def download(self, url, path):
            super().download(url, path)
            DiesMidDownload.downloads += 1
            if DiesMidDownload.downloads == 3:
                os.kill(os.getpid(), signal.SIGKILL)

    base, work = sys.argv[1], Path(sys.argv[2])
    storage, layout = DiesMidDownload(), Layout(f"{base}/cold", f"{base}/repartitioned", f"{base}/index")
    day = date.fromisoformat(sys.argv[3])
    merge_days(storage, layout, [day], from_asset_metadata(storage, layout, "ASSOCIATED"), max_workers=1, work_dir=work)
    """
)


@pytest.mark.subprocess
def test_folder_of_a_killed_run_is_removed_by_the_next_run(tmp_path: Path) -> None:
    base = tmp_path.as_uri()
    storage, layout = Storage(), Layout(f"{base}/cold", f"{base}/repartitioned", f"{base}/index")
    written = write_cold_tier(storage, layout.cold_tier, FIRST_DAY, 1, SERIES, records_per_file=20, seed=SEED)
    lake = Lake(storage, layout, written)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, base, str(work), FIRST_DAY.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert any(path.is_file() for path in work.rglob("*")), "the killed run should have left its downloads"

    series_filter = from_asset_metadata(lake.storage, lake.layout, "ASSOCIATED")
    summary = merge_days(lake.storage, lake.layout, [FIRST_DAY], series_filter, max_workers=2, work_dir=work)

    assert not summary.failed
    assert list(work.iterdir()) == []
    assert output_records(lake, FIRST_DAY) == input_records(lake, FIRST_DAY, lake.written.associated)


def test_failing_run_leaves_no_local_files(lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    victim = raw_urls(lake, LAST_DAY, lake.written.associated)[0]
    data = lake.storage.read_bytes(victim)
    lake.storage.write_bytes(victim, data[: len(data) - 25])
    work = tmp_path / "work"
    work.mkdir()

    def crash(day: date, staged_url: str) -> None:
        raise RuntimeError(f"simulated failure after staging {staged_url}")

    series_filter = from_asset_metadata(lake.storage, lake.layout, "ASSOCIATED")
    before_each_commit(monkeypatch, crash)
    summary = merge_days(lake.storage, lake.layout, [FIRST_DAY, LAST_DAY], series_filter, max_workers=2, work_dir=work)

    assert set(summary.failed) == {FIRST_DAY, LAST_DAY}
    assert list(work.iterdir()) == []


def test_folders_of_live_processes_are_kept(tmp_path: Path) -> None:
    live = tmp_path / f"{RUN_FOLDER_PREFIX}{os.getppid()}-abc"
    live.mkdir()
    (live / "input-0000000.avro").write_bytes(b"being downloaded")
    unrelated = tmp_path / "sitewise-notes"
    unrelated.mkdir()
    layout_root = tmp_path.as_uri()
    layout = Layout(f"{layout_root}/cold", f"{layout_root}/out", f"{layout_root}/index")
    nothing = SeriesFilter(frozenset(), keep_listed=True, description="no series")
    summary = merge_days(Storage(), layout, [FIRST_DAY], nothing, max_workers=1, work_dir=tmp_path)

    assert summary.skipped == [FIRST_DAY]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([live.name, unrelated.name])
