"""The pure rules of the job: parsing a stream CSV into typed arrays, and cleaning one device-day.

No I/O here: parsing reads from a binary file it is handed, cleaning takes and returns arrays.

Parsing: one stream CSV of an export becomes typed arrays block by block, with every unusable
line kept. pyarrow's CSV reader splits and converts the lines in C++, so Python never touches a reading; each
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

Cleaning works on the readings of one participant, device, stream and UTC day (a device-day),
from every export that holds them. A reading is its participant, device, stream and timestamp,
whatever export holds it. A timestamp's copies decide every rule and feed every count, and
copies always share a day, so a device-day is a complete unit:

* a row that several exports hold is one row: it counts as often as the export holding it most
  often holds it, and the copies in the other exports are ``overlap`` (two exports of the same days,
  or a re-export, add no row);
* a timestamp whose non-missing rows all hold the same values keeps one row (perfect duplicates,
  every copy counted in ``perfect``);
* a timestamp whose non-missing rows disagree is dropped whole (``unclear``, every row counted),
  whether one export or two disagree;
* rows with a missing value are dropped (``nan``) and take no part in the duplicate decision;
* EDA ``-0.0`` is ``0.0`` before anything is compared (done when parsing);
* devices are never mixed: the caller cleans each device on its own.

So the result of a device-day depends only on the rows of the exports that hold it, never on the
order in which they arrived.
"""

from __future__ import annotations

import csv as text_csv
import io
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import IO, Any

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
# Text parsed at a time. pyarrow's streaming CSV reader reads up to 32 blocks ahead of the parser on a
# thread of its own, so this also bounds what a task holds ahead: 4 MiB blocks let a member's first
# ~130 MB of text pile up while the first blocks were cleaned, 1 MiB keeps it near 32 MB.
BLOCK_BYTES = 1 << 20
REJECT_BATCH = 4096
ORDINALS = ("first", "second", "third")


# A header line is a few dozen bytes; reading one is bounded so that a member of one endless line is not read whole.
HEADER_BYTES = 4096
# What compressed files and archives start with: a member holding one is refused, never unpacked.
COMPRESSED = {
    b"PK\x03\x04": "a zip archive",
    b"PK\x05\x06": "an empty zip archive",
    b"\x1f\x8b": "gzip data",
    b"BZh": "bzip2 data",
    b"\xfd7zXZ\x00": "xz data",
    b"7z\xbc\xaf\x27\x1c": "a 7-Zip archive",
    b"Rar!\x1a\x07": "a RAR archive",
    b"\x28\xb5\x2f\xfd": "zstd data",
}


class HeaderMismatch(ValueError):
    """A member's header is not its stream's header."""


class CompressedMember(ValueError):
    """A stream member holds compressed data or an archive instead of CSV text; it is refused, never unpacked."""


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
    holds no readings and yields nothing. A member holding compressed data raises CompressedMember.
    """
    first = raw.readline(HEADER_BYTES)
    if not first:
        return
    _check_header(first, stream, name)
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
        skipped.number(found, rows_before)
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


def _check_header(first: bytes, stream: str, name: str) -> None:
    """CompressedMember for compressed data or an archive, HeaderMismatch for another header than the stream's."""
    for magic, what in COMPRESSED.items():
        if first.startswith(magic):
            raise CompressedMember(f"holds {what}, not CSV text; nested archives are never unpacked")
    header = first.decode("utf-8-sig").strip()
    expected = ",".join(HEADERS[stream])
    if header != expected:
        raise HeaderMismatch(
            f"{name}: header {header[:200]!r} is not the {stream} header {expected!r}; fix or remove the file and rerun"
        )


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

    def number(self, rejects: list[Reject], rows_before: int) -> None:
        """Turn the rejects' rows in their block (after ``rows_before`` rows) into lines in the file."""
        if not rejects:
            return
        lines = self.lines_of(rows_before + np.array([reject.line for reject in rejects], dtype=np.int64))
        for reject, line in zip(rejects, lines.tolist()):
            reject.line = line

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
    reason = _reasons(ts_checked, measures, other_unit, bool(in_seconds))
    reason = pc.if_else(blank, pa.scalar(None, pa.string()), reason)
    rejected = pc.is_valid(reason).to_numpy(zero_copy_only=False)
    usable = ~rejected & ~blank.to_numpy(zero_copy_only=False)
    rejects = _rejects(raw, reason, rejected) if rejected.any() else []
    matrix = np.column_stack([measure.values for measure in measures])
    missing = _any(measure.missing for measure in measures).to_numpy(zero_copy_only=False)
    if not usable.all():
        ts, matrix, missing = ts[usable], matrix[usable], missing[usable]
    if in_seconds:
        ts = ts * 1000
    if stream == "eda":
        matrix[matrix == 0] = 0.0
    return ParsedBlock(ts, matrix, missing, bool(in_seconds)), rejects, in_seconds


def _reasons(ts_checked: _Checked, measures: list[_Checked], other_unit: np.ndarray, in_seconds: bool) -> pa.Array:
    """Per row, why it is a reject (the first reason that applies), or null."""
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
    return reason


def _rejects(raw: list[pa.Array], reason: pa.Array, rejected: np.ndarray) -> list[Reject]:
    """The rejected rows with their 1-based row in the block, reason and text."""
    where = pa.array(rejected)
    reasons = pc.filter(reason, where).to_pylist()
    columns = [pc.filter(column, where).to_pylist() for column in raw]
    return [
        Reject(row + 1, reasons[index], ",".join(column[index] for column in columns))
        for index, row in enumerate(np.flatnonzero(rejected).tolist())
    ]


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


OFF_WRIST_MICROSIEMENS = 0.03
OFF_WRIST_SHARE = 0.9
WINDOW_MS = 10_000
EDA_HZ = 4
DAY_MS = 86_400_000


@dataclass(frozen=True)
class DayCounts:
    """What the rules found in one day: the duplicate log's columns and the rows kept.

    ``total_dupes`` counts the non-missing rows that share their timestamp with another one, so
    it is always ``perfect + unclear``. ``overlap`` counts the rows another export also holds, which
    count once: rows read = ``total_rows + overlap = clean + nan + unclear + perfect copies beyond
    the first + overlap``.
    """

    total_rows: int = 0
    total_dupes: int = 0
    perfect: int = 0
    nan: int = 0
    unclear: int = 0
    clean: int = 0
    overlap: int = 0

    def __add__(self, other: DayCounts) -> DayCounts:
        return DayCounts(**{name: getattr(self, name) + getattr(other, name) for name in DAY_COUNTS})

    def duplicates(self) -> dict[str, int]:
        """The duplicate log's columns: every count but ``clean``."""
        return {name: getattr(self, name) for name in DUPLICATE_COUNTS}


DAY_COUNTS = tuple(f.name for f in fields(DayCounts))
DUPLICATE_COUNTS = tuple(name for name in DAY_COUNTS if name != "clean")


@dataclass(frozen=True)
class WearDay:
    """Samples and 10-second windows of one day's clean EDA, and how many were on the wrist."""

    samples: int
    samples_worn: int
    windows: int
    windows_worn: int

    @property
    def minutes_worn(self) -> float:
        return self.samples_worn / (EDA_HZ * 60.0)

    @property
    def share_worn(self) -> float:
        return self.minutes_worn / (24 * 60)


@dataclass
class Claims:
    """Rows of one device-day and the exports holding them.

    ``export`` indexes the day's export names; ``copies`` says how many times that export holds the
    row (None: once each, as parsed rows are). ``values`` has one column per measure and ``missing``
    marks rows with a missing value.
    """

    ts: np.ndarray
    values: np.ndarray
    missing: np.ndarray
    export: np.ndarray
    copies: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def concat(cls, parts: list[Claims], width: int) -> Claims:
        parts = [part for part in parts if len(part)]
        if not parts:
            return cls(np.empty(0, np.int64), np.empty((0, width)), np.empty(0, bool), np.empty(0, np.int32))
        if len(parts) == 1:
            return parts[0]
        copies = [part.copies if part.copies is not None else np.ones(len(part), np.int64) for part in parts]
        return cls(
            np.concatenate([part.ts for part in parts]),
            np.concatenate([part.values for part in parts]),
            np.concatenate([part.missing for part in parts]),
            np.concatenate([part.export for part in parts]).astype(np.int32, copy=False),
            np.concatenate(copies),
        )


@dataclass
class CombinedDay:
    """A device-day after the rules: its readings, which exports hold each, and what the readings do not say.

    ``holders`` has a row per kept reading and a column per export. ``held`` keeps the rows no
    reading stands for (missing and unclear rows, and copies beyond one per holding export), so a
    later run can take one export's rows out of the day and apply the rules again. ``shared`` counts,
    per pair of exports, the rows both hold.
    """

    ts: np.ndarray
    values: np.ndarray
    holders: np.ndarray
    held: Claims
    counts: DayCounts
    shared: dict[tuple[int, int], int]


def combine_day(claims: Claims, exports: int) -> CombinedDay:
    """The rules applied to one device-day's rows from every export holding it (see the module docstring).

    A row several exports hold is one row: each distinct row counts as many times as the export
    holding it most often holds it, and the rows beyond are ``overlap``. Only rows whose timestamp
    is shared are grouped, so a day of one export without duplicates costs one sort and a few masks.
    """
    n, width = len(claims.ts), claims.values.shape[1]
    copies = claims.copies
    order = np.argsort(claims.ts, kind="stable")
    in_order = claims.ts[order]
    equal_next = in_order[1:] == in_order[:-1]
    del in_order
    shared_time = np.zeros(n, dtype=bool)
    shared_time[:-1] |= equal_next
    shared_time[1:] |= equal_next
    together = order[shared_time]
    del order, shared_time, equal_next
    keep = ~claims.missing
    keep[together] = False
    alone_missing = claims.missing.copy()
    alone_missing[together] = False
    missing_rows = np.flatnonzero(alone_missing)
    del alone_missing
    if copies is None:
        total = n - len(together)
        nan, perfect = len(missing_rows), 0
        held_rows, held_copies = [missing_rows], [np.ones(len(missing_rows), np.int64)]
    else:
        alone = np.ones(n, dtype=bool)
        alone[together] = False
        total = int(copies[alone].sum())
        del alone
        nan = int(copies[missing_rows].sum())
        extra = np.flatnonzero(keep & (copies > 1))
        perfect = int(copies[extra].sum())
        held_rows, held_copies = [missing_rows, extra], [copies[missing_rows], copies[extra] - 1]
    held_export = [claims.export[rows] for rows in held_rows]
    unclear = overlap = 0
    shared: dict[tuple[int, int], int] = {}
    kept_together = np.empty(0, np.int64)
    together_export = np.empty(0, np.int32)
    if len(together):
        bits = _row_bits(claims.values[together])
        keys = [
            claims.export[together],
            *(bits[:, j] for j in reversed(range(width))),
            claims.missing[together],
            claims.ts[together],
        ]
        by_row = np.lexsort(keys)
        rows, bits = together[by_row], bits[by_row]
        ts, missing, export = claims.ts[rows], claims.missing[rows], claims.export[rows]
        row_copies = copies[rows] if copies is not None else np.ones(len(rows), np.int64)
        same_row = (ts[1:] == ts[:-1]) & (missing[1:] == missing[:-1]) & (bits[1:] == bits[:-1]).all(axis=1)
        row_starts = np.flatnonzero(np.r_[True, ~same_row])
        pair_starts = np.flatnonzero(np.r_[True, ~same_row | (export[1:] != export[:-1])])
        pair_copies = np.add.reduceat(row_copies, pair_starts)
        pair_export = export[pair_starts]
        pair_row = np.searchsorted(row_starts, pair_starts, side="right") - 1
        row_pairs = np.flatnonzero(np.r_[True, pair_row[1:] != pair_row[:-1]])
        most = np.maximum.reduceat(pair_copies, row_pairs)
        overlap = int((np.add.reduceat(pair_copies, row_pairs) - most).sum())
        first = rows[row_starts]
        row_missing = claims.missing[first]
        present = np.flatnonzero(~row_missing)
        present_ts = claims.ts[first[present]]
        starts = np.flatnonzero(np.r_[True, present_ts[1:] != present_ts[:-1]])
        values_at = np.diff(np.r_[starts, len(present)])
        kept_row = np.zeros(len(first), dtype=bool)
        kept_row[present[np.repeat(values_at == 1, values_at)]] = True
        unclear_row = ~kept_row & ~row_missing
        total += int(most.sum())
        nan += int(most[row_missing].sum())
        perfect += int(most[kept_row & (most > 1)].sum())
        unclear = int(most[unclear_row].sum())
        kept_together = first[kept_row]
        keep[kept_together] = True
        pair_kept = kept_row[pair_row]
        kept_pairs = first[pair_row[pair_kept]]
        together_export = pair_export[pair_kept]
        extra_copies = pair_copies - pair_kept
        beyond = extra_copies > 0
        held_rows.append(first[pair_row[beyond]])
        held_copies.append(extra_copies[beyond])
        held_export.append(pair_export[beyond])
        if exports > 1:
            by_export = np.zeros((len(first), exports), dtype=np.int64)
            by_export[pair_row, pair_export] = pair_copies
            for a in range(exports):
                for b in range(a + 1, exports):
                    both = int(np.minimum(by_export[:, a], by_export[:, b]).sum())
                    if both:
                        shared[(a, b)] = both
    kept_ts, kept_values = claims.ts[keep], claims.values[keep]
    if exports == 1:
        holders = np.ones((len(kept_ts), 1), dtype=bool)
    else:
        position = np.cumsum(keep) - 1
        holders = np.zeros((len(kept_ts), exports), dtype=bool)
        single = keep.copy()
        single[kept_together] = False
        holders[position[single], claims.export[single]] = True
        if len(kept_together):
            holders[position[kept_pairs], together_export] = True
    if len(kept_ts) > 1 and not (kept_ts[1:] >= kept_ts[:-1]).all():
        by_time = np.argsort(kept_ts, kind="stable")
        kept_ts, kept_values, holders = kept_ts[by_time], kept_values[by_time], holders[by_time]
    held = np.concatenate(held_rows)
    counts = DayCounts(total, perfect + unclear, perfect, nan, unclear, len(kept_ts), overlap)
    return CombinedDay(
        kept_ts,
        kept_values,
        holders,
        Claims(
            claims.ts[held], claims.values[held], claims.missing[held], np.concatenate(held_export), np.concatenate(held_copies)
        ),
        counts,
        shared,
    )


def _row_bits(values: np.ndarray) -> np.ndarray:
    """Values as integers that are equal exactly when the values are (``-0.0`` is ``0.0``, every NaN one NaN)."""
    canonical = values + 0.0
    canonical[np.isnan(canonical)] = np.nan
    return canonical.view(np.int64)


def wear_day(ts: np.ndarray, eda: np.ndarray) -> WearDay:
    """Wear of one day from its clean, time-sorted 4 Hz EDA readings.

    A 10-second window is off the wrist when more than 90% of its values are below 0.03 µS; the
    worn minutes are the samples left in the other windows divided by the 4 Hz rate.
    """
    windows = ts // WINDOW_MS
    starts = np.flatnonzero(np.r_[True, windows[1:] != windows[:-1]]) if len(ts) else np.empty(0, dtype=np.int64)
    samples = np.diff(np.r_[starts, len(ts)])
    low = np.add.reduceat((eda < OFF_WRIST_MICROSIEMENS).astype(np.int64), starts) if len(starts) else samples
    worn = low <= samples * OFF_WRIST_SHARE
    return WearDay(int(samples.sum()), int(samples[worn].sum()), len(samples), int(worn.sum()))


DEVICE_COLUMNS = {
    "Datetime (UTC)": "recorded_at",
    "Timezone (minutes)": "timezone_minutes",
    "Embrace firmware version": "firmware_version",
    "App": "app",
    "App version": "app_version",
    "Mobile OS": "mobile_os",
    "Mobile OS version": "mobile_os_version",
    "GTCS algorithm version": "gtcs_algorithm_version",
}


def device_records(ppt_id: str, dev_id: str, name: str, body: bytes) -> list[dict[str, Any]]:
    """The rows of a metadata.csv as devices rows: snake_case columns, the time zone as minutes, and the file."""
    records = []
    for row in text_csv.DictReader(io.StringIO(body.decode("utf-8-sig"))):
        record: dict[str, Any] = {"ppt_id": ppt_id, "dev_id": dev_id}
        for header, column in DEVICE_COLUMNS.items():
            record[column] = row.get(header)
        zone = (record["timezone_minutes"] or "").strip()
        record["timezone_minutes"] = int(zone) if zone.lstrip("+-").isdigit() else None
        record["source_file"] = name
        records.append(record)
    return records
