"""Where cold-tier files live and what their names say.

SiteWise writes raw data as
``raw/startYear=Y/startMonth=M/startDay=D/seriesBucket=XX/raw_<timeSeriesId>_<startTimestamp>_<quality>.avro``
with month and day not zero padded. Time-series ids may themselves contain ``_``, so a name is
read from the right: the last two fields are the timestamp and the quality, the rest is the id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from job_helpers.storage import join

RAW_FOLDER = "raw"
# Outputs wait here until committed. Athena reads only the partition folders, and Hive-style
# readers skip folders whose names start with ``_``, so nothing here is ever queried.
STAGING_FOLDER = "_staging"
# A merged file is ``merged_<hash of its raw keys>.avro``.
OUTPUT_PREFIX = "merged_"
OUTPUT_SUFFIX = ".avro"
RAW_FORM = "raw/startYear=Y/startMonth=M/startDay=D/seriesBucket=XX/raw_<timeSeriesId>_<startTimestamp>_<quality>.avro"
# The id is matched greedily, so the timestamp and quality are the last two ``_`` fields.
_RAW_PATH = re.compile(
    r"(?:^|/)(?P<key>raw/startYear=(?P<year>\d+)/startMonth=(?P<month>\d+)/startDay=(?P<day>\d+)/"
    r"seriesBucket=(?P<bucket>[^/]+)/raw_(?P<series>[^/]+)_(?P<timestamp>\d+)_(?P<quality>[^/_]+)\.avro)$"
)


class NotARawFile(ValueError):
    """A listed object is not a SiteWise raw data file; the message names it and the expected form."""


@dataclass(frozen=True)
class RawFile:
    """One raw data file: its full URL, its key relative to the cold tier, and what its name says."""

    url: str
    key: str
    series_id: str
    start_timestamp: int
    quality: str
    series_bucket: str
    day: date


def day_partition(day: date) -> str:
    """The partition folders of a day, in SiteWise's unpadded form, with a trailing slash."""
    return f"startYear={day.year}/startMonth={day.month}/startDay={day.day}/"


def parse_raw_key(url: str) -> RawFile:
    """Read a raw file's URL (or key); raise ``NotARawFile`` if it does not have the raw form."""
    match = _RAW_PATH.search(url)
    if match is None:
        raise NotARawFile(f"{url}: not a SiteWise raw file; expected {RAW_FORM}")
    try:
        day = date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError as error:
        raise NotARawFile(f"{url}: not a SiteWise raw file, its partition is not a date ({error})") from error
    return RawFile(
        url=url,
        key=match["key"],
        series_id=match["series"],
        start_timestamp=int(match["timestamp"]),
        quality=match["quality"],
        series_bucket=match["bucket"],
        day=day,
    )


@dataclass(frozen=True)
class Layout:
    """The three roots a repartition run works on: the cold tier it reads and the two it writes."""

    cold_tier: str
    repartitioned: str
    index: str

    def raw_day(self, day: date) -> str:
        return join(self.cold_tier, RAW_FOLDER, day_partition(day))

    def asset_metadata(self) -> str:
        return join(self.cold_tier, "asset_metadata/")

    def output_day(self, day: date) -> str:
        return join(self.repartitioned, day_partition(day))

    def staging_day(self, day: date) -> str:
        return join(self.repartitioned, STAGING_FOLDER, day_partition(day))

    def index_day(self, day: date) -> str:
        return join(self.index, day_partition(day))
