"""The sensor export job against a pandas baseline on a day of 100 sensors (about 4.3M readings).

    python benchmarks/sensor_export.py [--sensors 100 --hours 24]

Generates two days of raw JSON lines in a temporary folder, then, each in its own child process:

* our job (``jobs/sensor_timeseries_export.py``, its tasks in local worker processes) on day 1;
* the pandas baseline on day 1: read the hour files, bucket to seconds, then per sensor and hour
  ``resample('1s')``, ``interpolate()`` the temperature and forward-fill the status;
* the single-machine floor on day 1, without Spark: DuckDB reads the same hour folders, our numpy
  grid (``second_grid``) turns each hour into seconds, pyarrow writes Parquet;
* a check that both produced the same rows for a sample of sensors;
* day 1 again (an overlapping rerun) and day 2 as two chunks in parallel, as ``make execute``
  runs them.

Seconds are wall time of the child, its workers' start-up included; CPU seconds are those of the
child's whole process tree (compare them on a busy machine). Peak memory is the largest resident
total of that tree (for our job: the driver and its task workers), sampled every 20 ms. Our job and the floor run three times, interleaved (job, floor, job, …); the
ratio is of their minimums and of their medians. Human lines first;
the last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from process_memory import run_measured  # noqa: E402

from job_helpers.sensors.sample_data import write_sensor_sample  # noqa: E402
from job_helpers.storage import Storage  # noqa: E402

DAY1 = date(2024, 3, 1)
SAMPLE_SENSORS = ("sensor-00", "sensor-07", "sensor-42")
STATUSES = ("OK", "WARNING", "ERROR")


def child_job(root: Path, day: str) -> dict:
    """Run the real job script in this process."""
    os.environ["JOB_HELPERS_RUNTIME"] = "local"
    sys.path.insert(0, str(REPO / "jobs"))
    import sensor_timeseries_export

    sensor_timeseries_export.main(
        [
            "job",
            "--JOB_NAME",
            f"bench-{day}",
            "--from-date",
            day,
            "--to-date",
            day,
            "--source",
            "raw_json",
            "--raw",
            (root / "raw").as_uri() + "/",
            "--curated",
            (root / "curated").as_uri() + "/",
            "--rejects",
            (root / "rejects").as_uri() + "/",
            "--timestream-database",
            "unused",
            "--timestream-table",
            "unused",
        ]
    )
    return {}


def child_pandas(root: Path, day: str) -> dict:
    """The baseline: plain pandas, per sensor and hour, written the way a notebook would."""
    import pandas as pd

    first = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC)
    records = []
    for n in range(25):
        folder = root / "raw" / f"{first + timedelta(hours=n):%Y/%m/%d/%H}"
        for path in sorted(folder.glob("*")) if folder.is_dir() else []:
            with open(path, encoding="utf-8") as lines:
                for line in lines:
                    try:  # pd.read_json gives up on the whole file at the first malformed line
                        records.append(json.loads(line))
                    except json.JSONDecodeError:
                        continue
    raw = pd.DataFrame.from_records(records, columns=["sensor_id", "temperature", "status", "event_time"])
    del records
    start = int(first.timestamp() * 1000)
    valid = raw[
        raw["status"].isin(STATUSES)
        & raw["temperature"].between(-50, 250)
        & raw["event_time"].between(start, start + 86_400_000 - 1)
    ].copy()
    valid["time"] = pd.to_datetime(valid["event_time"] // 1000, unit="s")
    valid["rank"] = valid["status"].map({s: n for n, s in enumerate(STATUSES)})
    valid["window"] = valid["time"].dt.floor("h")
    out = []
    for (sensor, _), group in valid.groupby(["sensor_id", "window"], sort=False):
        indexed = group.set_index("time")
        temperature = indexed["temperature"].resample("1s").mean().interpolate("linear")
        rank = indexed["rank"].resample("1s").max().ffill()
        out.append(pd.DataFrame({"sensor_id": sensor, "temperature": temperature, "rank": rank}))
    result = pd.concat(out)
    result["status"] = result["rank"].astype(int).map(dict(enumerate(STATUSES)))
    sample = result[result["sensor_id"].isin(SAMPLE_SENSORS)].reset_index()
    rows = [[r.sensor_id, int(r.time.timestamp()), float(r.temperature), r.status] for r in sample.itertuples(index=False)]
    (root / f"pandas-sample-{day}.json").write_text(json.dumps(rows))
    return {"rows": len(result)}


def child_floor(root: Path, day: str) -> dict:
    """The floor: the same readings and rules with no Spark and no JVM, rows counted."""
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    from job_helpers.sensors.transform import MAX_TEMPERATURE, MIN_TEMPERATURE, second_grid

    first = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC)
    start = int(first.timestamp() * 1000)
    folders = [root / "raw" / f"{first + timedelta(hours=n):%Y/%m/%d/%H}" for n in range(25)]
    files = [str(path) for folder in folders if folder.is_dir() for path in sorted(folder.iterdir())]
    hour_of_folder = "epoch_ms(strptime(regexp_extract(filename, '(\\d{4}/\\d{2}/\\d{2}/\\d{2})/', 1), '%Y/%m/%d/%H'))"
    readings = duckdb.sql(
        f"""
        SELECT sensor_id, temperature, status, event_time FROM read_json(
            $files, format = 'newline_delimited', ignore_errors = true, filename = true,
            columns = {{sensor_id: 'VARCHAR', temperature: 'DOUBLE', status: 'VARCHAR', event_time: 'BIGINT'}})
        WHERE trim(sensor_id) <> '' AND status IN {STATUSES}
          AND temperature BETWEEN {MIN_TEMPERATURE} AND {MAX_TEMPERATURE}
          AND event_time BETWEEN {start} AND {start + 86_400_000 - 1}
          AND event_time >= {hour_of_folder} - 3600000 AND event_time < {hour_of_folder} + 3600000
        """,
        params={"files": files},
    ).fetch_arrow_table()
    out = root / "floor" / f"dt={day}"
    out.mkdir(parents=True, exist_ok=True)
    hour = readings["event_time"].to_numpy() // 3_600_000
    rows = 0
    for value in sorted(set(hour.tolist())):
        grid = second_grid(readings.filter(pa.array(hour == value)))
        pq.write_table(grid, out / f"hour={value % 24:02d}.parquet")
        rows += grid.num_rows
    return {"rows": rows}


def child_compare(root: Path, day: str) -> dict:
    """Our rows for the sample sensors against the baseline's, and the total row count."""
    from pyspark import SparkContext

    from job_helpers.runtime import local_spark

    spark = local_spark("bench-compare")
    table = spark.read.parquet((root / "curated").as_uri()).where(f"dt = '{day}'")
    ours = {
        (r[0], r[1]): (r[2], r[3])
        for r in table.where(table.sensor_id.isin(*SAMPLE_SENSORS))
        .selectExpr("sensor_id", "CAST(unix_timestamp(time) AS BIGINT)", "temperature", "status")
        .collect()
    }
    theirs = json.loads((root / f"pandas-sample-{day}.json").read_text())
    mismatches = sum(
        1
        for sensor, second, temperature, status in theirs
        if (sensor, second) not in ours
        or abs(ours[(sensor, second)][0] - temperature) > 1e-9
        or ours[(sensor, second)][1] != status
    )
    result = {"rows": table.count(), "sample_rows": len(theirs), "equal": mismatches == 0 and len(ours) == len(theirs)}
    _stop_jvm(SparkContext)
    return result


def _stop_jvm(spark_context_class) -> None:
    active = spark_context_class._active_spark_context
    gateway = spark_context_class._gateway
    if active is not None:
        active.stop()
    if gateway is not None:
        process = gateway.proc
        gateway.shutdown()
        process.stdin.close()
        process.wait()


CHILDREN = {"job": child_job, "floor": child_floor, "pandas": child_pandas, "compare": child_compare}


def in_child(kind: str, root: Path, day: date) -> dict:
    """Run one child; its figures plus wall seconds and the peak MB of its whole process tree."""
    run = run_measured(
        [sys.executable, __file__, "--child", kind, "--root", str(root), "--day", day.isoformat()],
        env={**os.environ, "SPARK_SHUFFLE_PARTITIONS": os.environ.get("SPARK_SHUFFLE_PARTITIONS", "8")},
    )
    if run.returncode != 0:
        raise SystemExit(f"{kind} for {day} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    return {"seconds": round(run.seconds, 1), "cpu_seconds": round(run.cpu_seconds, 1), "peak_mb": run.peak_mb, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sensors", type=int, default=100)
    parser.add_argument("--hours", type=int, default=24, help="hours per day (fewer for a quick look)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of our job and of the floor, interleaved")
    parser.add_argument("--child", choices=sorted(CHILDREN))
    parser.add_argument("--root", type=Path)
    parser.add_argument("--day", type=date.fromisoformat)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args.root, args.day.isoformat())))
        return

    with tempfile.TemporaryDirectory(prefix="sensor-bench-") as scratch:
        root = Path(scratch)
        urls = {
            "sensors.raw": (root / "raw").as_uri() + "/",
            "sensors.sensor_mapping": (root / "mapping").as_uri() + "/",
            "sensors.customer_data": (root / "customers").as_uri() + "/",
        }
        started = time.perf_counter()
        sample = write_sensor_sample(Storage(), urls, DAY1, days=2, seed=5, sensors=args.sensors, hours_per_day=args.hours)
        generate = time.perf_counter() - started
        print(f"generated {sample.readings:,} readings for 2 days of {args.sensors} sensors in {generate:.1f} s")

        jobs, floors = [], []
        for _ in range(args.repeats):
            jobs.append(in_child("job", root, DAY1))
            floors.append(in_child("floor", root, DAY1))
            print(
                f"our job, day 1:       {jobs[-1]['seconds']:7.1f} s  {jobs[-1]['cpu_seconds']:5.1f} CPU s  "
                f"peak {jobs[-1]['peak_mb']:7.0f} MB   floor (DuckDB + numpy + pyarrow): {floors[-1]['seconds']:7.1f} s  "
                f"{floors[-1]['cpu_seconds']:5.1f} CPU s  peak {floors[-1]['peak_mb']:7.0f} MB"
            )
        job = min(jobs, key=lambda run: run["seconds"])
        baseline = in_child("pandas", root, DAY1)
        print(f"pandas baseline:      {baseline['seconds']:7.1f} s  peak {baseline['peak_mb']:7.0f} MB")
        check = in_child("compare", root, DAY1)
        if not check["rows"] == baseline["rows"] == floors[0]["rows"]:
            raise SystemExit(
                f"row counts differ: ours {check['rows']:,}, pandas {baseline['rows']:,}, floor {floors[0]['rows']:,}"
            )
        print(
            f"output: ours {check['rows']:,} rows, pandas {baseline['rows']:,}, floor {floors[0]['rows']:,}; "
            f"sample of {check['sample_rows']:,} rows equal: {check['equal']}"
        )
        with ThreadPoolExecutor(max_workers=2) as pool:
            rerun, second = pool.map(lambda day: in_child("job", root, day), (DAY1, DAY1 + timedelta(days=1)))
        print(f"in parallel: day 1 rerun {rerun['seconds']:.1f} s, day 2 {second['seconds']:.1f} s")

    figures = {
        "benchmark": "sensor_export",
        "sensors": args.sensors,
        "hours": args.hours,
        "readings_per_day": sample.readings // 2,
        "rows_out_day1": check["rows"],
        "generate_seconds_2_days": round(generate, 1),
        "job_seconds": job["seconds"],
        "job_seconds_median": statistics.median(run["seconds"] for run in jobs),
        "job_cpu_seconds_median": statistics.median(run["cpu_seconds"] for run in jobs),
        "job_peak_mb": round(max(run["peak_mb"] for run in jobs)),
        "floor_seconds": min(run["seconds"] for run in floors),
        "floor_seconds_median": statistics.median(run["seconds"] for run in floors),
        "floor_cpu_seconds_median": statistics.median(run["cpu_seconds"] for run in floors),
        "floor_peak_mb": round(max(run["peak_mb"] for run in floors)),
        "ratio_to_floor_min": round(job["seconds"] / min(run["seconds"] for run in floors), 2),
        "ratio_to_floor_median": round(
            statistics.median(run["seconds"] for run in jobs) / statistics.median(run["seconds"] for run in floors), 2
        ),
        "pandas_seconds": baseline["seconds"],
        "pandas_peak_mb": round(baseline["peak_mb"]),
        "sample_equal": check["equal"],
        "parallel_day1_rerun_seconds": rerun["seconds"],
        "parallel_day2_seconds": second["seconds"],
        "cpus": os.cpu_count(),
        "targets": {
            "day_under_180s": job["seconds"] < 180,
            "within_2x_floor": statistics.median(run["seconds"] for run in jobs)
            <= 2 * statistics.median(run["seconds"] for run in floors),
            "not_slower_than_pandas": job["seconds"] <= baseline["seconds"],
            "less_memory_than_pandas": job["peak_mb"] < baseline["peak_mb"],
            "parallel_second_chunk_not_slower_than_first": second["seconds"] <= rerun["seconds"],
        },
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
