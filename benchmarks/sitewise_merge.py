"""How the block-copy merge compares with decoding every record, and with copying bytes blindly.

    python benchmarks/sitewise_merge.py [--series 1200 --records 2000]

Generates one day of snappy raw files (one file per series) in a temporary folder, then times:

* our merge with its read-back, as the job runs it before a commit: ``merge_avro_files`` (headers
  read, every snappy block decompressed to check its CRC-32 and its records walked to check its
  count, blocks copied with a new sync marker), then ``read_back`` of the merged file (framing,
  sync markers, and each block's count, size and CRC-32 against what was written);
* the record-by-record approach of earlier implementations: the ``avro`` reference library
  decoding and re-encoding every record (timed on a subset and extrapolated per record, as
  the whole day would take minutes);
* a raw byte copy: the same files concatenated with ``shutil`` (not a valid Avro file; the
  floor for anything that reads every byte).

Ours and the raw copy are timed 3 times each; the minimum and the median are reported, and the
targets are checked on both. Peak memory of our merge is the peak RSS of a fresh child process,
on the day and on a day four times larger (the same files copied four times). Files are read
from the page cache in every case. Human-readable lines come first; the last line is one JSON
object with the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from job_helpers.sitewise.avro_blocks import count_records, merge_avro_files, read_back  # noqa: E402
from job_helpers.sitewise.sample_data import encode_raw_file, plan_series, raw_records  # noqa: E402

DAY = date(2024, 1, 5)
SPEEDUP_TARGET = 100.0
RAW_COPY_TARGET = 10.0
MEMORY_TARGET = 1.25


def generate_day(folder: Path, series: int, records: int, seed: int) -> list[Path]:
    """One raw file per series, ``records`` readings each, snappy compressed."""
    folder.mkdir(parents=True)
    start = int(datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC).timestamp())
    rng = random.Random(seed)
    paths = []
    for spec in plan_series(series, seed):
        path = folder / f"raw_{spec.series_id}_{start}_GOOD.avro"
        path.write_bytes(encode_raw_file(raw_records(spec, start, "GOOD", records, rng)))
        paths.append(path)
    return paths


REPEATS = 3


def timed(repeats: int, action: Callable[[], object]) -> list[float]:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return timings


def our_merge(paths: list[Path], output: Path) -> int:
    """Merge the files, then read the merged file back as the job does before its commit."""
    stats = merge_avro_files(((path.name, path) for path in paths), output)
    with open(output, "rb") as stream:
        return read_back(stream, output.name, stats)


def raw_copy(paths: list[Path], output: Path) -> None:
    with open(output, "wb") as out:
        for path in paths:
            with open(path, "rb") as source:
                shutil.copyfileobj(source, out)


def record_by_record(paths: list[Path], output: Path) -> int:
    """Decode every record with the reference library and write it again, as a rewrite would."""
    import avro.datafile
    import avro.io
    import avro.schema

    records = 0
    writer = None
    with open(output, "wb") as out:
        for path in paths:
            with avro.datafile.DataFileReader(open(path, "rb"), avro.io.DatumReader()) as reader:
                if writer is None:
                    schema = avro.schema.parse(reader.get_meta("avro.schema").decode("utf-8"))
                    writer = avro.datafile.DataFileWriter(out, avro.io.DatumWriter(), schema, codec="snappy")
                for record in reader:
                    writer.append(record)
                    records += 1
        if writer is not None:
            writer.flush()
    return records


def peak_rss_of_merge(folder: Path, output: Path) -> dict:
    """Run our merge over a folder in a fresh child process; return its RSS figures in KiB."""
    done = subprocess.run(
        [sys.executable, __file__, "--measure-memory", str(folder), str(output)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_memory(folder: Path, output: Path) -> None:
    """The child's side: RSS after imports (and the record walk's compilation, on one file), the
    peak RSS after merging the folder, and the peak of Python allocations during the merge
    (tracemalloc, started after the RSS reading)."""
    paths = sorted(folder.iterdir())
    our_merge(paths[:1], output)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    our_merge(paths, output)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "files": len(paths),
                "bytes": output.stat().st_size,
                "rss_after_imports_kib": before,
                "peak_rss_kib": peak,
                "python_alloc_peak_kib": traced_peak // 1024,
            }
        )
    )


def describe_memory(size: str, figures: dict) -> None:
    print(
        f"our merge of a {size} day ({figures['files']} files, {figures['bytes'] / 1e6:.1f} MB out): "
        f"peak RSS {figures['peak_rss_kib'] / 1024:.1f} MiB (interpreter and imports alone "
        f"{figures['rss_after_imports_kib'] / 1024:.1f} MiB, numba's compiler included), "
        f"peak Python allocations during the merge {figures['python_alloc_peak_kib']} KiB",
        flush=True,
    )


def run(series: int, records: int, baseline_files: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="sitewise-merge-bench-") as temp:
        root = Path(temp)
        started = time.perf_counter()
        paths = generate_day(root / "day", series, records, seed)
        day_bytes = sum(path.stat().st_size for path in paths)
        total_records = series * records
        print(
            f"generated {len(paths)} files, {total_records} records, {day_bytes / 1e6:.1f} MB "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )

        merged, copied = root / "merged.avro", root / "copied.bin"
        our_merge(paths, merged)  # the first merge of a process compiles the record walk
        ours, copy = [], []
        for _ in range(REPEATS):  # alternately, so both see the same load
            ours += timed(1, lambda: our_merge(paths, merged))
            copy += timed(1, lambda: raw_copy(paths, copied))
        assert count_records(merged, "merged") == our_merge(paths, merged) == total_records, "merged file lost records"
        merge_only = min(timed(REPEATS, lambda: merge_avro_files(((path.name, path) for path in paths), merged)))
        print(
            f"our merge with read-back: min {min(ours):.3f} s, median {statistics.median(ours):.3f} s of {REPEATS} "
            f"({total_records / min(ours) / 1e6:.1f} M records/s); the merge alone: min {merge_only:.3f} s",
            flush=True,
        )
        print(f"raw byte copy: min {min(copy):.3f} s, median {statistics.median(copy):.3f} s of {REPEATS}", flush=True)

        subset = paths[: max(1, min(baseline_files, len(paths)))]
        started = time.perf_counter()
        subset_records = record_by_record(subset, root / "rewritten.avro")
        subset_seconds = time.perf_counter() - started
        baseline = subset_seconds / subset_records * total_records
        print(
            f"record-by-record (avro reference library): {subset_seconds:.2f} s for {len(subset)} files, "
            f"{subset_records} records; extrapolated to the day: {baseline:.1f} s",
            flush=True,
        )

        one_day = peak_rss_of_merge(root / "day", root / "mem-1x.avro")
        describe_memory("1x", one_day)
        four = root / "day-4x"
        four.mkdir()
        for copy_number in range(4):
            for path in paths:
                shutil.copyfile(path, four / f"{copy_number}-{path.name}")
        four_days = peak_rss_of_merge(four, root / "mem-4x.avro")
        describe_memory("4x", four_days)

    speedup, speedup_median = baseline / min(ours), baseline / statistics.median(ours)
    versus_copy, versus_copy_median = min(ours) / min(copy), statistics.median(ours) / statistics.median(copy)
    memory_ratio = four_days["peak_rss_kib"] / one_day["peak_rss_kib"]
    return {
        "series": series,
        "records_per_file": records,
        "files": len(paths),
        "records": total_records,
        "day_bytes": day_bytes,
        "our_merge_with_read_back_s": {"min": round(min(ours), 4), "median": round(statistics.median(ours), 4)},
        "our_merge_alone_min_s": round(merge_only, 4),
        "raw_copy_s": {"min": round(min(copy), 4), "median": round(statistics.median(copy), 4)},
        "record_baseline_s": round(baseline, 2),
        "record_baseline_extrapolated": True,
        "record_baseline_subset_files": len(subset),
        "record_baseline_subset_records": subset_records,
        "record_baseline_subset_s": round(subset_seconds, 3),
        "speedup_vs_record_baseline": {"min": round(speedup, 1), "median": round(speedup_median, 1)},
        "slowdown_vs_raw_copy": {"min": round(versus_copy, 2), "median": round(versus_copy_median, 2)},
        "peak_rss_1x_kib": one_day["peak_rss_kib"],
        "peak_rss_4x_kib": four_days["peak_rss_kib"],
        "rss_after_imports_kib": one_day["rss_after_imports_kib"],
        "python_alloc_peak_1x_kib": one_day["python_alloc_peak_kib"],
        "python_alloc_peak_4x_kib": four_days["python_alloc_peak_kib"],
        "peak_rss_ratio_4x_to_1x": round(memory_ratio, 3),
        "targets": {
            "speedup_vs_record_baseline_at_least_100": min(speedup, speedup_median) >= SPEEDUP_TARGET,
            "within_10x_of_raw_copy": max(versus_copy, versus_copy_median) <= RAW_COPY_TARGET,
            "peak_rss_4x_at_most_1_25x_of_1x": memory_ratio <= MEMORY_TARGET,
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1200)
    parser.add_argument("--records", type=int, default=2000, help="records per series (one file each)")
    parser.add_argument("--baseline-files", type=int, default=30, help="files the record-by-record baseline decodes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--measure-memory", nargs=2, metavar=("FOLDER", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure_memory:
        measure_memory(Path(args.measure_memory[0]), Path(args.measure_memory[1]))
        return
    print(json.dumps(run(args.series, args.records, args.baseline_files, args.seed)))


if __name__ == "__main__":
    main()
