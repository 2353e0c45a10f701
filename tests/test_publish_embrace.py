"""The Embrace job passes the shrink guard through: a shortened archive is refused unless allowed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from job_helpers.embrace import read, run
from job_helpers.embrace.archives import Selection
from job_helpers.embrace.outputs import OUTPUTS, STAGED
from job_helpers.embrace.parameters import Parameters
from job_helpers.embrace.sample_data import write_embrace_sample
from job_helpers.publish import ShrinkRefused
from job_helpers.storage import Storage


def files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file() and "_staging" not in p.parts
    }


def run_chunk(tasks, params: Parameters) -> run.ChunkResult:
    landing = read.landing_archives(Storage(), params.landing, params.first, params.last)
    return run.clean_and_publish(tasks, Storage(), landing, params)


def test_an_archive_cut_short_is_refused_unless_shrinking_is_allowed(tasks, spark, tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    params = Parameters(
        first=date(2024, 3, 1),
        last=date(2024, 3, 2),
        landing=landing.as_uri() + "/",
        outputs={name: (lake / name).as_uri() + "/" for name in OUTPUTS},
        selection=Selection(streams=("temp",)),
    )
    sample = {"start": date(2024, 3, 1), "days": 2, "participants": ("fc096",), "period_end": date(2024, 3, 2)}
    write_embrace_sample(Storage(), landing.as_uri() + "/", seconds_per_day=3000, **sample)
    run_chunk(tasks, params)
    before = files(lake / "clean")
    write_embrace_sample(Storage(), landing.as_uri() + "/", seconds_per_day=20, **sample)
    published = {name: files(lake / name) for name in STAGED}
    with pytest.raises(ShrinkRefused, match=r"clean/: this run would replace .*--allow-shrink true"):
        run_chunk(tasks, params)
    assert {name: files(lake / name) for name in published} == published
    run_chunk(tasks, replace(params, allow_shrink=True))
    assert sum(map(len, files(lake / "clean").values())) < sum(map(len, before.values())) / 10
