"""A generated Embrace export archive for demos, tests and the benchmark, with known flaws injected.

Readings come at the real rates (acc 32 Hz, eda 4 Hz, temp 1 Hz) for the first ``seconds_per_day``
seconds of each day. With ``inject`` every device's first day carries, per stream: two perfect
duplicates, two rows with a missing value and one unclear timestamp; its EDA also holds a
``-0.0`` reading duplicated as ``0.0`` (one perfect pair once normalised) and one 10-second
window off the wrist. Participant ``157`` wears two devices recording at the same instants.
Readings depend only on the seed, the participant and the day, so two archives of the same days
(a study's ALLSITES export and a site's own export, a re-export) hold the same readings.
"""

from __future__ import annotations

import random
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from job_helpers.embrace.archives import HEADERS
from job_helpers.storage import Storage, join

RATES = {"acc": 32, "eda": 4, "temp": 1}
METADATA_HEADER = "Datetime (UTC),Timezone (minutes),Embrace firmware version,App,App version,Mobile OS,Mobile OS version,GTCS algorithm version"
OFF_WRIST_SECONDS = 10
INJECT_FROM_SECOND = 12


@dataclass
class SampleSummary:
    """What was written, and what the cleaning rules must find in it."""

    url: str
    export: str
    devices: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    perfect: dict[str, int] = field(default_factory=dict)
    nan: dict[str, int] = field(default_factory=dict)
    unclear: dict[str, int] = field(default_factory=dict)
    clean: dict[str, int] = field(default_factory=dict)
    off_wrist_windows: int = 0
    bytes: int = 0


def archive_name(study: str, site: str, start: date, end: date) -> str:
    return f"Sensors_{study}_{site}_{start:%Y%m%d}_{end:%Y%m%d}.zip"


def write_embrace_sample(
    storage: Storage,
    landing_url: str,
    start: date = date(2024, 3, 1),
    days: int = 2,
    seconds_per_day: int = 60,
    participants: tuple[str, ...] = ("fc096", "mgh096", "fc157"),
    study: str = "U02",
    inject: bool = True,
    top_folder: bool = False,
    period_end: date | None = None,
    seed: int = 7,
    site: str = "ALLSITES",
    period_start: date | None = None,
) -> SampleSummary:
    """Write one archive under ``landing_url`` and return its summary.

    Participant ids are ``<site><number>`` in lower case (``fc096``); the period in the name runs
    from ``period_start`` (default ``start``) to ``period_end`` (default: the last generated day), and
    ``site`` names the export (``ALLSITES`` or a site's own, e.g. ``FC``).
    """
    if days < 1 or seconds_per_day < (INJECT_FROM_SECOND + 6 if inject else 1):
        raise ValueError(f"days must be positive and seconds_per_day at least {INJECT_FROM_SECOND + 6} when injecting")
    end = period_end or start + timedelta(days=days - 1)
    name = archive_name(study, site, period_start or start, end)
    summary = SampleSummary(join(landing_url, name), name[: -len(".zip")])
    prefix = f"{summary.export}/" if top_folder else ""
    with tempfile.TemporaryDirectory(prefix="embrace-sample-") as scratch:
        path = Path(scratch, name)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for ppt_id in participants:
                site, number = _split_id(ppt_id)
                devices = ("ABCDE12345", "12345ABCDE") if number == "157" else ("2M4Y4111FK",)
                for device in devices:
                    summary.devices += 1
                    folder = f"{prefix}{study}/{site.upper()}/{number}/{device}/"
                    archive.writestr(
                        folder + "metadata.csv",
                        f"{METADATA_HEADER}\n{start}T00:00:00Z,-240,1.3.5602,Mate,2.2.3,iOS,17.1,0.6.4724\n",
                    )
                    for stream in RATES:
                        with archive.open(folder + f"{stream}.csv", "w") as handle:
                            _write_stream(handle, stream, start, days, seconds_per_day, inject, f"{seed}-{ppt_id}", summary)
        summary.bytes = path.stat().st_size
        storage.upload(path, summary.url)
    return summary


def _split_id(ppt_id: str) -> tuple[str, str]:
    cut = len(ppt_id.rstrip("0123456789"))
    if not 0 < cut < len(ppt_id):
        raise ValueError(f"participant {ppt_id!r}: expected a site followed by digits, e.g. fc096")
    return ppt_id[:cut], ppt_id[cut:]


def _write_stream(
    handle, stream: str, start: date, days: int, seconds: int, inject: bool, seed: str, summary: SampleSummary
) -> None:
    rate = RATES[stream]
    width = len(HEADERS[stream]) - 1
    handle.write((",".join(HEADERS[stream]) + "\n").encode("utf-8"))
    rows = perfect = nan = unclear = 0
    for day in range(days):
        # One generator per participant and day: a second device records the very same instants and
        # values (which must still not count as duplicates), and so does another export of the day.
        rng = random.Random(f"{seed}-{stream}-{start + timedelta(days=day)}")
        midnight = int(datetime.combine(start + timedelta(days=day), time(), UTC).timestamp() * 1000)
        lines = []
        for index in range(seconds * rate):
            ts = midnight + index * 1000 // rate
            if stream == "eda":
                value = 0.01 if inject and day == 0 and index < OFF_WRIST_SECONDS * rate else rng.uniform(0.1, 3.0)
                lines.append(f"{ts},{value:.6f}")
            else:
                lines.append(f"{ts}," + ",".join(f"{rng.uniform(-1, 40):.6f}" for _ in range(width)))
        if inject and day == 0:
            first = INJECT_FROM_SECOND * rate
            lines.extend([lines[first], lines[first + 1]])
            perfect += 4
            for offset in (2, 3):
                fields = lines[first + offset].split(",")
                fields[-1] = "" if offset == 2 else "NaN"
                lines[first + offset] = ",".join(fields)
            nan += 2
            fields = lines[first + 4].split(",")
            fields[1] = f"{float(fields[1]) + 1:.6f}"
            lines.append(",".join(fields))
            unclear += 2
            if stream == "eda":
                instant = lines[first + 5].split(",")[0]
                lines[first + 5] = f"{instant},-0.0"
                lines.append(f"{instant},0.0")
                perfect += 2
                summary.off_wrist_windows += 1
        rows += len(lines)
        handle.write(("\n".join(lines) + "\n").encode("utf-8"))
    summary.rows[stream] = summary.rows.get(stream, 0) + rows
    summary.perfect[stream] = summary.perfect.get(stream, 0) + perfect
    summary.nan[stream] = summary.nan.get(stream, 0) + nan
    summary.unclear[stream] = summary.unclear.get(stream, 0) + unclear
    kept = rows - nan - unclear - perfect // 2
    summary.clean[stream] = summary.clean.get(stream, 0) + kept
