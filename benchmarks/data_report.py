"""Benchmark: `make data-report dataset=embrace` over a month of 50 participants, against loading the tables whole.

Writes the Embrace job's published tables for one monthly export straight into a lake folder
(clean readings at the real rates for ``--seconds-per-day`` of each day, wear time with days
missing, the duplicate log, rejects), then runs, each in its own process so peak memory is its
own: our report (the CLI, reading through Storage and Arrow's streaming engine), and a baseline
that loads each table whole with pyarrow and counts with pandas, as a notebook would. Both must
give the same readings per device and day. The target: our peak under 500 MB. Human lines first,
then one JSON object on the last line.

    python benchmarks/data_report.py [--participants 50] [--days 30] [--seconds-per-day 600] [--keep DIR]

``--keep DIR`` leaves the lake, the project and the page in DIR (the README's screenshot comes from it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from process_memory import run_measured  # noqa: E402

SITES = ("fc", "mgh", "bwh", "chop", "nyu", "ucsf")
RATES = {"acc": 32, "eda": 4, "temp": 1}
FIRST = date(2024, 3, 1)
TARGET_MB = 500


def export_name(days: int) -> str:
    last = FIRST + timedelta(days=days - 1)
    return f"Sensors_U02_ALLSITES_{FIRST:%Y%m%d}_{last:%Y%m%d}"


def generate(lake: Path, participants: int, days: int, seconds: int, seed: int = 11) -> int:
    """The export's tables under ``lake`` (the local profile's bucket folders); returns the clean rows written."""
    from job_helpers.control.config import load_settings
    from job_helpers.storage import local_path

    urls = load_settings(REPO / "config.yml", "local", [], environ={"LAKE_ROOT": str(lake)}).datasets
    export = export_name(days)
    rng = np.random.default_rng(seed)
    rows = 0
    wear, duplicates = [], []
    for index in range(participants):
        ppt = f"{SITES[index % len(SITES)]}{100 + index:03d}"
        dev = f"{'ABCDEFGH'[index % 8]}{index:04d}XYZ"
        habit = rng.uniform(0.35, 0.95)
        worn_days = rng.random(days) > rng.uniform(0.0, 0.3)
        if index % 7 == 3:
            worn_days[days // 2 : days // 2 + 5] = False
        totals = dict.fromkeys(RATES, 0)
        for offset in np.nonzero(worn_days)[0]:
            day = FIRST + timedelta(days=int(offset))
            share = float(np.clip(habit + rng.normal(0, 0.12), 0.02, 1.0))
            wear.append((ppt, dev, day.isoformat(), share * 1440, share, 345_600, int(share * 345_600), 8640, int(share * 8640)))
            for stream, rate in RATES.items():
                count = seconds * rate
                start = int(np.datetime64(day.isoformat(), "ms").astype(np.int64))
                time_ms = start + np.arange(count, dtype=np.int64) * (1000 // rate)
                values = {name: pa.nulls(count, pa.float64()) for name in ("x", "y", "z", "eda", "temp")}
                if stream == "acc":
                    values.update({axis: pa.array(rng.normal(0, 40, count).round()) for axis in ("x", "y", "z")})
                else:
                    values[stream] = pa.array(rng.gamma(2.0, 0.5 if stream == "eda" else 16.0, count).round(3))
                table = pa.table(
                    {
                        "ppt_id": pa.array([ppt] * count).dictionary_encode(),
                        "dev_id": pa.array([dev] * count).dictionary_encode(),
                        "time_ms": time_ms,
                        "time": pa.array(time_ms, pa.timestamp("ms", tz="UTC")),
                        **values,
                    }
                )
                target = (
                    local_path(urls["embrace.clean"])
                    / f"export={export}"
                    / f"stream={stream}"
                    / f"date={day}"
                    / f"{ppt}_{dev}.parquet"
                )
                target.parent.mkdir(parents=True, exist_ok=True)
                pq.write_table(table, target)
                rows += count
                totals[stream] += count
        for stream, total in totals.items():
            perfect, nan, unclear = (int(rng.integers(0, max(total // 200, 1))) for _ in range(3))
            duplicates.append(
                (stream, ppt, dev, "2024-03", total + perfect + nan + unclear, perfect + unclear, perfect, nan, unclear)
            )
    wear_columns = ("ppt_id", "dev_id", "day", "minutes_worn", "share_worn", "samples", "samples_worn", "windows", "windows_worn")
    target = local_path(urls["embrace.wear_time"]) / f"export={export}" / "part-0.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([dict(zip(wear_columns, row)) for row in wear]), target)
    log_columns = ("ppt_id", "dev_id", "month", "total_rows", "total_dupes", "perfect", "nan", "unclear")
    for stream in RATES:
        target = local_path(urls["embrace.duplicate_log"]) / f"export={export}" / f"stream={stream}" / "part-0.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        picked = [dict(zip(log_columns, row[1:])) for row in duplicates if row[0] == stream]
        pq.write_table(pa.Table.from_pylist(picked), target)
        rejects = local_path(urls["embrace.rejects"]) / f"export={export}" / f"stream={stream}" / "part-0.json"
        rejects.parent.mkdir(parents=True, exist_ok=True)
        reasons = ("non-numeric value", "wrong number of fields", "timestamp is not whole milliseconds")
        rejects.write_text(
            "".join(
                json.dumps(
                    {
                        "ppt_id": f"fc{100 + n % participants:03d}",
                        "dev_id": "X",
                        "file": f"{stream}.csv",
                        "line": n,
                        "reason": reasons[n % 3],
                        "record": "1,a",
                    }
                )
                + "\n"
                for n in range(40)
            )
        )
    return rows


def project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config.yml", root / "config.yml")
    if not (root / "sql").exists():
        (root / "sql").symlink_to(REPO / "sql", target_is_directory=True)
    return root / "config.yml"


def baseline(lake: Path) -> dict:
    """Every table loaded whole, then counted with pandas."""
    import pyarrow.dataset as ds

    from job_helpers.control.config import load_settings
    from job_helpers.storage import local_path

    urls = load_settings(REPO / "config.yml", "local", [], environ={"LAKE_ROOT": str(lake)}).datasets
    clean = ds.dataset(local_path(urls["embrace.clean"]), format="parquet", partitioning="hive").to_table().to_pandas()
    per_device = clean.groupby(["ppt_id", "dev_id", "date"], observed=True).size()
    wear = ds.dataset(local_path(urls["embrace.wear_time"]), format="parquet", partitioning="hive").to_table().to_pandas()
    return {"readings": int(per_device.sum()), "device_days": int(len(per_device)), "participant_days": int(len(wear))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seconds-per-day", type=int, default=600)
    parser.add_argument("--keep", type=Path, help="leave the lake, project and page here")
    parser.add_argument("--role", choices=("baseline",))
    parser.add_argument("--lake", type=Path)
    args = parser.parse_args()
    if args.role == "baseline":
        print(json.dumps(baseline(args.lake)))
        return
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="data-report-bench-"))
    try:
        lake = scratch / "lake"
        started = time.perf_counter()
        rows = generate(lake, args.participants, args.days, args.seconds_per_day)
        size = sum(path.stat().st_size for path in lake.rglob("*") if path.is_file())
        print(f"generated {rows:,} clean rows ({size / 1e6:,.0f} MB of Parquet) in {time.perf_counter() - started:.1f} s")
        config = project(scratch / "repo")
        env = {**os.environ, "LAKE_ROOT": str(lake), "PYTHONPATH": str(REPO)}
        ours = run_measured(
            [sys.executable, "-m", "job_helpers", "--config", str(config), "data-report", "--dataset", "embrace"], env
        )
        if ours.returncode != 0:
            raise SystemExit(f"the report failed:\n{ours.stdout}\n{ours.stderr}")
        page = Path(ours.stdout.strip().splitlines()[-1])
        print(f"data-report: {ours.seconds:.1f} s, peak {ours.peak_mb:.0f} MB, {page.stat().st_size / 1e6:.1f} MB page at {page}")
        base = run_measured([sys.executable, __file__, "--role", "baseline", "--lake", str(lake)], env)
        if base.returncode != 0:
            raise SystemExit(f"the baseline failed:\n{base.stderr}")
        counted = json.loads(base.stdout.strip().splitlines()[-1])
        print(f"baseline (tables loaded whole, pandas): {base.seconds:.1f} s, peak {base.peak_mb:.0f} MB")
        html = page.read_text(encoding="utf-8")
        same = f"{counted['readings']:,} clean readings from {args.participants} device(s)" in html
        print(f"same readings in the page as counted by the baseline ({counted['readings']:,}): {same}")
        print(
            json.dumps(
                {
                    "benchmark": "data_report",
                    "dataset": "embrace",
                    "participants": args.participants,
                    "days": args.days,
                    "seconds_per_day": args.seconds_per_day,
                    "clean_rows": rows,
                    "parquet_mb": round(size / 1e6),
                    "ours_seconds": round(ours.seconds, 1),
                    "ours_peak_mb": round(ours.peak_mb),
                    "baseline_seconds": round(base.seconds, 1),
                    "baseline_peak_mb": round(base.peak_mb),
                    "target_mb": TARGET_MB,
                    "met": ours.peak_mb < TARGET_MB,
                    "same_readings": same,
                    "cores": os.cpu_count(),
                }
            )
        )
        if not same:
            raise SystemExit("the page's readings differ from the baseline's count")
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
