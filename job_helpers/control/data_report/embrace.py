"""Embrace: wear time per participant and day, duplicate rates, readings per device and day, rejects.

Read from the ``embrace_dedupe`` job's published tables through their DDL (``sql/embrace/``):
wear time and the duplicate log from the ``month=`` partitions overlapping the report's dates, then
row by row by ``day``; rejects, the one table partitioned by export, for the exports whose period
(from the name, the archive stem) overlaps them.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date

import numpy as np

from job_helpers.control.data_report import charts
from job_helpers.control.data_report.page import Numbers, Picture, as_day, percent, positions
from job_helpers.control.data_report.source import Source
from job_helpers.control.data_report.tables import Table
from job_helpers.embrace.archives import ARCHIVE_NAME

DAY_MINUTES = 1440.0
DUPLICATE_COUNTS = ("total_rows", "perfect", "nan", "unclear")


def pictures(source: Source) -> list[Picture]:
    return [wear_time(source), duplicates(source), readings(source), rejects(source)]


def export_period(export: str) -> tuple[date, date] | None:
    """The first and last day an export (archive stem) covers, from its name."""
    match = ARCHIVE_NAME.match(f"{export}.zip")
    if match is None:
        return None
    first, last = as_day(_iso(match["start"])), as_day(_iso(match["end"]))
    return (first, last) if first is not None and last is not None else None


def month_days(month: str) -> tuple[date, date] | None:
    """The first and last day of a ``YYYY-MM`` month; None for a value that is no month."""
    first = as_day(f"{month}-01")
    if first is None:
        return None
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _iso(compact: str) -> str:
    return f"{compact[:4]}-{compact[4:6]}-{compact[6:]}"


def _export_in_window(source: Source):
    def keep(partition: dict[str, str]) -> bool:
        period = export_period(partition.get("export", ""))
        return period is None or source.window.overlaps(*period)

    return keep


def _month_in_window(source: Source):
    def keep(partition: dict[str, str]) -> bool:
        days = month_days(partition.get("month", ""))
        return days is not None and source.window.overlaps(*days)

    return keep


def _empty(key: str, title: str, table: str, what: str, source: Source) -> Picture:
    return Picture(key, title, f"No {what} in {table} for {source.window.label}.", None, Numbers(()))


def wear_time(source: Source) -> Picture:
    title = "Wear time: share of each day a participant wore a device"
    table = source.table("embrace_wear_time")
    files = source.lake.files(table, _month_in_window(source))
    grouped = source.lake.aggregate(table, files, ["ppt_id", "dev_id", "day"], [("minutes_worn", "max", "minutes")])
    minutes: dict[tuple[str, date], float] = defaultdict(float)
    for ppt, day, worn in zip(grouped["ppt_id"].to_pylist(), grouped["day"].to_pylist(), grouped["minutes"].to_pylist()):
        when = as_day(day)
        if when is not None and source.window.holds(when):
            minutes[(ppt, when)] += worn or 0.0
    if not minutes:
        return _empty("embrace-wear-time", title, table.name, "wear-time rows", source)
    people = sorted({ppt for ppt, _ in minutes})
    days = source.window.days(sorted({day for _, day in minutes}))
    share = np.full((len(people), len(days)), np.nan)
    row, column = positions(people), positions(days)
    for (ppt, day), worn in minutes.items():
        share[row[ppt], column[day]] = min(100.0, 100.0 * worn / DAY_MINUTES)
    missing = int(np.isnan(share).sum())
    median = float(np.nanmedian(share))
    svg = charts.heatmap(people, [day.isoformat() for day in days], share, colour_label="% of the day worn", vmax=100.0)
    rows = [
        (ppt, day.isoformat(), round(minutes[(ppt, day)], 1), percent(minutes[(ppt, day)], DAY_MINUTES))
        for ppt in people
        for day in days
        if (ppt, day) in minutes
    ]
    reading = (
        f"{len(people)} participant(s) over {len(days)} day(s): a device was worn a median {median:.1f}% of the day; "
        f"{missing} participant-day(s) have no data (grey)."
    )
    return Picture("embrace-wear-time", title, reading, svg, Numbers(("participant", "day", "minutes worn", "share"), rows))


def duplicates(source: Source) -> Picture:
    title = "Duplicate rates per stream and participant"
    table = source.table("embrace_duplicate_log")
    totals = _duplicate_totals(source, table)
    if not totals:
        return _empty("embrace-duplicates", title, table.name, "duplicate-log rows", source)
    keys = sorted(totals)
    labels = [f"{ppt} · {stream}" for ppt, stream in keys]
    rate = {
        name: [100.0 * totals[key][index] / totals[key][0] if totals[key][0] else 0.0 for key in keys]
        for index, name in ((1, "perfect duplicates"), (2, "missing values (NaN)"), (3, "unclear"))
    }
    svg = charts.bars(labels, rate, axis_label="% of the rows read")
    rows = [
        (ppt, stream, *totals[(ppt, stream)], *(percent(part, totals[(ppt, stream)][0]) for part in totals[(ppt, stream)][1:]))
        for ppt, stream in keys
    ]
    worst = max(keys, key=lambda key: sum(totals[key][1:]) / totals[key][0] if totals[key][0] else 0.0)
    reading = (
        f"{len({ppt for ppt, _ in keys})} participant(s), {len(keys)} participant-stream(s); the highest share dropped or "
        f"merged is {worst[0]}'s {worst[1]} stream, {percent(sum(totals[worst][1:]), totals[worst][0])} of its rows."
    )
    header = ("participant", "stream", "rows read", "perfect", "nan", "unclear", "perfect %", "nan %", "unclear %")
    return Picture("embrace-duplicates", title, reading, svg, Numbers(header, rows))


def _duplicate_totals(source: Source, table: Table) -> dict[tuple[str, str], list[int]]:
    """Rows read, perfect duplicates, NaN and unclear rows per (participant, stream), summed over the window's days."""
    files = source.lake.files(table, _month_in_window(source))
    sums = [(name, "sum", name) for name in DUPLICATE_COUNTS]
    grouped = source.lake.aggregate(table, files, ["ppt_id", "stream", "day"], sums).to_pylist()
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in grouped:
        day = as_day(row["day"])
        if day is not None and source.window.holds(day):
            counts = totals[(row["ppt_id"], row["stream"])]
            for index, name in enumerate(DUPLICATE_COUNTS):
                counts[index] += row[name] or 0
    return totals


def readings(source: Source) -> Picture:
    title = "Clean readings per device per day"
    table = source.table("embrace_clean")

    def keep(partition: dict[str, str]) -> bool:
        return source.window.holds(as_day(partition["date"]))

    files = source.lake.files(table, keep)
    grouped = source.lake.aggregate(table, files, ["ppt_id", "dev_id", "stream", "date"], [([], "count_all", "rows")])
    counts: dict[tuple[str, str, date], dict[str, int]] = defaultdict(dict)
    for row in grouped.to_pylist():
        day = as_day(row["date"])
        if day is not None:
            counts[(row["ppt_id"], row["dev_id"], day)][row["stream"]] = row["rows"]
    if not counts:
        return _empty("embrace-readings", title, table.name, "clean readings", source)
    devices = sorted({(ppt, dev) for ppt, dev, _ in counts})
    days = source.window.days(sorted({day for _, _, day in counts}))
    streams = sorted({stream for by_stream in counts.values() for stream in by_stream})
    grid = np.full((len(devices), len(days)), np.nan)
    row_of, column = positions(devices), positions(days)
    for (ppt, dev, day), by_stream in counts.items():
        grid[row_of[(ppt, dev)], column[day]] = sum(by_stream.values())
    svg = charts.heatmap(
        [f"{ppt} / {dev}" for ppt, dev in devices], [day.isoformat() for day in days], grid, colour_label="clean readings"
    )
    rows = [
        (ppt, dev, day.isoformat(), *(counts[(ppt, dev, day)].get(stream, 0) for stream in streams), sum(by.values()))
        for (ppt, dev, day), by in sorted(counts.items())
    ]
    total = sum(sum(by.values()) for by in counts.values())
    reading = (
        f"{total:,} clean readings from {len(devices)} device(s) over {len(days)} day(s); "
        f"{int(np.isnan(grid).sum())} device-day(s) hold none (grey)."
    )
    return Picture("embrace-readings", title, reading, svg, Numbers(("participant", "device", "day", *streams, "total"), rows))


def rejects(source: Source) -> Picture:
    title = "Rejected lines by reason"
    table = source.table("embrace_rejects")
    files = source.lake.files(table, _export_in_window(source))
    grouped = source.lake.aggregate(table, files, ["reason", "stream"], [([], "count_all", "rows")]).to_pylist()
    if not grouped:
        return _empty("embrace-rejects", title, table.name, "rejected lines", source)
    by_reason: dict[str, dict[str, int]] = defaultdict(dict)
    for row in grouped:
        by_reason[row["reason"] or "(no reason)"][row["stream"]] = row["rows"]
    reasons = sorted(by_reason, key=lambda reason: (-sum(by_reason[reason].values()), reason))
    streams = sorted({stream for by_stream in by_reason.values() for stream in by_stream})
    series = {stream: [by_reason[reason].get(stream, 0) for reason in reasons] for stream in streams}
    svg = charts.bars(reasons, series, axis_label="rejected lines")
    rows = [
        (reason, *(by_reason[reason].get(stream, 0) for stream in streams), sum(by_reason[reason].values())) for reason in reasons
    ]
    total = sum(sum(by.values()) for by in by_reason.values())
    reading = f"{total:,} rejected line(s) for {len(reasons)} reason(s); the most common: {reasons[0]}."
    return Picture("embrace-rejects", title, reading, svg, Numbers(("reason", *streams, "total"), rows))
