"""One stream CSV of an export, parsed into typed arrays block by block, with every unusable line kept.

pyarrow's CSV reader splits and converts the lines in C++, so Python never touches a reading; each
block comes back as numpy arrays of timestamps, values and a missing-value mask. Lines that cannot
be used (wrong number of fields, no whole-number timestamp, a value that is present but not a
finite number) go to the caller's reject sink with their line number in the file, their reason and
text, in batches of at most ``REJECT_BATCH``, so memory does not grow with the number of rejects.
Blank lines carry nothing and are skipped.

Timestamps are epoch milliseconds, or epoch seconds in some exports. A member's unit is that of
the median timestamp of its first block with usable timestamps: 10 or 11 digits (1e9 to 1e11,
2001-09-09 to year 5138 as seconds, 1970-01-12 to 1973-03-03 as milliseconds) is seconds, which
are turned into milliseconds; anything else is milliseconds. A line whose timestamp is of the
other unit than its member's is a reject.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv

from job_helpers.embrace.archives import HEADERS

log = logging.getLogger(__name__)

MISSING_TEXT = ["", "nan", "null", "na", "none"]
NUMBER = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"
WHOLE_MILLISECONDS = r"^[0-9]{1,18}$"
# The last millisecond of year 9999: later "timestamps" are other units (µs, ns) or noise.
MAX_MS = 253_402_300_799_999
# Timestamps in [SECONDS_FROM, SECONDS_UNTIL) are epoch seconds (10 or 11 digits).
SECONDS_FROM = 10**9
SECONDS_UNTIL = 10**11
BLOCK_BYTES = 4 << 20
REJECT_BATCH = 4096
ORDINALS = ("first", "second", "third")


class HeaderMismatch(ValueError):
    """A member's header is not its stream's header."""


@dataclass(slots=True)
class Reject:
    line: int
    reason: str
    record: str


@dataclass
class ParsedBlock:
    """The usable lines of one block: epoch ms, values (one column per measure) and missing rows.

    ``in_seconds`` says the member's timestamps were seconds (turned into ms here).
    """

    ts: np.ndarray
    values: np.ndarray
    missing: np.ndarray
    in_seconds: bool = False


RejectSink = Callable[[list[Reject]], None]


def parse_stream(raw: IO[bytes], stream: str, name: str, rejects: RejectSink) -> Iterator[ParsedBlock]:
    """Check the header of ``raw`` (a member opened in binary) and parse the lines after it.

    Rejects go to ``rejects`` as they are found. An empty member, or one with only its header,
    holds no readings and yields nothing.
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
    skipped = _SkippedLines()
    pending: list[Reject] = []
    wrong_width = f"expected {width} fields"

    def keep_wrong_width(row: csv.InvalidRow) -> str:
        skipped.add(row.number)
        pending.append(Reject(row.number + 1, wrong_width, row.text))
        if len(pending) >= REJECT_BATCH:
            rejects(pending[:])
            pending.clear()
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
    in_seconds: bool | None = None
    for batch in reader:
        decided = in_seconds is not None
        parsed, found, in_seconds = parse_block(batch, stream, in_seconds)
        if in_seconds and not decided:
            log.info("%s: timestamps are epoch seconds; they are read as seconds x 1000", name)
        if found:
            lines = skipped.lines_of(rows_before + np.array([reject.line for reject in found], dtype=np.int64))
            for reject, line in zip(found, lines.tolist()):
                reject.line = line
        found += pending
        pending.clear()
        if found:
            found.sort(key=lambda reject: reject.line)
            rejects(found)
        rows_before += batch.num_rows
        skipped.forget_before(rows_before + 1)
        yield parsed
    if pending:
        rejects(pending)


class _SkippedLines:
    """The lines skipped for their width, as much as numbering later rows needs: bounded, not one per line.

    A skipped line is kept as its number less the skipped lines before it (its "shift"); a row's
    line is its number among the rows plus the skipped lines whose shift is at most that number.
    Consecutive skipped lines share a shift and are kept as one run, and runs that precede every
    row still to come are folded into a count.
    """

    def __init__(self) -> None:
        self._total = 0
        self._folded = 0
        self._shifts: deque[int] = deque()
        self._counts: deque[int] = deque()

    def add(self, number: int) -> None:
        shift = number - self._total
        self._total += 1
        if self._shifts and self._shifts[-1] == shift:
            self._counts[-1] += 1
        else:
            self._shifts.append(shift)
            self._counts.append(1)

    def lines_of(self, rows: np.ndarray) -> np.ndarray:
        """The lines in the file (the header is line 1) of 1-based ``rows`` among the rows."""
        shifts = np.fromiter(self._shifts, dtype=np.int64, count=len(self._shifts))
        skipped = np.r_[0, np.cumsum(np.fromiter(self._counts, dtype=np.int64, count=len(self._counts)))]
        return rows + self._folded + skipped[np.searchsorted(shifts, rows, side="right")] + 1

    def forget_before(self, row: int) -> None:
        """Fold the runs that come before ``row``, the first row still to be numbered."""
        while self._shifts and self._shifts[0] <= row:
            self._shifts.popleft()
            self._folded += self._counts.popleft()


def parse_block(
    batch: pa.RecordBatch, stream: str, in_seconds: bool | None = None
) -> tuple[ParsedBlock, list[Reject], bool | None]:
    """Typed arrays of one block of text columns, its rejects (with their 1-based row in the block)
    and whether the member's timestamps are seconds (decided here when ``in_seconds`` is None)."""
    raw = [batch.column(i) for i in range(batch.num_columns)]
    ts, ts_checked = _whole_ms(raw[0])
    measures = [_finite_number(column) for column in raw[1:]]
    checked = [ts_checked, *measures]
    blank = _all(c.empty for c in checked)
    well_formed = ts_checked.ok.to_numpy(zero_copy_only=False)
    seconds_like = (ts >= SECONDS_FROM) & (ts < SECONDS_UNTIL)
    if in_seconds is None and well_formed.any():
        median = np.median(ts[well_formed])
        in_seconds = bool(SECONDS_FROM <= median < SECONDS_UNTIL)
    other_unit = well_formed & (seconds_like != bool(in_seconds))
    unit_reason = (
        "timestamp is not in seconds like the member's"
        if in_seconds
        else "timestamp looks like seconds (10 or 11 digits) in a member in milliseconds"
    )
    reason = pc.if_else(ts_checked.missing, pa.scalar("no timestamp"), pa.scalar(None, pa.string()))
    reason = pc.coalesce(
        reason, pc.if_else(ts_checked.ok, pa.scalar(None, pa.string()), pa.scalar("timestamp is not whole epoch milliseconds"))
    )
    if other_unit.any():
        reason = pc.coalesce(reason, pc.if_else(pa.array(other_unit), pa.scalar(unit_reason), pa.scalar(None, pa.string())))
    for ordinal, measure in zip(ORDINALS, measures):
        bad = pc.and_(pc.invert(measure.missing), pc.invert(measure.ok))
        reason = pc.coalesce(reason, pc.if_else(bad, pa.scalar(f"{ordinal} value is not a number"), pa.scalar(None, pa.string())))
    reason = pc.if_else(blank, pa.scalar(None, pa.string()), reason)
    rejected = pc.is_valid(reason).to_numpy(zero_copy_only=False)
    usable = ~rejected & ~blank.to_numpy(zero_copy_only=False)
    rejects = []
    if rejected.any():
        where = pa.array(rejected)
        reasons = pc.filter(reason, where).to_pylist()
        columns = [pc.filter(column, where).to_pylist() for column in raw]
        for index, row in enumerate(np.flatnonzero(rejected).tolist()):
            rejects.append(Reject(row + 1, reasons[index], ",".join(column[index] for column in columns)))
    matrix = np.column_stack([measure.values for measure in measures])
    missing = _any(measure.missing for measure in measures).to_numpy(zero_copy_only=False)
    if not usable.all():
        ts, matrix, missing = ts[usable], matrix[usable], missing[usable]
    if in_seconds:
        ts = ts * 1000
    if stream == "eda":
        matrix[matrix == 0] = 0.0
    return ParsedBlock(ts, matrix, missing, bool(in_seconds)), rejects, in_seconds


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
