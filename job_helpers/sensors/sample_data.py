"""Generated sensor readings and reference tables, shaped like the real feed, for demos and tests.

About half of the sensors report in any second, each as a random walk around its own level with
occasional hot spells; status follows the usual load generator (ERROR above 160, WARNING or ERROR
above 140, otherwise mostly OK with the odd random WARNING or ERROR). Sensors drop out now and
then for a few minutes (gaps), sometimes report twice in a second, and readings from the last
seconds of an hour are sometimes buffered into the next hour's folder, as Firehose does. Each
hour also carries a few defective lines (malformed JSON, unknown status, impossible temperature)
that the export must reject. Plain Python, one object per arrival hour, so a day of 100 sensors
(about 4.3 million readings) takes seconds, not minutes.
"""

from __future__ import annotations

import io
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from job_helpers.storage import Storage, join

log = logging.getLogger(__name__)

RAW, MAPPING, CUSTOMERS = "sensors.raw", "sensors.sensor_mapping", "sensors.customer_data"
CUSTOMER_ROWS = (
    (2001, "Northwind Foundry", "Mara Lind", "premium"),
    (2002, "Bluewater Breweries", "Tomasz Nowak", "basic"),
    (2003, "Kestrel Plastics", "Aiko Tanaka", "basic"),
    (2004, "Harbor Cold Storage", "Luis Ortega", "premium"),
    (2005, "Granite Ceramics", "Priya Nair", "premium"),
)
DEFECTS_PER_HOUR = 3
LATE_SECONDS = 5
"""Readings from the last seconds of an hour may arrive in the next hour's folder."""


@dataclass(frozen=True)
class SensorSampleSummary:
    sensors: int
    hours: int
    files: int
    readings: int
    defects: int
    bytes: int


def sensor_ids(count: int) -> list[str]:
    return [f"sensor-{number:02d}" for number in range(count)]


def write_sensor_sample(
    storage: Storage,
    urls: dict[str, str],
    start: date,
    days: int,
    seed: int,
    sensors: int = 100,
    hours_per_day: int = 24,
) -> SensorSampleSummary:
    """Write ``days`` days of raw readings from ``start`` and the two reference CSVs.

    ``urls`` maps the data set names ``sensors.raw``, ``sensors.sensor_mapping`` and
    ``sensors.customer_data`` to their locations (``Settings.datasets`` will do). Only the first
    ``hours_per_day`` hours of each day are written, for a quicker demo. The same seed writes the
    same bytes.
    """
    missing = [name for name in (RAW, MAPPING, CUSTOMERS) if name not in urls]
    if missing:
        raise ValueError(f"urls has no location for {', '.join(missing)}; pass Settings.datasets")
    if days < 1 or sensors < 1 or not 1 <= hours_per_day <= 24:
        raise ValueError("days and sensors must be positive and hours_per_day between 1 and 24")
    rng = random.Random(seed)
    ids = sensor_ids(sensors)
    write_reference_tables(storage, urls, ids, rng)
    walk = _Walk(ids, rng)
    hours = [
        datetime.combine(start + timedelta(days=day), time(hour), UTC) for day in range(days) for hour in range(hours_per_day)
    ]
    files = readings = defects = size = 0
    late: list[str] = []
    for number, hour in enumerate(hours):
        lines, next_late, count = walk.hour(hour)
        bad = _defects(hour, ids, rng)
        body = "\n".join([*late, *lines, *bad]) + "\n"
        size += _write_hour(storage, urls[RAW], hour, body, number)
        files += 1
        readings += count
        defects += len(bad)
        late = next_late
        following = hour + timedelta(hours=1)
        if late and (number + 1 == len(hours) or hours[number + 1] != following):
            size += _write_hour(storage, urls[RAW], following, "\n".join(late) + "\n", number)
            files += 1
            late = []
    log.info("wrote %d reading(s) and %d defect(s) in %d file(s) under %s", readings, defects, files, urls[RAW])
    return SensorSampleSummary(sensors, len(hours), files, readings, defects, size)


def write_reference_tables(storage: Storage, urls: dict[str, str], ids: list[str], rng: random.Random) -> None:
    """sensor_mapping.csv (every sensor to a customer) and customer_data.csv, with headers."""
    mapping = io.StringIO()
    mapping.write("sensor_id,customer_id\n")
    for sensor in ids:
        mapping.write(f"{sensor},{rng.choice(CUSTOMER_ROWS)[0]}\n")
    customers = io.StringIO()
    customers.write("customer_id,company_name,contact_person,contract_type\n")
    for customer_id, company, contact, contract in CUSTOMER_ROWS:
        customers.write(f'{customer_id},"{company}","{contact}","{contract}"\n')
    storage.write_text(join(urls[MAPPING], "sensor_mapping.csv"), mapping.getvalue())
    storage.write_text(join(urls[CUSTOMERS], "customer_data.csv"), customers.getvalue())


class _Walk:
    """Every sensor's temperature, hot spell and outage state, advanced one second at a time."""

    def __init__(self, ids: list[str], rng: random.Random) -> None:
        self.ids = ids
        self.rng = rng
        self.level = [rng.uniform(30.0, 120.0) for _ in ids]
        self.temperature = list(self.level)
        self.target = list(self.level)
        self.hot_until = [0] * len(ids)
        self.silent_until = [0] * len(ids)

    def hour(self, hour: datetime) -> tuple[list[str], list[str], int]:
        """The hour's lines in its own folder, the lines buffered into the next one, and the count."""
        quoted = [f'{{"sensor_id": "{sensor}", "temperature": ' for sensor in self.ids]
        first = int(hour.timestamp())
        lines: list[str] = []
        late: list[str] = []
        for second in range(first, first + 3600):
            self._second(second, quoted, lines, late if second - first >= 3600 - LATE_SECONDS else None)
        return lines, late, len(lines) + len(late)

    def _second(self, second: int, quoted: list[str], lines: list[str], tail: list[str] | None) -> None:
        """One second: about half of the sensors report (unless out), now and then twice; in an hour's last seconds,
        half of the lines go to ``tail`` (the next hour's folder)."""
        draw, uniform = self.rng.random, self.rng.uniform
        level, temperature, target = self.level, self.temperature, self.target
        hot_until, silent_until = self.hot_until, self.silent_until
        for index in range(len(quoted)):
            if draw() >= 0.5 or second < silent_until[index]:
                continue
            if draw() < 0.0002:
                silent_until[index] = second + int(uniform(30, 900))
                continue
            if second >= hot_until[index]:
                target[index] = level[index]
                if draw() < 0.0005:
                    target[index] = uniform(140.0, 178.0)
                    hot_until[index] = second + int(uniform(60, 600))
            value = temperature[index] + 0.05 * (target[index] - temperature[index]) + (draw() - 0.5)
            value = 10.0 if value < 10.0 else 180.0 if value > 180.0 else value
            temperature[index] = value
            for _ in range(2 if draw() < 0.02 else 1):
                status = _status(value, draw)
                line = f'{quoted[index]}{value:.2f}, "status": "{status}", "event_time": {second * 1000 + int(draw() * 1000)}}}'
                if tail is not None and draw() < 0.5:
                    tail.append(line)
                else:
                    lines.append(line)


def _status(value: float, draw: Callable[[], float]) -> str:
    """ERROR above 160, WARNING or ERROR above 140, otherwise mostly OK with the odd random WARNING or ERROR."""
    if value > 160.0:
        return "ERROR"
    if value > 140.0:
        return "WARNING" if draw() < 0.6 else "ERROR"
    roll = draw()
    return "OK" if roll >= 0.015 else "WARNING" if roll >= 0.005 else "ERROR"


def _defects(hour: datetime, ids: list[str], rng: random.Random) -> list[str]:
    """A few lines per hour the export must reject, each for a different reason."""
    moment = int(hour.timestamp()) * 1000 + rng.randrange(3_600_000)
    sensor = rng.choice(ids)
    return [
        f'{{"sensor_id": "{sensor}", "temperature": 21.5, "status": "OK", "event_ti',
        f'{{"sensor_id": "{sensor}", "temperature": 55.0, "status": "UNKNOWN", "event_time": {moment}}}',
        f'{{"sensor_id": "{sensor}", "temperature": 999.0, "status": "ERROR", "event_time": {moment}}}',
    ][:DEFECTS_PER_HOUR]


def _write_hour(storage: Storage, raw_url: str, hour: datetime, body: str, number: int) -> int:
    """One Firehose-style object (no extension) in the hour's folder; returns its size."""
    name = f"sensor-stream-1-{hour:%Y-%m-%d-%H}-00-00-{number:08x}"
    data = body.encode("utf-8")
    storage.write_bytes(join(raw_url, f"{hour:%Y/%m/%d/%H}", name), data)
    return len(data)
