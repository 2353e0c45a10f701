"""The cleaning rules re-derived in plain Python from the raw CSVs inside an archive, for the tests."""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

MISSING = {"", "nan", "null", "na", "none"}


def expected(archive: Path) -> tuple[Counter, dict, int]:
    """Clean rows per stream, the duplicate log keyed (ppt_id, dev_id, month, stream), and rows outside the period."""
    stem = archive.name[: -len(".zip")]
    start, end = stem.split("_")[-2:]
    clean: Counter = Counter()
    log: dict = {}
    outside = 0
    with zipfile.ZipFile(archive) as handle:
        for name in handle.namelist():
            parts = name.split("/")
            if len(parts) < 5 or parts[-1] not in ("acc.csv", "eda.csv", "temp.csv"):
                continue
            site, participant, device, leaf = parts[-4:]
            stream = leaf[:-4]
            rows = list(csv.reader(io.StringIO(handle.read(name).decode("utf-8"))))[1:]
            by_time: dict[int, list[tuple[float, ...]]] = defaultdict(list)
            nan_by_month: Counter = Counter()
            for row in rows:
                if not row:
                    continue
                ts = int(row[0])
                if any(value.strip().lower() in MISSING for value in row[1:]):
                    nan_by_month[_month(ts)] += 1
                    continue
                values = tuple(0.0 if stream == "eda" and float(v) == 0 else float(v) for v in row[1:])
                by_time[ts].append(values)
            months = set(nan_by_month) | {_month(ts) for ts in by_time}
            for month in months:
                key = (site.lower() + participant, device, month, stream)
                groups = [copies for ts, copies in by_time.items() if _month(ts) == month]
                dupes = [copies for copies in groups if len(copies) > 1]
                perfect = sum(len(c) for c in dupes if len(set(c)) == 1)
                unclear = sum(len(c) for c in dupes if len(set(c)) > 1)
                total = sum(len(c) for c in groups) + nan_by_month[month]
                log[key] = (total, perfect + unclear, perfect, nan_by_month[month], unclear)
            for ts, copies in by_time.items():
                if len(set(copies)) == 1:
                    clean[stream] += 1
                    day = _day(ts)
                    if not start <= day <= end:
                        outside += 1
    return clean, log, outside


def _month(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m")


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y%m%d")


def expected_union(archives: list[Path]) -> tuple[Counter, dict]:
    """Clean rows per stream and the duplicate log keyed (ppt_id, dev_id, month, stream), of several
    archives read together: a row that several archives hold counts as often as the archive holding it
    most often holds it, and its other copies are its overlap (the last value of the log's tuples)."""
    held: dict = defaultdict(lambda: defaultdict(Counter))
    for archive in archives:
        with zipfile.ZipFile(archive) as handle:
            for name in handle.namelist():
                parts = name.split("/")
                if len(parts) < 5 or parts[-1] not in ("acc.csv", "eda.csv", "temp.csv"):
                    continue
                site, participant, device, leaf = parts[-4:]
                key = (site.lower() + participant, device, leaf[:-4])
                for row in list(csv.reader(io.StringIO(handle.read(name).decode("utf-8"))))[1:]:
                    if not row:
                        continue
                    if any(value.strip().lower() in MISSING for value in row[1:]):
                        held[key][archive][(int(row[0]), "missing", tuple(row[1:]))] += 1
                        continue
                    values = tuple(0.0 if key[2] == "eda" and float(v) == 0 else float(v) for v in row[1:])
                    held[key][archive][(int(row[0]), "present", values)] += 1
    clean: Counter = Counter()
    log: dict = {}
    for (ppt_id, device, stream), by_archive in held.items():
        rows: Counter = Counter()
        for counts in by_archive.values():
            for row, count in counts.items():
                rows[row] = max(rows[row], count)
        overlap = Counter()
        for row in rows:
            overlap[_month(row[0])] += sum(counts[row] for counts in by_archive.values()) - rows[row]
        values_at: dict = defaultdict(set)
        for ts, kind, values in rows:
            if kind == "present":
                values_at[ts].add(values)
        totals: dict = defaultdict(Counter)
        for (ts, kind, _values), count in rows.items():
            month = totals[_month(ts)]
            month["total"] += count
            if kind == "missing":
                month["nan"] += count
            elif len(values_at[ts]) > 1:
                month["unclear"] += count
            else:
                month["perfect"] += count if count > 1 else 0
                clean[stream] += 1
        for month, found in totals.items():
            dupes = found["perfect"] + found["unclear"]
            log[(ppt_id, device, month, stream)] = (
                found["total"],
                dupes,
                found["perfect"],
                found["nan"],
                found["unclear"],
                overlap[month],
            )
    return clean, log
