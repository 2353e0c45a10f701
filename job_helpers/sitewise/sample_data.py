"""A synthetic SiteWise cold tier, shaped like a real export, for tests, demos and benchmarks.

Most series belong to asset properties and are listed in ``asset_metadata``; every sixth is
disassociated (absent from it). Some ids contain ``_`` to exercise parsing from the right. Each
series gets one or two ingestion files a day at random hours, and some files have companions of
another quality (BAD or UNCERTAIN) with the same start time, as SiteWise splits files by quality.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import fastavro

from job_helpers.sitewise.keys import day_partition
from job_helpers.storage import Storage, join

RAW_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "RawData",
    "namespace": "com.amazonaws.iotsitewise",
    "fields": [
        {"name": "seriesId", "type": "string"},
        {"name": "timeInSeconds", "type": "long"},
        {"name": "offsetInNanos", "type": "long"},
        {"name": "quality", "type": "string"},
        {"name": "doubleValue", "type": ["null", "double"], "default": None},
        {"name": "stringValue", "type": ["null", "string"], "default": None},
        {"name": "integerValue", "type": ["null", "int"], "default": None},
        {"name": "booleanValue", "type": ["null", "boolean"], "default": None},
        {"name": "jsonValue", "type": ["null", "string"], "default": None},
        {"name": "recordVersion", "type": ["null", "long"], "default": None},
    ],
}

DATA_TYPES = ("DOUBLE", "DOUBLE", "DOUBLE", "INTEGER", "BOOLEAN", "STRING", "STRUCT")
STATES = ("RUNNING", "IDLE", "FAULT", "MAINTENANCE")
PROPERTIES_PER_ASSET = 4
FILE_SPAN_SECONDS = 3600


@dataclass(frozen=True)
class SeriesSpec:
    series_id: str
    data_type: str
    associated: bool
    bucket: str


@dataclass(frozen=True)
class ColdTierSummary:
    days: tuple[date, ...]
    associated: tuple[str, ...]
    disassociated: tuple[str, ...]
    files: int
    records: int
    bytes: int


def plan_series(count: int, seed: int) -> list[SeriesSpec]:
    """``count`` series with stable ids and types; every sixth is disassociated.

    Every fourth id has the 73-character ``<uuid>_<uuid>`` form SiteWise allows, so ids with
    ``_`` are always exercised.
    """
    rng = random.Random(seed)
    specs = []
    for number in range(count):
        uid = uuid.UUID(int=rng.getrandbits(128), version=4)
        if number % 4 == 1:
            series_id = f"{uid}_{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        else:
            series_id = str(uid)
        bucket = hashlib.sha256(series_id.encode("utf-8")).hexdigest()[:2]
        specs.append(SeriesSpec(series_id, rng.choice(DATA_TYPES), associated=number % 6 != 5, bucket=bucket))
    return specs


@lru_cache(maxsize=1)
def raw_schema() -> Any:
    """The raw schema parsed once, on first use."""
    return fastavro.parse_schema(RAW_SCHEMA)


def raw_records(spec: SeriesSpec, start_timestamp: int, quality: str, count: int, rng: random.Random) -> list[dict]:
    """``count`` readings of one series, evenly spread over the hour after ``start_timestamp``."""
    step_ns = FILE_SPAN_SECONDS * 1_000_000_000 // max(count, 1)
    records = []
    for number in range(count):
        at_ns = start_timestamp * 1_000_000_000 + number * step_ns
        record: dict[str, Any] = {
            "seriesId": spec.series_id,
            "timeInSeconds": at_ns // 1_000_000_000,
            "offsetInNanos": at_ns % 1_000_000_000,
            "quality": quality,
            "doubleValue": None,
            "stringValue": None,
            "integerValue": None,
            "booleanValue": None,
            "jsonValue": None,
            "recordVersion": None,
        }
        if spec.data_type == "DOUBLE":
            record["doubleValue"] = 50 + 20 * math.sin(at_ns / 3.6e12) + rng.gauss(0, 0.5)
        elif spec.data_type == "INTEGER":
            record["integerValue"] = rng.randrange(0, 5000)
        elif spec.data_type == "BOOLEAN":
            record["booleanValue"] = rng.random() < 0.8
        elif spec.data_type == "STRING":
            record["stringValue"] = rng.choice(STATES)
        else:
            record["jsonValue"] = json.dumps({"state": rng.choice(STATES), "rpm": rng.randrange(900, 1800)})
        records.append(record)
    return records


def encode_raw_file(records: list[dict]) -> bytes:
    """A snappy Avro container file of raw records, as SiteWise writes them."""
    buffer = io.BytesIO()
    fastavro.writer(buffer, raw_schema(), records, codec="snappy")
    return buffer.getvalue()


def raw_key(spec: SeriesSpec, day: date, start_timestamp: int, quality: str) -> str:
    """The key of a raw file relative to the cold tier."""
    return f"raw/{day_partition(day)}seriesBucket={spec.bucket}/raw_{spec.series_id}_{start_timestamp}_{quality}.avro"


def write_cold_tier(
    storage: Storage,
    cold_tier_url: str,
    start: date,
    days: int,
    series: int,
    records_per_file: int,
    seed: int = 0,
    max_workers: int = 8,
) -> ColdTierSummary:
    """Write asset metadata and ``days`` days of raw files from ``start``; say what was written."""
    specs = plan_series(series, seed)
    rng = random.Random(seed + 1)
    day_list = tuple(start + timedelta(days=offset) for offset in range(days))
    files = raw_bytes = 0
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        for key, data in _asset_metadata(specs, rng):
            storage.write_bytes(join(cold_tier_url, key), data)
        for day in day_list:
            writes = list(_raw_day(specs, day, records_per_file, rng))
            list(pool.map(lambda write: storage.write_bytes(join(cold_tier_url, write[0]), write[1]), writes))
            files += len(writes)
            raw_bytes += sum(len(data) for _, data in writes)
    return ColdTierSummary(
        days=day_list,
        associated=tuple(spec.series_id for spec in specs if spec.associated),
        disassociated=tuple(spec.series_id for spec in specs if not spec.associated),
        files=files,
        records=files * records_per_file,
        bytes=raw_bytes,
    )


def _raw_day(specs: list[SeriesSpec], day: date, records_per_file: int, rng: random.Random) -> list[tuple[str, bytes]]:
    midnight = int(datetime.combine(day, time(0), tzinfo=UTC).timestamp())
    written = []
    for spec in specs:
        for hour in sorted(rng.sample(range(24), 1 + (rng.random() < 0.3))):
            start_timestamp = midnight + hour * 3600
            qualities = ["GOOD"] + ([rng.choice(("BAD", "UNCERTAIN"))] if rng.random() < 0.2 else [])
            for quality in qualities:
                data = encode_raw_file(raw_records(spec, start_timestamp, quality, records_per_file, rng))
                written.append((raw_key(spec, day, start_timestamp, quality), data))
    return written


def _asset_metadata(specs: list[SeriesSpec], rng: random.Random) -> list[tuple[str, bytes]]:
    associated = [spec for spec in specs if spec.associated]
    documents = []
    for first in range(0, len(associated), PROPERTIES_PER_ASSET):
        asset_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        asset_name = f"Pump {first // PROPERTIES_PER_ASSET + 1}"
        lines = [
            json.dumps(
                {
                    "assetId": asset_id,
                    "assetName": asset_name,
                    "propertyId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "propertyName": f"Property {number + 1}",
                    "dataType": spec.data_type,
                    "timeSeriesId": spec.series_id,
                }
            )
            for number, spec in enumerate(associated[first : first + PROPERTIES_PER_ASSET])
        ]
        documents.append((f"asset_metadata/asset_{asset_id}.ndjson", ("\n".join(lines) + "\n").encode("utf-8")))
    return documents
