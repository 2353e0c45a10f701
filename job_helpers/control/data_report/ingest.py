"""Ingest: recordings per subject and day, and where each subject's data sits (landing, archive, restored).

Subjects are their 8-digit codes only: the subject map (names) is never read. A landing object's
day is its EDF header's start date (the first 256 bytes, one ranged read), else a date in its
key, else it is undated. Where the data sits comes from each subject's latest manifest: its
landing keys found in landing, the tar parts holding its files in the archive (its own and earlier
ingests'), and their restore state.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

import numpy as np

from job_helpers.control.data_report import charts
from job_helpers.control.data_report.page import Numbers, Picture, positions
from job_helpers.control.data_report.source import Source
from job_helpers.ingest.edf import FIXED_HEADER_BYTES, EdfError, parse_header
from job_helpers.ingest.manifest import Manifest, parts_of
from job_helpers.ingest.names import time_from_name
from job_helpers.ingest.read import find_manifests
from job_helpers.ingest.settings import IngestSettings
from job_helpers.storage import ObjectInfo, join

UNDATED = "undated"
PLACES = ("landing", "archive", "restored")


def pictures(source: Source) -> list[Picture]:
    ingest = source.settings.section("ingest")
    if ingest is None or not ingest.datasets:
        empty = "No ingest data set is configured (datasets.ingest in config.yml)."
        return [Picture("ingest-recordings", "Recordings per subject and day", empty, None, Numbers(()))]
    found = []
    for name in sorted(ingest.datasets):
        found += [recordings(source, ingest, name), places(source, ingest, name)]
    return found


def _recording_day(source: Source, url: str, key: str) -> date | None:
    if key.lower().endswith(".edf"):
        with source.lake.storage.open(url) as handle:
            try:
                start = parse_header(handle.read(FIXED_HEADER_BYTES), url).start
            except EdfError:
                start = None
        if start is not None:
            return start.date()
    named = time_from_name(key)
    return named.date() if named else None


def recordings(source: Source, ingest: IngestSettings, dataset: str) -> Picture:
    title = f"{dataset}: recordings per subject and day"
    landing = ingest.landing_url(dataset)
    source.lake.progress(f"listing {landing}")
    counts = _recordings_per_subject_day(source, landing)
    if not counts:
        return Picture(
            f"ingest-{dataset}-recordings", title, f"No recording in {landing} for {source.window.label}.", None, Numbers(())
        )
    subjects = sorted({subject for subject, _ in counts})
    dated = sorted({date.fromisoformat(day) for _, day in counts if day != UNDATED})
    columns = [day.isoformat() for day in source.window.days(dated)] + (
        [UNDATED] if any(day == UNDATED for _, day in counts) else []
    )
    grid = np.full((len(subjects), len(columns)), np.nan)
    row_of, column_of = positions(subjects), positions(columns)
    for (subject, column), files in counts.items():
        grid[row_of[subject], column_of[column]] = files
    svg = charts.heatmap(subjects, columns, grid, colour_label="recordings (files)")
    rows = [(subject, day, counts[(subject, day)]) for subject in subjects for day in columns if (subject, day) in counts]
    undated = sum(files for (_, day), files in counts.items() if day == UNDATED)
    reading = (
        f"{sum(counts.values()):,} file(s) of {len(subjects)} subject(s) over {len(dated)} recording day(s)"
        f"{f'; {undated} without a recording date' if undated else ''}."
    )
    return Picture(f"ingest-{dataset}-recordings", title, reading, svg, Numbers(("subject", "day", "files"), rows))


def _recordings_per_subject_day(source: Source, landing: str) -> Counter[tuple[str, str]]:
    """Files in landing per (subject, ISO day) within the window, or per (subject, UNDATED) when no date is known."""
    counts: Counter[tuple[str, str]] = Counter()
    stored = list(source.lake.storage.list(landing))
    for done, item in enumerate(stored, start=1):
        source.lake.progress(f"reading recording dates: {done:,} of {len(stored):,} objects")
        key = item.url[len(landing) :]
        subject = key.split("/", 1)[0]
        day = _recording_day(source, item.url, key)
        if day is None:
            counts[(subject, UNDATED)] += 1
        elif source.window.holds(day):
            counts[(subject, day.isoformat())] += 1
    return counts


def places(source: Source, ingest: IngestSettings, dataset: str) -> Picture:
    title = f"{dataset}: where each subject's data sits"
    landing = ingest.landing_url(dataset)
    source.lake.progress(f"reading the manifests of {dataset}")
    history: dict[str, list[Manifest]] = {}
    for manifest in find_manifests(source.lake.storage, ingest.archive_url, dataset):
        history.setdefault(manifest.subject, []).append(manifest)
    latest = {subject: manifests[-1] for subject, manifests in history.items()}
    if not latest:
        return Picture(f"ingest-{dataset}-places", title, f"No manifest for {dataset}: nothing ingested yet.", None, Numbers(()))
    in_landing = {item.url: item.size for item in source.lake.storage.list(landing)}
    subjects = sorted(latest)
    grid = np.zeros((len(subjects), len(PLACES)))
    rows = []
    for done, subject in enumerate(subjects, start=1):
        source.lake.progress(f"checking where subjects' data sits: {done:,} of {len(subjects):,}")
        manifest = latest[subject]
        present = sum(1 for entry in manifest.files if in_landing.get(join(landing, entry.key)) == entry.size)
        tars = _TarParts.of(source, ingest.archive_url, history[subject])
        files = len(manifest.files)
        grid[done - 1] = (100.0 * present / files if files else 0.0, 100.0 * tars.archived, 100.0 * tars.restored)
        rows.append((subject, manifest.ingest_id, files, present, tars.count, tars.archived, tars.storage_class, tars.restore))
    svg = charts.heatmap(subjects, list(PLACES), grid, colour_label="% of the subject's data there", vmax=100.0)
    whole = sum(1 for row in rows if row[3] == row[2] and row[5])
    reading = f"{whole} of {len(subjects)} subject(s) have every file in landing and every tar part in the archive."
    header = ("subject", "ingest", "files", "in landing", "tar parts", "tar in archive", "storage class", "restore")
    return Picture(f"ingest-{dataset}-places", title, reading, svg, Numbers(header, rows))


@dataclass(frozen=True)
class _TarParts:
    """Where a subject's tar parts sit in the archive: all there at their size, restored, in which storage class."""

    count: int
    archived: bool
    restored: bool
    storage_class: str
    restore: str

    @classmethod
    def of(cls, source: Source, archive_url: str, manifests: list[Manifest]) -> _TarParts:
        parts, unheld = parts_of(manifests)
        entries = [owner.archive for owner, _ in parts if owner.archive]
        tars = [source.lake.storage.head(join(archive_url, entry.key)) for entry in entries]
        archived = not unheld and all(
            tar is not None and tar.size == entry.size for tar, entry in zip(tars, entries, strict=True)
        )
        found = [tar for tar in tars if tar is not None]
        return cls(
            count=len(entries),
            archived=archived,
            restored=archived and _all_restored(found),
            storage_class=", ".join(sorted({tar.storage_class for tar in found})) or "-",
            restore=_restore_states(found, every_part_found=len(found) == len(tars) and not unheld),
        )


def _all_restored(found: list[ObjectInfo]) -> bool:
    return bool(found) and all(tar.archived and tar.restore_state == "available" for tar in found)


def _restore_states(found: list[ObjectInfo], *, every_part_found: bool) -> str:
    return ", ".join(sorted({tar.restore_state for tar in found})) if every_part_found else "missing"
