"""Parsing, cleaning and the day buffer on small hand-written inputs."""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from job_helpers.embrace.archives import HEADERS
from job_helpers.embrace.day_buffer import SLICE_MS, DayBuffer, DayTooLarge, Rows
from job_helpers.embrace.transform import DAY_MS, REJECT_BATCH, Claims, DayCounts, HeaderMismatch, combine_day, parse_stream

EDA = "Unix Timestamp (UTC),EDA (microS)\n"
ACC = "Unix Timestamp (UTC),x (g),y (g),z (g)\n"
REPO = Path(__file__).resolve().parents[2]


def parse(text: str, stream: str):
    found = []
    blocks = list(parse_stream(io.BytesIO(text.encode()), stream, "U/FC/1/D/x.csv", found.extend))
    width = len(HEADERS[stream]) - 1
    ts = np.concatenate([np.empty(0, dtype=np.int64)] + [b.ts for b in blocks])
    values = np.concatenate([np.empty((0, width))] + [b.values for b in blocks])
    missing = np.concatenate([np.empty(0, dtype=bool)] + [b.missing for b in blocks])
    rejects = sorted((r.line, r.reason, r.record) for r in found)
    return ts, values, missing, rejects


def test_rejects_name_their_line_reason_and_text_and_blank_lines_are_skipped():
    text = EDA + "1000, 0.5 \n\n2000,abc\n3000,1,2\n4000,inf\nx,0.1\n,0.2\n5000,NaN\n6000,-0.0\n"
    ts, values, missing, rejects = parse(text, "eda")
    assert rejects == [
        (4, "first value is not a number", "2000,abc"),
        (5, "expected 2 fields", "3000,1,2"),
        (6, "first value is not a number", "4000,inf"),
        (7, "timestamp is not whole epoch milliseconds", "x,0.1"),
        (8, "no timestamp", ",0.2"),
    ]
    assert ts.tolist() == [1000, 5000, 6000]
    assert missing.tolist() == [False, True, False]
    assert values[0, 0] == 0.5
    assert values[2, 0] == 0.0 and not np.signbit(values[2, 0])


def test_a_header_of_another_stream_is_refused_with_the_file_name():
    with pytest.raises(HeaderMismatch, match="U/FC/1/D/x.csv"):
        parse(ACC + "1,2,3,4\n", "eda")


def claims(rows: list[tuple[int, float, int]]) -> Claims:
    """``(time, value, export)`` rows, NaN for a missing value."""
    ts, values, exports = (np.array(column) for column in zip(*rows))
    values = values.astype(float).reshape(-1, 1)
    return Claims(ts.astype(np.int64), values, np.isnan(values[:, 0]), exports.astype(np.int32))


def test_clean_day_keeps_perfect_copies_once_and_drops_unclear_and_missing_rows():
    one_export = claims(
        [(30, 3.0, 0), (10, 1.0, 0), (10, 1.0, 0), (20, 2.0, 0), (20, 2.5, 0), (40, 4.0, 0), (40, np.nan, 0), (40, 4.0, 0)]
    )
    day = combine_day(one_export, 1)
    assert day.ts.tolist() == [10, 30, 40]
    assert day.values[:, 0].tolist() == [1.0, 3.0, 4.0]
    assert day.counts == DayCounts(total_rows=8, total_dupes=6, perfect=4, nan=1, unclear=2, clean=3, overlap=0)
    assert day.holders.tolist() == [[True]] * 3


def test_a_row_two_exports_hold_counts_once_and_a_disagreement_between_them_is_unclear():
    a = [(10, 1.0, 0), (20, 2.0, 0), (20, 2.0, 0), (30, 3.0, 0), (40, np.nan, 0), (50, 5.0, 0)]
    b = [(10, 1.0, 1), (20, 2.0, 1), (30, 3.5, 1), (40, np.nan, 1), (60, 6.0, 1)]
    day = combine_day(claims(a + b), 2)
    assert day.ts.tolist() == [10, 20, 50, 60]
    assert day.holders.tolist() == [[True, True], [True, True], [True, False], [False, True]]
    # Rows of the union: 10, 20 twice (export 0 holds it twice), 30 twice (3.0 and 3.5), 40 missing, 50, 60.
    assert day.counts == DayCounts(total_rows=8, total_dupes=4, perfect=2, nan=1, unclear=2, clean=4, overlap=3)
    assert day.shared == {(0, 1): 3}
    same_twice = combine_day(claims(a + [(t, v, 1) for t, v, _ in a]), 2)
    assert same_twice.counts == replace(combine_day(claims(a), 1).counts, overlap=len(a))


def test_an_export_unclear_in_itself_makes_the_timestamp_unclear_in_the_union():
    day = combine_day(claims([(10, 1.0, 0), (10, 1.5, 0), (10, 1.0, 1), (20, 2.0, 1)]), 2)
    assert day.ts.tolist() == [20]
    assert (day.counts.unclear, day.counts.overlap, day.counts.clean) == (2, 1, 1)


def test_the_held_rows_and_holders_give_back_every_export_rows_so_one_export_can_be_taken_out():
    """Published readings (with their holders) plus held rows are the exports' rows: taking export 1 out of
    them gives the day as export 0 alone gives it, whatever export 1 did to it."""
    a = [(10, 1.0, 0), (10, 1.0, 0), (20, 2.0, 0), (30, np.nan, 0), (40, 4.0, 0), (40, 4.5, 0), (50, 5.0, 0)]
    b = [(10, 1.0, 1), (20, 2.5, 1), (30, np.nan, 1), (50, 5.0, 1), (60, 6.0, 1)]
    both = combine_day(claims(a + b), 2)
    rows, holder = np.nonzero(both.holders)
    published = Claims(both.ts[rows], both.values[rows], np.zeros(len(rows), bool), holder.astype(np.int32))
    back = Claims.concat([published, both.held], 1)
    without_b = np.flatnonzero(back.export != 1)
    only_a = Claims(
        back.ts[without_b], back.values[without_b], back.missing[without_b], back.export[without_b], back.copies[without_b]
    )
    again, alone = combine_day(only_a, 1), combine_day(claims(a), 1)
    assert again.counts == alone.counts
    assert again.ts.tolist() == alone.ts.tolist() and again.values.tolist() == alone.values.tolist()
    assert combine_day(back, 2).counts == both.counts


def test_the_day_buffer_gives_the_same_days_whether_it_spills_or_not(tmp_path):
    rng = np.random.default_rng(3)
    blocks = []
    for start in range(0, 3 * DAY_MS, DAY_MS // 2):
        ts = np.sort(rng.integers(start, start + DAY_MS // 2 + 1000, 500))
        blocks.append(type("Block", (), {"ts": ts, "values": rng.random((500, 3)), "missing": rng.random(500) < 0.1})())
    kept, spilled = DayBuffer(tmp_path / "a", 3, 10**6), DayBuffer(tmp_path / "b", 3, 10**6, budget_bytes=10_000)
    for number, block in enumerate(blocks):
        kept.add(block, number % 2)
        spilled.add(block, number % 2)
    assert any((tmp_path / "b").iterdir())
    for (day_a, slices_a), (day_b, slices_b) in zip(kept.days(), spilled.days(), strict=True):
        assert (day_a, slices_a) == (day_b, slices_b)
        rows_a, rows_b = whole_day(kept, slices_a), whole_day(spilled, slices_b)
        for column in ("ts", "values", "missing", "source"):
            assert np.array_equal(getattr(rows_a, column), getattr(rows_b, column))
        assert (rows_a.ts // DAY_MS == day_a).all()
        assert set(rows_a.source.tolist()) == {0, 1}


def whole_day(buffer: DayBuffer, slices: list[int]) -> Rows:
    """A day's slices taken and put together, checking that each slice holds only its hour, in time order."""
    taken = [buffer.take(number) for number in slices]
    for number, rows in zip(slices, taken):
        assert len(rows.ts) and (rows.ts // SLICE_MS == number).all()
    return Rows(*(np.concatenate([getattr(rows, column) for rows in taken]) for column in ("ts", "values", "missing", "source")))


def test_a_dropped_source_leaves_every_day_whether_spilled_or_not_and_a_day_over_the_limit_is_refused(tmp_path):
    def block(first: int, rows: int):
        ts = np.arange(first, first + rows, dtype=np.int64)
        return type("Block", (), {"ts": ts, "values": np.ones((rows, 1)), "missing": np.zeros(rows, dtype=bool)})()

    buffer = DayBuffer(tmp_path, 1, max_rows_per_day=100, budget_bytes=1000)
    buffer.add(block(0, 60), 0)
    buffer.add(block(DAY_MS, 60), 1)  # spills: more than 1000 bytes pending
    buffer.add(block(10, 40), 0)  # 100 rows of day 0 from source 0: at the limit, not over it
    with pytest.raises(DayTooLarge) as over:
        buffer.add(block(2 * DAY_MS - 45, 50), 1)  # 45 rows on day 1 (105 in all), 5 on day 2: nothing is added
    assert over.value.day == 1
    buffer.add(block(DAY_MS + 100, 30), 2)
    buffer.drop(1)
    days = {
        day: (len(rows.ts), set(rows.source.tolist())) for day, slices in buffer.days() for rows in [whole_day(buffer, slices)]
    }
    assert days == {0: (100, {0}), 1: (30, {2})}
    with pytest.raises(DayTooLarge):
        DayBuffer(tmp_path / "other", 1, max_rows_per_day=5).add(block(0, 6), 0)


def test_empty_and_header_only_members_hold_no_readings():
    assert list(parse_stream(io.BytesIO(b""), "eda", "e.csv", pytest.fail)) == []
    assert list(parse_stream(io.BytesIO(EDA.encode()), "eda", "e.csv", pytest.fail)) == []


def test_wrong_widths_alone_stray_quotes_and_far_timestamps_are_all_rejects():
    *_, rejects = parse(EDA + "1000,0.5,\n2000,0.6,\n", "eda")
    assert rejects == [(2, "expected 2 fields", "1000,0.5,"), (3, "expected 2 fields", "2000,0.6,")]
    lines = ["1000,0.5", '2000,"0.6', "3000,0.7", '"4000",0.8', "1709251200000000,0.9"] + [f"{5000 + n},1.0" for n in range(1000)]
    ts, _, _, rejects = parse(EDA + "\n".join(lines) + "\n", "eda")
    assert len(ts) == 1004  # quotes around a value are dropped, so only the far timestamp is refused
    assert rejects == [(6, "timestamp is not whole epoch milliseconds", "1709251200000000,0.9")]


def test_line_numbers_count_the_lines_skipped_for_their_width():
    lines = []
    for n in range(3000):
        lines.append(f"{n},1,2" if n % 3 == 0 else (f"{n},x" if n % 3 == 1 else f"{n},0.5"))
    *_, rejects = parse(EDA + "\n".join(lines) + "\n", "eda")
    assert [line for line, *_ in rejects] == [n + 2 for n in range(3000) if n % 3 != 2]
    assert all(record == lines[line - 2] for line, _, record in rejects)


def test_a_member_in_seconds_is_read_as_seconds_and_rows_of_the_other_unit_are_rejects():
    ts, _, _, rejects = parse(EDA + "1709251200,0.5\n1709251201,0.6\n1709251202000,0.7\n1709251203,0.8\n", "eda")
    assert ts.tolist() == [1709251200000, 1709251201000, 1709251203000]
    assert rejects == [(4, "timestamp is not in seconds like the member's", "1709251202000,0.7")]
    ts, _, _, rejects = parse(EDA + "1709251200000,0.5\n1709251201,0.6\n", "eda")
    assert ts.tolist() == [1709251200000]
    assert rejects == [(3, "timestamp looks like seconds (10 or 11 digits) in a member in milliseconds", "1709251201,0.6")]


MEMORY_CHECK = """
import os, sys, tracemalloc
from job_helpers.embrace.transform import parse_stream
seen = [0, 0]
def sink(batch):
    seen[0] += len(batch)
    seen[1] = max(seen[1], len(batch))
tracemalloc.start()
with open(sys.argv[1], "rb") as raw:
    blocks = sum(1 for _ in parse_stream(raw, "eda", "eda.csv", sink))
print(blocks, seen[0], seen[1], tracemalloc.get_traced_memory()[1], flush=True)
# Leave as Spark's Python workers do: Arrow's thread pools can abort a normal interpreter exit after a
# read through a Python file object (apache/arrow#34314), long after the figures above are final.
os._exit(0)
"""


@pytest.mark.subprocess
def test_memory_stays_bounded_whatever_the_number_of_wrong_width_rows(tmp_path):
    """A member of 400,000 wrong-width rows (issue 9.16): rejects leave in batches, nothing grows with them.

    pyarrow reads its 4 MB blocks through the Python file, which alone traces about 16 MB at peak;
    holding the rejects would add well over 100 MB.
    """
    rows = 400_000
    member = tmp_path / "eda.csv"
    with open(member, "w") as handle:
        handle.write(EDA)
        for _ in range(rows // 1000):
            handle.write("1709251200000,0.5,9\n" * 1000)
    done = subprocess.run([sys.executable, "-c", MEMORY_CHECK, str(member)], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    blocks, rejects, largest_batch, peak_bytes = map(int, done.stdout.split())
    assert (blocks, rejects) == (0, rows)
    assert largest_batch <= REJECT_BATCH
    assert peak_bytes < 32 << 20, f"parsing held {peak_bytes / 1e6:.0f} MB of Python objects for {rows:,} rejects"
