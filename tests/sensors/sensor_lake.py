"""A local sensor lake for the tests: every location the export reads and writes, sample data written."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from job_helpers.sensors.sample_data import write_sensor_sample
from job_helpers.storage import Storage

FOLDERS = {
    "sensors.raw": "raw/",
    "sensors.sensor_mapping": "reference/sensor_mapping/",
    "sensors.customer_data": "reference/customer_data/",
    "curated": "curated/",
    "overlap": "overlap/",
    "rejects": "rejects/",
    "reports": "runs/",
}


def sample_lake(root: Path, first: date, *, days: int, seed: int, sensors: int, hours_per_day: int) -> dict[str, str]:
    urls = {name: f"{root.as_uri()}/{folder}" for name, folder in FOLDERS.items()}
    write_sensor_sample(Storage(), urls, first, days=days, seed=seed, sensors=sensors, hours_per_day=hours_per_day)
    return urls


def published_files(table: Path, pattern: str) -> list[Path]:
    """The files of a published table a reader sees: none under ``_`` folders (staging, commit records)."""
    return sorted(
        p for p in table.rglob(pattern) if p.is_file() and not any(part.startswith("_") for part in p.relative_to(table).parts)
    )
