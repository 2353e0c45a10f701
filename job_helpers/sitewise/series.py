"""Which time series a run takes: associated with an asset property, or disassociated.

Two sources answer the same question and return the same ``SeriesFilter``:

* ``asset_metadata``: the cold tier's ``asset_metadata/asset_<assetId>.ndjson`` files list the
  associated series; disassociated ones are those in the raw data that are not listed.
* ``list_time_series``: the IoT SiteWise ``ListTimeSeries`` API, asked for one type.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from job_helpers.sitewise.keys import Layout
from job_helpers.storage import Storage

ASSOCIATED = "ASSOCIATED"
DISASSOCIATED = "DISASSOCIATED"
TIMESERIES_TYPES = (ASSOCIATED, DISASSOCIATED)

ASSET_METADATA = "asset_metadata"
LIST_TIME_SERIES = "list_time_series"
SERIES_SOURCES = (ASSET_METADATA, LIST_TIME_SERIES)

log = logging.getLogger(__name__)


class SeriesSelectionError(Exception):
    """The series to take could not be worked out; the message names the file or value at fault."""


@dataclass(frozen=True)
class SeriesFilter:
    """Keeps the listed series, or (``keep_listed=False``) every series except the listed ones."""

    listed: frozenset[str]
    keep_listed: bool
    description: str

    def keeps(self, series_id: str) -> bool:
        return (series_id in self.listed) == self.keep_listed


def check_timeseries_type(timeseries_type: str) -> str:
    if timeseries_type not in TIMESERIES_TYPES:
        raise SeriesSelectionError(f"timeseries type {timeseries_type!r}: use one of {', '.join(TIMESERIES_TYPES)}")
    return timeseries_type


def from_asset_metadata(storage: Storage, layout: Layout, timeseries_type: str, max_workers: int = 8) -> SeriesFilter:
    """Series listed in the asset metadata are associated; every other series is disassociated."""
    check_timeseries_type(timeseries_type)
    urls = [obj.url for obj in storage.list(layout.asset_metadata()) if obj.url.endswith(".ndjson")]
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        per_file = list(pool.map(lambda url: _series_in_metadata(storage, url), urls))
    listed = frozenset(series for ids in per_file for series in ids)
    if not listed and timeseries_type == ASSOCIATED:
        raise SeriesSelectionError(
            f"no associated series: {layout.asset_metadata()} holds no asset_*.ndjson listing a timeSeriesId; "
            "check --cold-tier, or export the asset metadata first"
        )
    if not urls:
        log.warning("no asset metadata under %s: every series counts as disassociated", layout.asset_metadata())
    log.info("asset metadata: %d files list %d associated time series", len(urls), len(listed))
    return SeriesFilter(
        listed=listed,
        keep_listed=timeseries_type == ASSOCIATED,
        description=f"{timeseries_type} series from asset metadata ({len(listed)} listed)",
    )


def _series_in_metadata(storage: Storage, url: str) -> list[str]:
    found = []
    for number, line in enumerate(storage.read_text(url).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            raise SeriesSelectionError(f"{url} line {number}: not a JSON object ({error})") from error
        series_id = entry.get("timeSeriesId") if isinstance(entry, dict) else None
        # A blank id names no series: listed, it would match no raw file and an associated run would take nothing.
        if not isinstance(series_id, str) or not series_id.strip():
            raise SeriesSelectionError(f"{url} line {number}: no timeSeriesId string in this property entry (or a blank one)")
        found.append(series_id)
    return found


def from_list_time_series(client: Any, timeseries_type: str) -> SeriesFilter:
    """Ask SiteWise for every series of the type, page by page."""
    check_timeseries_type(timeseries_type)
    paginator = client.get_paginator("list_time_series")
    listed = frozenset(
        summary["timeSeriesId"]
        for page in paginator.paginate(timeSeriesType=timeseries_type)
        for summary in page.get("TimeSeriesSummaries", [])
    )
    log.info("ListTimeSeries: %d %s time series", len(listed), timeseries_type)
    return SeriesFilter(
        listed=listed, keep_listed=True, description=f"{timeseries_type} series from ListTimeSeries ({len(listed)})"
    )


def load_series_filter(
    source: str,
    timeseries_type: str,
    *,
    storage: Storage,
    layout: Layout,
    client: Any = None,
    max_workers: int = 8,
) -> SeriesFilter:
    """The filter for a run, from the source named by the job's ``--series-source``."""
    if source == ASSET_METADATA:
        return from_asset_metadata(storage, layout, timeseries_type, max_workers)
    if source == LIST_TIME_SERIES:
        if client is None:
            raise SeriesSelectionError("series source list_time_series needs an IoT SiteWise client")
        return from_list_time_series(client, timeseries_type)
    raise SeriesSelectionError(f"series source {source!r}: use one of {', '.join(SERIES_SOURCES)}")
