"""Raw readings as Firehose lands them: JSON lines under ``YYYY/MM/DD/HH/`` by arrival hour.

Objects are read whatever their names (Firehose writes them without an extension); names that
start with ``.`` or ``_`` are temporary or marker files and skipped. A reading arrives in the
hour it happened or, buffered, in the next one; so a chunk of days reads its own hour folders
plus the first hour after it, and keeps the readings that happened inside the chunk. A reading
whose event time is in neither its folder's hour nor the hour before is rejected: no chunk would
otherwise be sure to see it.
"""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import PurePosixPath
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import json as pj

from job_helpers.sensors.readings import MALFORMED, READING_SCHEMA, Reject, reject_reasons, split_rejects
from job_helpers.storage import Storage, join

log = logging.getLogger(__name__)

LATE = "event_time is outside its folder's hour and the hour before (over an hour late, or early)"
MAX_REPARSES = 10
_KINDS = {"sensor_id": (str,), "temperature": (int, float), "status": (str,), "event_time": (int,)}
_FOLDER = r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/"


def hour_prefix(raw_url: str, hour: datetime) -> str:
    """The folder of one arrival hour, e.g. ``<raw>/2024/03/01/07/``."""
    return join(raw_url, f"{hour:%Y/%m/%d/%H}/")


def chunk_hours(first: date, last: date) -> list[datetime]:
    """The arrival hours a chunk reads: every hour of its days and the first hour after them."""
    start = datetime.combine(first, time(), UTC)
    count = ((last - first).days + 1) * 24 + 1
    return [start + timedelta(hours=n) for n in range(count)]


def list_raw_files(storage: Storage, raw_url: str, first: date, last: date) -> list[str]:
    """Every raw object a chunk reads, in URL order (files and folders named ``.*`` or ``_*`` skipped)."""
    files = []
    for hour in chunk_hours(first, last):
        prefix = hour_prefix(raw_url, hour)
        for stored in storage.list(prefix):
            parts = PurePosixPath(urlparse(stored.url[len(prefix) :]).path).parts
            if not any(part.startswith((".", "_")) for part in parts) and stored.size > 0:
                files.append(stored.url)
    log.info("%d raw file(s) under %s for %s..%s", len(files), raw_url, first, last)
    return files


def read_raw_file(storage: Storage, url: str, arrival: int) -> tuple[pa.Table, list[Reject]]:
    """The usable readings of one raw object, and its rejects filed under ``arrival`` (epoch s).

    pyarrow parses the whole object at once, and nearly always that is all. Otherwise the object
    is split into lines: a line pyarrow refuses (broken JSON, a field of the wrong type) is named
    by its row in the error, checked, set aside as a reject and the rest parsed again. Anything
    else (an error without a row, a row that is not one line, text that is not UTF-8, too many
    bad lines) sends the object through the line-by-line parser instead.
    """
    body = storage.read_bytes(url)
    table, row = _parse(body, body.count(b"\n") + (not body.endswith(b"\n")))
    rejects: list[Reject] = []
    if table is None:
        table, rejects = _parse_by_lines([line for line in body.split(b"\n") if line.strip()], row, url, arrival)
    late = pc.or_(
        pc.less(table["event_time"], (arrival - 3600) * 1000), pc.greater_equal(table["event_time"], (arrival + 3600) * 1000)
    )
    extra = pc.if_else(pc.fill_null(late, False), pa.scalar(LATE), pa.scalar(None, pa.string()))
    usable, invalid = split_rejects(table, reject_reasons(table, extra), url, arrival)
    return usable, rejects + invalid


def _parse(body: bytes, lines: int) -> tuple[pa.Table | None, int | None]:
    """The readings when pyarrow takes all of ``body`` as valid text, one reading a line; otherwise
    None and the row pyarrow named as bad, if it named one."""
    options = pj.ParseOptions(explicit_schema=READING_SCHEMA, unexpected_field_behavior="ignore")
    try:
        table = pj.read_json(io.BytesIO(body), read_options=pj.ReadOptions(block_size=len(body) + 1), parse_options=options)
        table.validate(full=True)
    except pa.ArrowInvalid as error:
        row = re.search(r" in row (\d+)", str(error))
        return None, int(row.group(1)) if row else None
    return (table, None) if table.num_rows == lines else (None, None)


def _parse_by_lines(lines: list[bytes], row: int | None, url: str, arrival: int) -> tuple[pa.Table, list[Reject]]:
    """Set aside the lines pyarrow names as bad (``row``, first), re-parsing the rest; the
    line-by-line parser otherwise. pyarrow numbers rows among the non-blank lines."""
    rejects: list[Reject] = []
    if row is None:  # the whole object failed without naming a row, e.g. for its blank lines
        table, row = _parse(b"\n".join(lines), len(lines))
        if table is not None:
            return table, rejects
    while len(rejects) <= MAX_REPARSES:
        if row is None or row >= len(lines) or _line_fields(lines[row]) is not None:
            break
        rejects.append(Reject(MALFORMED, url, lines.pop(row).decode("utf-8", errors="replace"), arrival))
        table, row = _parse(b"\n".join(lines), len(lines))
        if table is not None:
            return table, rejects
    table, unreadable = _parse_line_by_line(lines, url, arrival)
    return table, rejects + unreadable


def _parse_line_by_line(lines: list[bytes], url: str, arrival: int) -> tuple[pa.Table, list[Reject]]:
    """The slow, sure way: each line on its own, with the types the schema asks for."""
    rows, rejects = [], []
    for line in lines:
        fields = _line_fields(line)
        if fields is None:
            rejects.append(Reject(MALFORMED, url, line.decode("utf-8", errors="replace"), arrival))
        else:
            rows.append(fields)
    return pa.Table.from_pylist(rows, schema=READING_SCHEMA), rejects


def _line_fields(line: bytes) -> dict | None:
    """The reading's fields when the line is one JSON object whose fields have the schema's types."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    fields = {name: value.get(name) for name in READING_SCHEMA.names}
    for name, field in fields.items():
        if field is None:
            continue
        if isinstance(field, bool) or not isinstance(field, _KINDS[name]):
            return None
        if isinstance(field, int) and not -(2**63) <= field < 2**63:
            return None
        if isinstance(field, str) and not _encodable(field):
            return None
    if isinstance(fields["temperature"], int):
        try:
            fields["temperature"] = float(fields["temperature"])
        except OverflowError:
            return None
    return fields


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def folder_hour(url: str) -> int:
    """The epoch second of the arrival hour a raw object's folder names."""
    match = re.search(_FOLDER, url)
    if match is None:
        raise ValueError(f"{url}: not under a YYYY/MM/DD/HH/ folder")
    year, month, day, hour = (int(group) for group in match.groups())
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp())
