"""One stream CSV of an export, parsed into typed arrays block by block, with every unusable line kept.

pyarrow's CSV reader splits and converts the lines in C++, so Python never touches a reading; each
block comes back as numpy arrays of timestamps, values and a missing-value mask. Lines that cannot
be used (wrong number of fields, no whole-number timestamp, a value that is present but not a
finite number) come back as rejects with their line number in the file, their reason and text.
Blank lines carry nothing and are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv

from job_helpers.embrace.archives import HEADERS

MISSING_TEXT = ["", "nan", "null", "na", "none"]
NUMBER = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"
WHOLE_MILLISECONDS = r"^[0-9]{1,18}$"
# The last millisecond of year 9999: later "timestamps" are other units (µs, ns) or noise.
MAX_MS = 253_402_300_799_999
BLOCK_BYTES = 4 << 20
ORDINALS = ("first", "second", "third")


class HeaderMismatch(ValueError):
    """A member's header is not its stream's header."""


@dataclass
class Reject:
    line: int
    reason: str
    record: str


@dataclass
class ParsedBlock:
    """The usable lines of one block: epoch ms, values (one column per measure) and missing rows."""

    ts: np.ndarray
    values: np.ndarray
    missing: np.ndarray
    rejects: list[Reject] = field(default_factory=list)


def parse_stream(raw: BinaryIO, stream: str, name: str) -> Iterator[ParsedBlock]:
    """Check the header of ``raw`` (a member opened in binary) and parse the lines after it.

    An empty member, or one with only its header, holds no readings and yields nothing.
    """
    first = raw.readline()
    if not first:
        return
    header = first.decode("utf-8-sig").strip()
    expected = ",".join(HEADERS[stream])
    if header != expected:
        raise HeaderMismatch(
            f"{name}: header {header[:200]!r} is not the {stream} header {expected!r}; fix or remove the file and rerun"
        )
    width = len(HEADERS[stream])
    names = [f"f{i}" for i in range(width)]
    wrong_width: list[tuple[int, str]] = []

    def keep_wrong_width(row: csv.InvalidRow) -> str:
        wrong_width.append((row.number, row.text))
        return "skip"

    try:
        reader = csv.open_csv(
            raw,
            read_options=csv.ReadOptions(column_names=names, block_size=BLOCK_BYTES, use_threads=False),
            # No quoting: the exports never quote, and a stray quote must not swallow the lines after it.
            parse_options=csv.ParseOptions(quote_char=False, ignore_empty_lines=False, invalid_row_handler=keep_wrong_width),
            convert_options=csv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False),
        )
    except pa.ArrowInvalid as error:
        if "Empty CSV file" in str(error):
            return
        raise
    rows_before = 0
    reported = 0
    for batch in reader:
        parsed = parse_block(batch, stream)
        _number_lines(parsed.rejects, rows_before, [number for number, _ in wrong_width])
        parsed.rejects += [Reject(number + 1, f"expected {width} fields", text) for number, text in wrong_width[reported:]]
        reported = len(wrong_width)
        parsed.rejects.sort(key=lambda reject: reject.line)
        rows_before += batch.num_rows
        yield parsed
    if wrong_width[reported:]:
        empty = ParsedBlock(np.empty(0, dtype=np.int64), np.empty((0, width - 1)), np.empty(0, dtype=bool))
        empty.rejects = [Reject(number + 1, f"expected {width} fields", text) for number, text in wrong_width[reported:]]
        yield empty


def _number_lines(rejects: list[Reject], rows_before: int, skipped: list[int]) -> None:
    """Turn each reject's row in its block into its line in the file (the header is line 1).

    Lines skipped for their width are not rows, so a row's line is its number among the rows plus
    the skipped lines before it: those whose number, less the skipped lines before them, is at
    most the row's number.
    """
    if not rejects:
        return
    order = np.sort(np.asarray(skipped, dtype=np.int64))
    shifted = order - np.arange(len(order))
    for reject in rejects:
        row = rows_before + reject.line
        reject.line = row + int(np.searchsorted(shifted, row, side="right")) + 1


def parse_block(batch: pa.RecordBatch, stream: str) -> ParsedBlock:
    """Typed arrays of one block of text columns; rejects carry their 1-based row in the block."""
    raw = [batch.column(i) for i in range(batch.num_columns)]
    ts, ts_checked = _whole_ms(raw[0])
    measures = [_finite_number(column) for column in raw[1:]]
    checked = [ts_checked, *measures]
    blank = _all(c.empty for c in checked)
    reason = pc.if_else(ts_checked.missing, pa.scalar("no timestamp"), pa.scalar(None, pa.string()))
    reason = pc.coalesce(
        reason, pc.if_else(ts_checked.ok, pa.scalar(None, pa.string()), pa.scalar("timestamp is not whole epoch milliseconds"))
    )
    for ordinal, measure in zip(ORDINALS, measures):
        bad = pc.and_(pc.invert(measure.missing), pc.invert(measure.ok))
        reason = pc.coalesce(reason, pc.if_else(bad, pa.scalar(f"{ordinal} value is not a number"), pa.scalar(None, pa.string())))
    reason = pc.if_else(blank, pa.scalar(None, pa.string()), reason)
    rejected = pc.is_valid(reason).to_numpy(zero_copy_only=False)
    usable = ~rejected & ~blank.to_numpy(zero_copy_only=False)
    rejects = []
    if rejected.any():
        reasons = reason.to_pylist()
        columns = [column.to_pylist() for column in raw]
        for index in np.flatnonzero(rejected):
            rejects.append(Reject(int(index) + 1, reasons[index], ",".join(column[index] for column in columns)))
    matrix = np.column_stack([measure.values for measure in measures])
    missing = _any(measure.missing for measure in measures).to_numpy(zero_copy_only=False)
    if not usable.all():
        ts, matrix, missing = ts[usable], matrix[usable], missing[usable]
    if stream == "eda":
        matrix[matrix == 0] = 0.0
    return ParsedBlock(ts, matrix, missing, rejects)


@dataclass
class _Checked:
    """One text column, converted: its values and, per row, empty, missing and well-formed flags."""

    values: np.ndarray
    empty: pa.Array
    missing: pa.Array
    ok: pa.Array


def _whole_ms(text: pa.Array) -> tuple[np.ndarray, _Checked]:
    """Epoch ms as int64 (0 where unusable), with the column's flags.

    The plain cast is tried first: it is much faster than the pattern and nearly always succeeds.
    """
    try:
        ts = pc.cast(text, pa.int64())
        if (pc.min(ts).as_py() or 0) >= 0 and (pc.max(ts).as_py() or 0) <= MAX_MS:
            values = ts.to_numpy(zero_copy_only=False)
            return values, _Checked(values, *_constant_flags(len(text)))
    except pa.ArrowInvalid:
        pass
    trimmed, empty, missing = _trimmed(text)
    matches = pc.fill_null(pc.match_substring_regex(trimmed, WHOLE_MILLISECONDS), False)
    ts = pc.cast(pc.if_else(matches, trimmed, pa.scalar(None, pa.string())), pa.int64())
    ok = pc.fill_null(pc.less_equal(ts, MAX_MS), False)
    ts = pc.if_else(ok, ts, pa.scalar(None, pa.int64()))
    values = pc.fill_null(ts, 0).to_numpy(zero_copy_only=False)
    return values, _Checked(values, empty, missing, ok)


def _finite_number(text: pa.Array) -> _Checked:
    """A measure as float64 (NaN where missing or bad), with the column's flags.

    As for timestamps, the plain cast goes first; the pattern only runs on a block it refused.
    """
    try:
        number = pc.cast(text, pa.float64())
        if pc.all(pc.is_finite(number)).as_py() is not False:
            return _Checked(number.to_numpy(zero_copy_only=False), *_constant_flags(len(text)))
    except pa.ArrowInvalid:
        pass
    trimmed, empty, missing = _trimmed(text)
    present = pc.if_else(missing, pa.scalar(None, pa.string()), trimmed)
    matches = pc.fill_null(pc.match_substring_regex(present, NUMBER), False)
    number = pc.cast(pc.if_else(matches, present, pa.scalar(None, pa.string())), pa.float64())
    ok = pc.fill_null(pc.and_(matches, pc.is_finite(number)), False)
    values = pc.fill_null(pc.if_else(ok, number, pa.scalar(None, pa.float64())), np.nan).to_numpy(zero_copy_only=False)
    return _Checked(values, empty, missing, ok)


def _trimmed(text: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """The text without surrounding blanks or quotes, and where it is empty or a missing-value word."""
    trimmed = pc.utf8_trim(text, characters=' \t\r"')
    empty = pc.equal(pc.utf8_length(trimmed), 0)
    missing = pc.is_in(pc.utf8_lower(trimmed), value_set=pa.array(MISSING_TEXT))
    return trimmed, empty, missing


def _constant_flags(rows: int) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Flags of a column the plain cast took whole: nothing empty, nothing missing, all well-formed."""
    no = pa.array(np.zeros(rows, dtype=bool))
    return no, no, pa.array(np.ones(rows, dtype=bool))


def _all(arrays) -> pa.Array:
    result = None
    for array in arrays:
        result = array if result is None else pc.and_(result, array)
    return result


def _any(arrays) -> pa.Array:
    result = None
    for array in arrays:
        result = array if result is None else pc.or_(result, array)
    return result
