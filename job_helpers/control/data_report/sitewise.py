"""SiteWise: merged records per series and day, late arrivals merged by a later run, files per day.

Records are counted from the merged Avro files of ``sitewise_repartitioned`` (its DDL gives the
location and the day folders), read one file at a time through ``Storage``; the days' index
manifests say which files each day holds and how many records each run merged. Whether a series
is associated comes from the cold tier's asset metadata.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from typing import cast

import fastavro
import numpy as np

from job_helpers.control.data_report import charts
from job_helpers.control.data_report.lake import TableFile
from job_helpers.control.data_report.page import Numbers, Picture, positions
from job_helpers.control.data_report.source import Source
from job_helpers.sitewise.day_index import MergedFile, read_day_index
from job_helpers.sitewise.keys import Layout, day_partition, parse_raw_key
from job_helpers.sitewise.series import ASSOCIATED, SeriesFilter, SeriesSelectionError, from_asset_metadata
from job_helpers.storage import join

UNKNOWN = "type unknown (no asset metadata)"


def pictures(source: Source) -> list[Picture]:
    files = _merged_files(source)
    kinds = _Kinds(source)
    return [series_days(source, files, kinds), *index_pictures(source, files, kinds)]


def _day(partition: dict[str, str]) -> date | None:
    """The day a ``startYear=/startMonth=/startDay=`` folder names; None for a folder that names none."""
    try:
        return date(int(partition["startyear"]), int(partition["startmonth"]), int(partition["startday"]))
    except ValueError:
        return None


def _merged_files(source: Source) -> list[tuple[date, TableFile]]:
    """The merged files of the report's days, each with the day its folder names."""
    table = source.table("sitewise_repartitioned")
    found = []
    for file in source.lake.files(table):
        day = _day(file.partition)
        if day is not None and source.window.holds(day):
            found.append((day, file))
    return found


class _Kinds:
    """Associated or disassociated, per series id, from the cold tier's asset metadata (read once, when first asked)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.associated: SeriesFilter | None = None
        self.known = True

    def __getitem__(self, series: str) -> str:
        if self.associated is None and self.known:
            source = self.source
            layout = Layout(source.url("sitewise.cold_tier"), source.url("sitewise.repartitioned"), source.url("sitewise.index"))
            try:
                self.associated = from_asset_metadata(source.lake.storage, layout, ASSOCIATED)
            except SeriesSelectionError:
                self.known = False
        if self.associated is None:
            return UNKNOWN
        return "associated" if self.associated.keeps(series) else "disassociated"


def series_days(source: Source, files: list[tuple[date, TableFile]], kinds: _Kinds) -> Picture:
    title = "Merged records per series and day"
    counts: Counter[tuple[str, date]] = Counter()
    for done, (day, file) in enumerate(files, start=1):
        source.lake.progress(f"reading sitewise_repartitioned: file {done:,} of {len(files):,}")
        with source.lake.storage.open(file.url) as handle:
            for record in fastavro.reader(handle):
                counts[(str(cast(dict, record)["seriesId"]), day)] += 1
    if not counts:
        return Picture("sitewise-series", title, f"No merged records for {source.window.label}.", None, Numbers(()))
    series = sorted({name for name, _ in counts}, key=lambda name: (kinds[name], name))
    days = source.window.days(sorted({day for _, day in counts}))
    grid = np.full((len(series), len(days)), np.nan)
    row_of, column_of = positions(series), positions(days)
    for (name, day), records in counts.items():
        grid[row_of[name], column_of[day]] = records
    labels = [f"{name} ({kinds[name][:1].upper()})" if kinds[name] != UNKNOWN else name for name in series]
    svg = charts.heatmap(labels, [day.isoformat() for day in days], grid, colour_label="merged records")
    rows = [(name, kinds[name], day.isoformat(), counts[(name, day)]) for name in series for day in days if (name, day) in counts]
    by_kind = Counter(kinds[name] for name in series)
    missing = int(np.isnan(grid).sum())
    reading = (
        f"{sum(counts.values()):,} records of {len(series)} series "
        f"({', '.join(f'{count} {kind}' for kind, count in sorted(by_kind.items()))}; A/D after each id) over "
        f"{len(days)} day(s); {missing} series-day(s) hold none (grey)."
    )
    return Picture("sitewise-series", title, reading, svg, Numbers(("series", "type", "day", "records"), rows))


def index_pictures(source: Source, files: list[tuple[date, TableFile]], kinds: _Kinds) -> list[Picture]:
    """Files per day, and records merged by the day's first run and by later runs, from the day manifests.

    Associated and disassociated series are merged by separate runs, so a day's first file is
    counted for each type; any later file of the same type holds late arrivals.
    """
    titles = (
        ("sitewise-late", "Late arrivals: records merged by a later run of the day"),
        ("sitewise-files", "Merged files per day"),
    )
    in_folders: dict[date, dict[str, float]] = defaultdict(dict)
    for day, file in files:
        in_folders[day][file.url.rsplit("/", 1)[-1]] = file.modified
    if not in_folders:
        reading = f"No merged files for {source.window.label}."
        return [Picture(key, title, reading, None, Numbers(())) for key, title in titles]
    index = source.url("sitewise.index")
    rows = []
    for done, day in enumerate(sorted(in_folders), start=1):
        source.lake.progress(f"reading the day manifests: {done:,} of {len(in_folders):,}")
        manifest = read_day_index(source.lake.storage, join(index, day_partition(day)))
        modified = in_folders[day]
        committed = sorted(manifest.files.items(), key=lambda item: (modified.get(item[0], 0.0), item[0]))
        runs = len({merged.run or name for name, merged in committed})
        rows.append((day.isoformat(), len(modified), len(committed), runs, *_first_and_later(committed, kinds)))
    labels = [row[0] for row in rows]
    late_svg = charts.bars(
        labels,
        {"first run of each type": [row[4] for row in rows], "later runs": [row[5] for row in rows]},
        axis_label="records",
        horizontal=False,
    )
    files_svg = charts.bars(labels, {"files": [row[1] for row in rows]}, axis_label="merged files", horizontal=False)
    header = ("day", "files", "committed", "runs", "records, first run of each type", "records, later runs")
    numbers = Numbers(header, rows)
    late_reading, files_reading = _late_reading(rows), _files_reading(rows)
    return [
        Picture(titles[0][0], titles[0][1], late_reading, late_svg, numbers),
        Picture(titles[1][0], titles[1][1], files_reading, files_svg, numbers),
    ]


def _first_and_later(committed: list[tuple[str, MergedFile]], kinds: _Kinds) -> tuple[int, int]:
    """Records in the first committed file of each series type, and in the later ones (late arrivals)."""
    first_of_kind: set[str] = set()
    first = later = 0
    for _, merged in committed:
        kind = kinds[parse_raw_key(merged.keys[0]).series_id] if merged.keys else UNKNOWN
        if kind in first_of_kind:
            later += merged.records
        else:
            first_of_kind.add(kind)
            first += merged.records
    return first, later


def _late_reading(rows: list[tuple]) -> str:
    late = [row for row in rows if row[5]]
    if late:
        return f"{len(late)} of {len(rows)} day(s) had late arrivals merged by a later run: {', '.join(row[0] for row in late)}."
    return f"No late arrivals: every one of the {len(rows)} day(s) was merged by one run of each type."


def _files_reading(rows: list[tuple]) -> str:
    stray = sum(row[1] - row[2] for row in rows if row[1] > row[2])
    stray_note = f"; {stray} of them in no day manifest (left by a run that did not commit; Athena reads them)" if stray else ""
    return (
        f"{sum(row[1] for row in rows):,} merged file(s) over {len(rows)} day(s), at most {max(row[1] for row in rows)} a day"
        f"{stray_note}."
    )
