"""Commit records: what a scope of a table holds, in one small JSON object changed only by conditional writes.

A record names the scope (a folder below the table, ``""`` for the whole table), its state
(``committed``, or ``publishing`` while a run replaces it), the run, who (job, job run, host, pid)
and when, its lease, and the files the scope holds with their bytes, rows and whatever else the
caller keeps about each (SiteWise: the raw keys). While a run publishes, the record also keeps
what the scope held before (``previous``) and where each file the run brings is staged
(``staged``), so a run that takes the claim over can tell a file moved in from one still to move.
File paths are stored relative to the scope's folder. It lives at ``<table>/_commits/<scope>.json``
unless its caller keeps it elsewhere (SiteWise: the day's ``manifest.json``).
``job_helpers.publish`` is the protocol that writes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from job_helpers.storage import Storage, join

COMMITS = "_commits"
TABLE_RECORD = "_table"
RECORD_FORMAT = 1
PUBLISHING, COMMITTED = "publishing", "committed"


class RecordUnreadable(ValueError):
    """A commit record is not one this version can read; the message names it and what to do."""


@dataclass(frozen=True)
class FileEntry:
    """A file in a commit record: bytes, rows (None: not counted) and the caller's extra fields."""

    bytes: int
    rows: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**self.extra, "bytes": self.bytes, "rows": self.rows}

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> FileEntry:
        extra = {key: value for key, value in entry.items() if key not in ("bytes", "rows")}
        rows = entry.get("rows")
        return cls(int(entry.get("bytes") or 0), None if rows is None else int(rows), extra)


@dataclass(frozen=True)
class Record:
    """A scope's commit record as read (``version``: what ``write_if`` compares; None if none is stored)."""

    scope: str
    state: str = COMMITTED
    run: str = ""
    who: Mapping[str, Any] = field(default_factory=dict)
    claimed_at: float = 0.0
    lease_until: float = 0.0
    committed_at: float = 0.0
    files: Mapping[str, FileEntry] = field(default_factory=dict)
    previous: Mapping[str, FileEntry] = field(default_factory=dict)
    staged: Mapping[str, str] = field(default_factory=dict)
    version: str | None = None
    stored: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def rows(self) -> int | None:
        return rows_of(self.files)

    def live(self, now: float) -> bool:
        """Claimed by a run whose lease still runs."""
        return self.state == PUBLISHING and self.lease_until > now

    def to_bytes(self) -> bytes:
        """The stored form: file paths relative to the scope's folder, so a record reads alone."""
        document = {
            "format": RECORD_FORMAT,
            "scope": self.scope,
            "state": self.state,
            "run": self.run,
            "who": dict(self.who),
            "claimed_at": self.claimed_at,
            "lease_until": self.lease_until,
            "committed_at": self.committed_at,
            "files": self._relative(self.files),
        }
        if self.state == PUBLISHING:
            document["previous"] = self._relative(self.previous)
            document["staged"] = {path.removeprefix(self.scope): url for path, url in sorted(self.staged.items())}
        return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode("utf-8")

    def _relative(self, files: Mapping[str, FileEntry]) -> dict[str, Any]:
        return {path.removeprefix(self.scope): entry.to_json() for path, entry in sorted(files.items())}

    @classmethod
    def from_bytes(cls, data: bytes, version: str, url: str, prefix: str = "") -> Record:
        """Read a record of the scope ``prefix``; one written before records had a state (a SiteWise
        manifest, which names no scope) reads as committed."""
        try:
            document = json.loads(data)
            if document.get("format") != RECORD_FORMAT:
                raise ValueError(f"format {document.get('format')!r} is not {RECORD_FORMAT}")
            scope = str(document.get("scope", prefix))
            return cls(
                scope=scope,
                state=str(document.get("state", COMMITTED)),
                run=str(document.get("run", "")),
                who=dict(document.get("who") or {}),
                claimed_at=float(document.get("claimed_at") or 0),
                lease_until=float(document.get("lease_until") or 0),
                committed_at=float(document.get("committed_at") or 0),
                files={scope + name: FileEntry.from_json(entry) for name, entry in document["files"].items()},
                previous={scope + name: FileEntry.from_json(entry) for name, entry in (document.get("previous") or {}).items()},
                staged={scope + name: str(url) for name, url in (document.get("staged") or {}).items()},
                version=version,
                stored=data,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise RecordUnreadable(
                f"{url}: not a readable commit record ({error}); restore it from the bucket's versions, or delete it "
                "and rerun the scope (the rerun then replaces every file under the scope)"
            ) from error


@dataclass(frozen=True)
class Scope:
    """A scope of a table: its folder below the table (``""``: the whole table) and where its record is."""

    prefix: str
    record_url: str


def record_url(table_url: str, prefix: str) -> str:
    """Where the commit record of a scope of the table is: ``_commits/<folder>.json`` (``_table.json`` for ``""``)."""
    name = prefix.strip("/") or TABLE_RECORD
    return join(table_url, COMMITS, f"{name}.json")


def scope(table_url: str, prefix: str) -> Scope:
    return Scope(folder_of(prefix), record_url(table_url, prefix))


def read_record(storage: Storage, item: Scope) -> Record:
    """The scope's record; an empty one (version None) when it has none."""
    stored = storage.read_versioned(item.record_url)
    if stored is None:
        return Record(scope=item.prefix)
    return Record.from_bytes(stored.data, stored.version, item.record_url, item.prefix)


def rows_of(files: Mapping[str, FileEntry]) -> int | None:
    """The rows of the files, None when any of them was not counted."""
    counts = [entry.rows for entry in files.values()]
    return None if any(count is None for count in counts) else sum(count for count in counts if count is not None)


def folder_of(folder: str) -> str:
    """``a/b/`` for ``a/b``, ``/a/b/`` or ``a/b/``; ``""`` for the table itself."""
    folder = folder.strip("/")
    return folder + "/" if folder else ""
