"""What the sensor grid should hold, straight from the generated raw files.

Shared by the sensor job's local tests and the aws end-to-end run.
"""

from __future__ import annotations

import json
from collections import defaultdict

from job_helpers.sensors.transform import STATUSES
from job_helpers.storage import local_path


def raw_buckets(raw_url: str) -> dict[tuple[str, int], tuple[float, str]]:
    """Mean temperature and worst status per sensor and second, straight from the generated files."""
    seen: dict[tuple[str, int], list] = defaultdict(list)
    for path in sorted(local_path(raw_url).rglob("*")):
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            try:
                reading = json.loads(line)
            except json.JSONDecodeError:
                continue
            if reading["status"] in STATUSES and -50 <= reading["temperature"] <= 250:
                seen[(reading["sensor_id"], reading["event_time"] // 1000)].append(reading)
    return {
        key: (
            sum(r["temperature"] for r in readings) / len(readings),
            max((r["status"] for r in readings), key=STATUSES.index),
        )
        for key, readings in seen.items()
    }
