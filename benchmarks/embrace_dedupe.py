"""Benchmark: embrace_dedupe (tasks on pyarrow, streamed from the zip) against the unzip-and-pandas way.

Generates a month-shaped archive at the real rates (acc 32 Hz, eda 4 Hz, temp 1 Hz) with flaws
injected, then runs, each in its own process so peak memory is its own: our job's chunk, and a
baseline applying the same rules the way the earlier tool does (unzip to a stage folder, read
each CSV whole as strings, duplicate masks, a stage copy per file, then a combine step). Both must
give the same clean rows. Human lines first, then one JSON object on the last line.

    python benchmarks/embrace_dedupe.py [--participants 8] [--days 1] [--seconds-per-day 86400]

``--sweep`` measures our chunk at 1, 4 (2 participants x 2 days) and 16 (4 x 4) participant-days at the
real rates, the baseline at 4, and how flat our peak memory is (issue 21: peak at 16 within 1.15x of
the peak at 1, and at 4 at most a third of the 2,350 MB the Timestone tool took on the same export).
CPU seconds are those of the whole process tree; compare them, not wall time, on a busy machine.

    python benchmarks/embrace_dedupe.py --sweep

``--wrong-width-rows N`` instead measures our chunk alone on an archive whose one EDA member holds
N lines of three fields (issue 9.16: each is a reject, and memory must not grow with them).

    python benchmarks/embrace_dedupe.py --wrong-width-rows 10000000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from process_memory import Measured, run_measured  # noqa: E402

SITES = ("fc", "mgh", "bwh", "chop", "nyu", "ucsf")
# Participants x days of the size sweep, and what issue 21 asks of it.
SWEEP = ((1, 1), (2, 2), (4, 4))
TIMESTONE_PEAK_MB = 2350  # the Timestone tool on 2 participants x 2 days, measured for issue 21
TARGET_PEAK_MB = 780  # issue 21: at most a third of it, rounded down
FLAT_WITHIN = 1.15


def generate(landing: Path, participants: int, days: int, seconds: int) -> dict:
    from job_helpers.embrace.sample_data import write_embrace_sample
    from job_helpers.storage import Storage

    ids = tuple(f"{SITES[i % len(SITES)]}{100 + i:03d}" for i in range(participants))
    summary = write_embrace_sample(
        Storage(),
        landing.as_uri() + "/",
        start=date(2024, 3, 1),
        days=days,
        seconds_per_day=seconds,
        participants=ids,
        period_end=date(2024, 3, 31),
    )
    return {"archive": summary.url, "rows": summary.rows, "clean": summary.clean, "bytes": summary.bytes}


def generate_wrong_width(landing: Path, rows: int) -> dict:
    """One archive whose only member is an EDA file of ``rows`` lines with a field too many."""
    import zipfile

    landing.mkdir(parents=True, exist_ok=True)
    path = landing / "Sensors_U02_FC_20240301_20240331.zip"
    line = b"1709251200000,0.5,9\n"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("U02/FC/006/devF/eda.csv", "w", force_zip64=True) as member:
            member.write(b"Unix Timestamp (UTC),EDA (microS)\n")
            for start in range(0, rows, 100_000):
                member.write(line * min(100_000, rows - start))
    return {"archive": path.as_uri(), "rows": rows, "bytes": path.stat().st_size}


def run_ours(landing: Path, lake: Path) -> dict:
    """The job's chunk, as the job runs it; what it published is checked by the caller, outside the process measured."""
    from job_helpers.embrace import read, run
    from job_helpers.embrace.outputs import OUTPUTS
    from job_helpers.embrace.parameters import Parameters
    from job_helpers.runtime import local_tasks
    from job_helpers.storage import Storage

    params = Parameters(
        first=date(2024, 3, 1),
        last=date(2024, 3, 31),
        landing=landing.as_uri() + "/",
        outputs={name: (lake / name).as_uri() + "/" for name in OUTPUTS},
    )
    storage = Storage()
    summary = run.clean_and_publish(
        local_tasks(), storage, read.landing_archives(storage, params.landing, params.first, params.last), params
    )
    return {"clean": dict(summary.clean_rows), "rejects": summary.rejected.total(), "failed": summary.failed}


def clean_check(lake: Path) -> dict:
    """Rows and the sum of their times per stream of the published clean table, read a batch at a time."""
    import pyarrow.dataset as ds

    check = {}
    for folder in sorted((lake / "clean").glob("stream=*")):
        rows = total = 0
        for batch in ds.dataset(folder, format="parquet", exclude_invalid_files=True).to_batches(columns=["time_ms"]):
            rows += batch.num_rows
            total += int(batch.column(0).to_numpy().sum())
        check[folder.name.split("=", 1)[1]] = [rows, total]
    return check


def run_baseline(landing: Path, stage: Path) -> dict:
    """The earlier tool's way: unzip, per-file pandas with string dtype and masks, stage, combine."""
    import zipfile

    import pandas as pd

    unpacked = stage / "unzipped"
    for archive in landing.glob("*.zip"):
        with zipfile.ZipFile(archive) as handle:
            handle.extractall(unpacked)
    staged = stage / "deduped"
    for path in sorted(unpacked.rglob("*.csv")):
        stream = path.stem
        if stream not in ("acc", "eda", "temp"):
            continue
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        values = frame.columns[1:]
        missing = frame[values].apply(lambda c: c.str.strip().str.lower().isin(["", "nan", "null", "na", "none"])).any(axis=1)
        frame = frame[~missing].copy()
        numbers = frame[values].astype(float)
        if stream == "eda":
            numbers = numbers.where(numbers != 0, 0.0)
        numbers.insert(0, "ts", frame.iloc[:, 0].astype("int64"))
        perfect = numbers.duplicated(keep=False)
        same_time = numbers.duplicated(subset=["ts"], keep=False)
        unclear_times = numbers.loc[same_time & ~perfect, "ts"]
        unclear = numbers["ts"].isin(unclear_times) | (
            same_time & numbers.groupby("ts")[list(values)].transform("nunique").gt(1).any(axis=1)
        )
        kept = numbers[~unclear].drop_duplicates()
        device, participant, site = path.parent.name, path.parent.parent.name, path.parent.parent.parent.name
        kept.insert(1, "ppt_id", site.lower() + participant)
        kept.insert(2, "dev_id", device)
        target = staged / stream / f"{site}_{participant}_{device}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        kept.to_csv(target, index=False)
    check = {}
    for folder in sorted(staged.iterdir()):
        combined = pd.concat([pd.read_csv(path, dtype=str) for path in sorted(folder.glob("*.csv"))])
        combined.to_csv(stage / f"{folder.name}_combined.csv", index=False)
        # Summed as Python integers, like ours: an int64 sum of a month of millisecond times wraps around.
        check[folder.name] = [len(combined), sum(int(value) for value in combined["ts"].astype("int64"))]
    return {"check": check}


def measured(role: str, *args: str) -> tuple[dict, float, float]:
    """Run this script as ``role`` in a child process: its JSON result, seconds and peak memory in MB
    (the whole process tree: for ours the driver and its task workers)."""
    result, run = measured_run(role, *args)
    return result, run.seconds, run.peak_mb


def measured_run(role: str, *args: str) -> tuple[dict, Measured]:
    """As ``measured``, with the CPU seconds of the process tree too."""
    run = run_measured([sys.executable, __file__, "--role", role, *args])
    if run.returncode:
        raise SystemExit(f"the {role} run failed:\n" + "\n".join(run.stderr.splitlines()[-30:]))
    return json.loads(run.stdout.strip().splitlines()[-1]), run


def sweep() -> None:
    """Our chunk at each size of ``SWEEP`` (the baseline at 2 x 2): seconds, CPU seconds, peak MB, flatness."""
    sizes, baseline = [], {}
    for participants, days in SWEEP:
        with tempfile.TemporaryDirectory(prefix="embrace-bench-") as scratch:
            landing = Path(scratch, "landing")
            sample = generate(landing, participants, days, 86_400)
            rows = sum(sample["rows"].values())
            work = ("--landing", str(landing), "--work")
            ours, run = measured_run("ours", *work, str(Path(scratch, "lake")))
            ours["check"] = clean_check(Path(scratch, "lake"))
            if ours["clean"] != sample["clean"]:
                raise SystemExit(f"{participants} x {days}: clean rows {ours['clean']}, expected {sample['clean']}")
            size = {
                "participant_days": participants * days,
                "participants": participants,
                "days": days,
                "rows": rows,
                "zip_mb": round(sample["bytes"] / 1e6, 1),
                "seconds": round(run.seconds, 1),
                "cpu_seconds": round(run.cpu_seconds, 1),
                "peak_mb": round(run.peak_mb),
            }
            sizes.append(size)
            print(
                f"{participants} x {days} ({rows:,} rows, {size['zip_mb']} MB zipped): {size['seconds']} s, "
                f"{size['cpu_seconds']} CPU s, peak {size['peak_mb']} MB (driver and workers)"
            )
            if (participants, days) == (2, 2):
                base, base_run = measured_run("baseline", *work, str(Path(scratch, "stage")))
                if base["check"] != ours["check"]:
                    raise SystemExit(f"outputs differ: ours {ours['check']} baseline {base['check']}")
                baseline = {
                    "seconds": round(base_run.seconds, 1),
                    "cpu_seconds": round(base_run.cpu_seconds, 1),
                    "peak_mb": round(base_run.peak_mb),
                }
                print(
                    f"  baseline (unzip + pandas + stage + combine): {baseline['seconds']} s, "
                    f"{baseline['cpu_seconds']} CPU s, peak {baseline['peak_mb']} MB; Timestone: {TIMESTONE_PEAK_MB} MB"
                )
    flat = sizes[-1]["peak_mb"] / sizes[0]["peak_mb"]
    reference = next(size for size in sizes if (size["participants"], size["days"]) == (2, 2))
    print(
        f"peak at {sizes[-1]['participant_days']} participant-days / at 1: {flat:.2f} (at most {FLAT_WITHIN}); "
        f"at 2 x 2: {reference['peak_mb']} MB (at most {TARGET_PEAK_MB}, a third of Timestone's {TIMESTONE_PEAK_MB})"
    )
    print(
        json.dumps(
            {
                "benchmark": "embrace_dedupe_sweep",
                "sizes": sizes,
                "baseline_2x2": baseline,
                "timestone_peak_mb": TIMESTONE_PEAK_MB,
                "target_peak_mb": TARGET_PEAK_MB,
                "flat_ratio": round(flat, 2),
                "flat": flat <= FLAT_WITHIN,
                "within_target": reference["peak_mb"] <= TARGET_PEAK_MB,
                "cores": os.cpu_count(),
            }
        )
    )


def wrong_width(rows: int) -> None:
    """Our chunk on one member of ``rows`` wrong-width lines: time, peak memory of the process tree, rejects."""
    with tempfile.TemporaryDirectory(prefix="embrace-bench-") as scratch:
        landing = Path(scratch, "landing")
        sample = generate_wrong_width(landing, rows)
        print(f"generated {rows:,} wrong-width lines ({sample['bytes'] / 1e3:.0f} KB zipped)")
        ours, seconds, peak_mb = measured("ours", "--landing", str(landing), "--work", str(Path(scratch, "lake")))
        print(f"embrace_dedupe: {seconds:.1f} s, peak {peak_mb:.0f} MB (driver and workers), {ours['rejects']:,} reject(s)")
        print(
            json.dumps(
                {
                    "benchmark": "embrace_dedupe_wrong_width",
                    "rows": rows,
                    "zip_kb": round(sample["bytes"] / 1e3),
                    "ours_seconds": round(seconds, 1),
                    "ours_peak_mb": round(peak_mb),
                    "rejects": ours["rejects"],
                    "cores": os.cpu_count(),
                }
            )
        )
        if ours["rejects"] != rows:
            raise SystemExit(f"expected {rows:,} rejects, the run counted {ours['rejects']:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=8)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--seconds-per-day", type=int, default=86_400)
    parser.add_argument("--role", choices=("ours", "baseline"))
    parser.add_argument("--landing", type=Path)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--sweep", action="store_true", help="measure ours at 1, 4 and 16 participant-days")
    parser.add_argument(
        "--wrong-width-rows", type=int, default=0, help="measure ours on one member of this many wrong-width lines"
    )
    args = parser.parse_args()
    if args.role == "ours":
        print(json.dumps(run_ours(args.landing, args.work)))
        return
    if args.role == "baseline":
        print(json.dumps(run_baseline(args.landing, args.work)))
        return
    if args.wrong_width_rows:
        wrong_width(args.wrong_width_rows)
        return
    if args.sweep:
        sweep()
        return
    with tempfile.TemporaryDirectory(prefix="embrace-bench-") as scratch:
        landing = Path(scratch, "landing")
        started = time.perf_counter()
        sample = generate(landing, args.participants, args.days, args.seconds_per_day)
        rows = sum(sample["rows"].values())
        print(f"generated {rows:,} rows ({sample['bytes'] / 1e6:.1f} MB zipped) in {time.perf_counter() - started:.1f} s")
        base, base_s, base_mb = measured("baseline", "--landing", str(landing), "--work", str(Path(scratch, "stage")))
        print(f"baseline (unzip + pandas + stage + combine): {base_s:.1f} s, peak {base_mb:.0f} MB")
        ours, ours_s, ours_mb = measured("ours", "--landing", str(landing), "--work", str(Path(scratch, "lake")))
        ours["check"] = clean_check(Path(scratch, "lake"))
        print(
            f"embrace_dedupe (tasks on pyarrow, streamed from the zip): {ours_s:.1f} s, peak {ours_mb:.0f} MB (driver and workers)"
        )
        same = ours["check"] == base["check"] and ours["clean"] == sample["clean"]
        print(f"same clean rows: {same}; speed-up {base_s / ours_s:.2f}x, memory ratio {ours_mb / base_mb:.2f}")
        print(
            json.dumps(
                {
                    "benchmark": "embrace_dedupe",
                    "participants": args.participants,
                    "days": args.days,
                    "seconds_per_day": args.seconds_per_day,
                    "rows": rows,
                    "zip_mb": round(sample["bytes"] / 1e6, 1),
                    "ours_seconds": round(ours_s, 1),
                    "baseline_seconds": round(base_s, 1),
                    "ours_peak_mb": round(ours_mb),
                    "baseline_peak_mb": round(base_mb),
                    "speedup": round(base_s / ours_s, 2),
                    "memory_ratio": round(ours_mb / base_mb, 2),
                    "same_rows": same,
                    "cores": os.cpu_count(),
                }
            )
        )
        if not same:
            raise SystemExit(f"outputs differ: ours {ours['check']} baseline {base['check']}")


if __name__ == "__main__":
    main()
