"""One raw object's JSON lines to readings: pyarrow's JSON reader a piece at a time, line by line only when it must.

Firehose writes one reading a line. The object is read in pieces of whole lines (``PIECE_BYTES``);
nearly always pyarrow takes a whole piece; a line it refuses (broken JSON, a field of the wrong type)
becomes a reject with the object's URL, and the rest of that piece is parsed again, so a bad line
costs a second parse of its piece, not of the object.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import pyarrow as pa
from pyarrow import json as pj

from job_helpers.sensors.transform import MALFORMED, READING_SCHEMA, Reject

MAX_REPARSES = 10
PIECE_BYTES = 1 << 20
_KINDS = {"sensor_id": (str,), "temperature": (int, float), "status": (str,), "event_time": (int,)}


def parse_readings(body: bytes, url: str, arrival: int) -> tuple[pa.Table, list[Reject]]:
    """The readings of one object, and the lines no reading could be made of, filed under ``arrival`` (epoch s).

    pyarrow parses each piece of the object at once, and nearly always that is all. Otherwise the
    piece is split into lines: a line pyarrow refuses is named by its row in the error, checked, set
    aside as a reject and the rest parsed again. Anything else (an error without a row, a row
    that is not one line, text that is not UTF-8, too many bad lines) sends the object through
    the line-by-line parser instead.
    """
    tables, rejects = [], []
    for piece in _pieces(body):
        table, row = _parse(piece, piece.count(b"\n") + (not piece.endswith(b"\n")))
        if table is None:
            table, found = _parse_by_lines([line for line in piece.split(b"\n") if line.strip()], row, url, arrival)
            rejects += found
        tables.append(table)
    return (pa.concat_tables(tables) if tables else READING_SCHEMA.empty_table()), rejects


def _pieces(body: bytes) -> Iterator[bytes]:
    """``body`` in pieces of whole lines, each ``PIECE_BYTES`` or a line more."""
    start = 0
    while start < len(body):
        end = body.find(b"\n", start + PIECE_BYTES)
        end = len(body) if end < 0 else end + 1
        yield body[start:end]
        start = end


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
