"""Sensors: how much of each hour's 1 s grid real readings back, before and after interpolation;
the status mix per sensor; rejects by reason.

After interpolation is the curated table (``sensor_timeseries``, one row per sensor and second).
Before is the raw readings the export could use, parsed by the export's own reader one raw object
at a time, as whole seconds per sensor and hour: an hour's readings sit in its own arrival
folder and the next one, so only two hours are held at once. Hours whose raw objects are gone
(kept as published) are marked.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from job_helpers.control.data_report import charts
from job_helpers.control.data_report.page import Numbers, Picture, as_day, percent, positions
from job_helpers.control.data_report.source import Source
from job_helpers.control.data_report.tables import folder_table
from job_helpers.sensors.read import folder_hour, hours_without_raw, list_raw_files, read_raw_file

HOUR_SECONDS = 3600
STATUS_COLOURS = {"OK": "#43a047", "WARNING": "#fb8c00", "ERROR": "#e53935"}
REJECT_COLUMNS = (("reason", "string"), ("source", "string"))


def pictures(source: Source) -> list[Picture]:
    grid = _grid_rows(source)
    real, kept = _real_seconds(source, grid)
    return [coverage(source, grid, real, kept), status_mix(source), rejects(source)]


def _in_window(source: Source):
    def keep(partition: dict[str, str]) -> bool:
        return source.window.holds(as_day(partition["dt"])) and partition["hour"].isdigit() and int(partition["hour"]) < 24

    return keep


def _hour(partition_day: str, hour: str) -> int:
    start = datetime.combine(date.fromisoformat(partition_day), datetime.min.time(), UTC)
    return int((start + timedelta(hours=int(hour))).timestamp())


def _grid_rows(source: Source) -> dict[tuple[str, int], int]:
    """Curated rows per sensor and hour (epoch s of the hour's start)."""
    table = source.table("sensor_timeseries")
    files = source.lake.files(table, _in_window(source))
    grouped = source.lake.aggregate(table, files, ["sensor_id", "dt", "hour"], [([], "count_all", "rows")])
    return {(row["sensor_id"], _hour(row["dt"], row["hour"])): row["rows"] for row in grouped.to_pylist()}


def _real_seconds(source: Source, grid: dict[tuple[str, int], int]) -> tuple[dict[tuple[str, int], int], set[int]]:
    """Whole seconds with a usable raw reading per sensor and hour, and the hours whose raw objects are gone."""
    if not grid:
        return {}, set()
    days = sorted({datetime.fromtimestamp(hour, UTC).date() for _, hour in grid})
    first, last = days[0], days[-1]
    raw_url = source.url("sensors.raw")
    source.lake.progress(f"listing raw readings under {raw_url}")
    files = list_raw_files(source.lake.storage, raw_url, first, last)
    gone = set(hours_without_raw(files, first, last))
    wanted = {hour for _, hour in grid}
    pending: dict[int, list[pa.Table]] = defaultdict(list)
    counts: dict[tuple[str, int], int] = {}
    by_folder: dict[int, list[str]] = defaultdict(list)
    for url in files:
        by_folder[folder_hour(url)].append(url)
    for done, folder in enumerate(sorted(by_folder), start=1):
        source.lake.progress(f"reading raw readings: arrival hour {done:,} of {len(by_folder):,}")
        for url in by_folder[folder]:
            usable, _ = read_raw_file(source.lake.storage, url, folder)
            seconds = usable["event_time"].to_numpy(zero_copy_only=False) // 1000
            hours = seconds - seconds % HOUR_SECONDS
            pairs = pa.table({"sensor_id": usable["sensor_id"], "second": seconds, "hour": hours})
            for hour in np.unique(hours).tolist():
                if hour in wanted:
                    pending[hour].append(pairs.filter(pc.equal(pairs["hour"], hour)))
        for hour in [hour for hour in pending if hour < folder]:
            _count(pending.pop(hour), hour, counts)
    for hour in list(pending):
        _count(pending.pop(hour), hour, counts)
    return counts, {hour for hour in gone if hour in wanted}


def _count(parts: list[pa.Table], hour: int, counts: dict[tuple[str, int], int]) -> None:
    found = pa.concat_tables(parts).group_by("sensor_id").aggregate([("second", "count_distinct")])
    for sensor, seconds in zip(found["sensor_id"].to_pylist(), found["second_count_distinct"].to_pylist()):
        counts[(sensor, hour)] = seconds


def _hour_label(hour: int) -> str:
    return datetime.fromtimestamp(hour, UTC).strftime("%Y-%m-%d %H:00")


def coverage(source: Source, grid: dict[tuple[str, int], int], real: dict[tuple[str, int], int], kept: set[int]) -> Picture:
    title = "Coverage: share of each hour's 1 s grid backed by real readings, before and after interpolation"
    if not grid:
        return Picture("sensors-coverage", title, f"No rows in sensor_timeseries for {source.window.label}.", None, Numbers(()))
    sensors = sorted({sensor for sensor, _ in grid})
    first, last = min(hour for _, hour in grid), max(hour for _, hour in grid)
    hours = list(range(first, last + HOUR_SECONDS, HOUR_SECONDS))
    before, after, marked = _coverage_matrices(sensors, hours, grid, real, kept)
    labels = [_hour_label(hour) for hour in hours]
    svg = "".join(
        charts.heatmap(
            sensors,
            labels,
            matrix,
            colour_label="% of the hour",
            vmax=100.0,
            marked=marked,
            mark_label="kept: raw objects gone",
            title=name,
        )
        for name, matrix in (
            ("before interpolation: seconds with a real reading", before),
            ("after interpolation: rows of the curated grid", after),
        )
    )
    rows = [_coverage_row(sensor, hour, grid, real, kept) for sensor in sensors for hour in hours if (sensor, hour) in grid]
    numbers = Numbers(("sensor", "hour", "seconds with readings", "grid rows", "before", "after", "raw gone"), rows)
    reading = _coverage_reading(len(sensors), len(hours), grid, real, kept) + (
        f"; {int(np.isnan(after).sum())} sensor-hour(s) hold no row (grey)"
        f"{f'; {len(kept)} hour(s) kept from raw data now gone are marked ×' if kept else ''}."
    )
    return Picture("sensors-coverage", title, reading, svg, numbers)


def _coverage_reading(
    sensors: int, hours: int, grid: dict[tuple[str, int], int], real: dict[tuple[str, int], int], kept: set[int]
) -> str:
    """How much of the curated grid real readings back (hours whose raw data is gone left out), and how full it is."""
    real_total = sum(value for (sensor, hour), value in real.items() if (sensor, hour) in grid and hour not in kept)
    grid_total = sum(value for (sensor, hour), value in grid.items() if hour not in kept)
    return (
        f"{sensors} sensor(s) over {hours} hour(s): real readings back {percent(real_total, grid_total)} of the "
        f"curated grid's rows, which fill {percent(sum(grid.values()), HOUR_SECONDS * len(grid))} of their sensor-hours' "
        f"seconds"
    )


def _coverage_matrices(
    sensors: list[str], hours: list[int], grid: dict[tuple[str, int], int], real: dict[tuple[str, int], int], kept: set[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percent of each sensor-hour backed by real readings (unknown for kept hours) and filled by the grid, and the kept marks."""
    before = np.full((len(sensors), len(hours)), np.nan)
    after = np.full((len(sensors), len(hours)), np.nan)
    marked = np.zeros((len(sensors), len(hours)), dtype=bool)
    row_of, column_of = positions(sensors), positions(hours)
    for (sensor, hour), filled in grid.items():
        row, column = row_of[sensor], column_of[hour]
        after[row, column] = 100.0 * filled / HOUR_SECONDS
        marked[row, column] = hour in kept
        if hour not in kept:
            before[row, column] = 100.0 * real.get((sensor, hour), 0) / HOUR_SECONDS
    return before, after, marked


def _coverage_row(
    sensor: str, hour: int, grid: dict[tuple[str, int], int], real: dict[tuple[str, int], int], kept: set[int]
) -> tuple:
    seconds = real.get((sensor, hour), 0)
    raw_gone = hour in kept
    return (
        sensor,
        _hour_label(hour),
        None if raw_gone else seconds,
        grid[(sensor, hour)],
        "-" if raw_gone else percent(seconds, HOUR_SECONDS),
        percent(grid[(sensor, hour)], HOUR_SECONDS),
        raw_gone,
    )


def status_mix(source: Source) -> Picture:
    title = "Status mix per sensor (seconds of the curated grid)"
    table = source.table("sensor_timeseries")
    files = source.lake.files(table, _in_window(source))
    grouped = source.lake.aggregate(table, files, ["sensor_id", "status"], [([], "count_all", "rows")]).to_pylist()
    if not grouped:
        return Picture("sensors-status", title, f"No rows in sensor_timeseries for {source.window.label}.", None, Numbers(()))
    seconds: dict[str, dict[str, int]] = defaultdict(dict)
    for row in grouped:
        seconds[row["sensor_id"]][row["status"] or "(none)"] = row["rows"]
    sensors = sorted(seconds)
    order = {"OK": 0, "WARNING": 1, "ERROR": 2}
    statuses = sorted({status for by in seconds.values() for status in by}, key=lambda s: (order.get(s, 3), s))
    series = {status: [seconds[sensor].get(status, 0) for sensor in sensors] for status in statuses}
    svg = charts.bars(sensors, series, axis_label="seconds", colours=STATUS_COLOURS)
    rows = [
        (sensor, *(seconds[sensor].get(status, 0) for status in statuses), sum(seconds[sensor].values())) for sensor in sensors
    ]
    total = sum(sum(by.values()) for by in seconds.values())
    shares = ", ".join(f"{status} {percent(sum(series[status]), total)}" for status in statuses)
    reading = f"{len(sensors)} sensor(s), {total:,} seconds: {shares}."
    return Picture("sensors-status", title, reading, svg, Numbers(("sensor", *statuses, "total"), rows))


def rejects(source: Source) -> Picture:
    title = "Rejected readings by reason"
    table = folder_table("sensor_rejects", source.url("sensors.rejects"), "json", REJECT_COLUMNS, ("dt", "hour"))
    files = source.lake.files(table, _in_window(source))
    grouped = source.lake.aggregate(table, files, ["reason"], [([], "count_all", "rows")]).to_pylist()
    if not grouped:
        return Picture("sensors-rejects", title, f"No rejected readings for {source.window.label}.", None, Numbers(()))
    counts = sorted(((row["reason"] or "(no reason)", row["rows"]) for row in grouped), key=lambda item: (-item[1], item[0]))
    svg = charts.bars([reason for reason, _ in counts], {"readings": [rows for _, rows in counts]}, axis_label="readings")
    total = sum(rows for _, rows in counts)
    reading = f"{total:,} rejected reading(s) for {len(counts)} reason(s); the most common: {counts[0][0]}."
    return Picture("sensors-rejects", title, reading, svg, Numbers(("reason", "readings"), counts))
