"""A device-day cleaned an hour slice at a time: the same files and counts as the day cleaned whole."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import numpy as np
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from job_helpers.embrace.archives import Archive, Selection
from job_helpers.embrace.day_buffer import SLICE_MS
from job_helpers.embrace.read import member_groups
from job_helpers.embrace.stream_tasks import DeviceStream, Targets, process
from job_helpers.embrace.transform import Claims, combine_day, parse_stream, wear_day
from job_helpers.storage import Storage, local_path

EDA = "Unix Timestamp (UTC),EDA (microS)\n"
MIDNIGHT_MS = 1_709_251_200_000  # 2024-03-01


def shuffled_day(rng: np.random.Generator) -> list[str]:
    """Four hours of 4 Hz EDA in random order, with duplicates, disagreements and missing values on the
    hour boundaries, an off-wrist window, and one reading of the next day."""
    ts = MIDNIGHT_MS + np.arange(0, 4 * SLICE_MS, 250)
    values = rng.uniform(0.1, 3.0, len(ts))
    values[(ts - MIDNIGHT_MS) // 10_000 == 7] = 0.01  # one window off the wrist
    lines = [f"{t},{v:.6f}" for t, v in zip(ts.tolist(), values.tolist())]
    for hour in (1, 2, 3):
        edge = MIDNIGHT_MS + hour * SLICE_MS
        lines += [f"{edge - 250},{values[(edge - 250 - MIDNIGHT_MS) // 250]:.6f}", f"{edge},9.5", f"{edge},NaN"]
        lines += [f"{edge + 250},", f"{edge + 500},-0.0", f"{edge + 500},0.0"]
    lines.append(f"{MIDNIGHT_MS + 86_400_000 + 5},1.0")
    return [lines[i] for i in rng.permutation(len(lines))]


def test_a_day_cleaned_hour_by_hour_gives_what_the_rules_give_for_the_whole_day(tmp_path):
    lines = shuffled_day(np.random.default_rng(11))
    text = EDA + "\n".join(lines) + "\n"
    path = tmp_path / "Sensors_U02_FC_20240301_20240331.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("U02/FC/001/D/eda.csv", text)
    found = Archive(path.as_uri(), path.stem, "U02", "FC", date(2024, 3, 1), date(2024, 3, 31))
    (group,) = member_groups(found, Selection(), Storage()).groups
    outputs = {name: (tmp_path / name).as_uri() + "/" for name in ("clean", "timestream_ready", "rejects")}
    targets = Targets.of_run(outputs, "run", [found.export], 40_000)
    result = process(DeviceStream(group.ppt_id, group.dev_id, group.kind, (group,)), targets)

    blocks = list(parse_stream(io.BytesIO(text.encode()), "eda", "eda.csv", lambda rejects: None))
    ts, values, missing = (np.concatenate([getattr(block, name) for block in blocks]) for name in ("ts", "values", "missing"))
    assert not (np.diff(ts) >= 0).all()  # the rows come out of time order
    first_day = ts < MIDNIGHT_MS + 86_400_000
    whole = combine_day(Claims(ts[first_day], values[first_day], missing[first_day], np.zeros(first_day.sum(), np.int32)), 1)

    assert result.errors == {} and result.problem is None
    assert result.days["2024-03-01"] == whole.counts
    assert whole.counts.perfect and whole.counts.unclear and whole.counts.nan
    assert result.wear["2024-03-01"] == wear_day(whole.ts, whole.values[:, 0])
    staged = local_path(targets.staging["clean"])
    (clean_file,) = (staged / "stream=eda/date=2024-03-01").iterdir()
    clean = pq.read_table(clean_file)
    assert clean.column("time_ms").to_pylist() == whole.ts.tolist()
    assert clean.column("eda").to_pylist() == whole.values[:, 0].tolist()
    assert len({t // SLICE_MS for t in whole.ts.tolist()}) == 4
    held = pq.read_table(staged / "_held/stream=eda/date=2024-03-01" / clean_file.name)
    rows = sorted(zip(held.column("time_ms").to_pylist(), held.column("missing").to_pylist(), held.column("copies").to_pylist()))
    assert rows == sorted(zip(whole.held.ts.tolist(), whole.held.missing.tolist(), whole.held.copies.tolist()))
    ready = local_path(targets.staging["timestream_ready"]) / "eda/2024-03-01"
    files = sorted(ready.iterdir())
    assert len(files) > 1 and all(file.stat().st_size <= 40_000 for file in files)
    loaded = [pa_csv.read_csv(file) for file in files]
    assert np.concatenate([table.column("time").to_numpy() for table in loaded]).tolist() == whole.ts.tolist()
    assert sum(rows for name, rows in result.csv_rows.items() if "/2024-03-01/" in name) == len(whole.ts)
