"""The one publish protocol of every job: stage, claim each scope's commit record, put files in place, commit.

A table is published **scope** by scope: a partition folder the run decides wholly
(``reading_date=D/``, ``dt=D/hour=H/``, ``export=E/stream=S/``) or the whole table (``""``). Each
scope has a **commit record** (``job_helpers.commit_record``), a small JSON object at
``<table>/_commits/<scope>.json`` (``_commits/_table.json`` for the whole table; Spark and Athena
skip ``_`` folders), or where its caller keeps it (SiteWise: the day's ``manifest.json`` in its
index). The record holds the scope's state (``committed``, or ``publishing`` while a run
replaces it), the run, who (job, job run, host, pid) and when, and the files the scope holds with
their bytes and rows (paths relative to the scope's folder). It only ever
changes by ``Storage.write_if`` from the version its writer read (S3 ``If-None-Match``/``If-Match``,
a folder lock locally): of two runs that read one version, one writes and the other reads again.
A write without a commit record is what doubled tables; here no run moves a file into a scope
before its claim on that scope's record is written.

``publish`` runs these steps:

1. The tasks have written the run's files under ``<table>/_staging/<run id>/`` (nothing claimed;
   ``staging=`` names another folder, whose leftovers its caller then removes). With
   ``expected_rows``, the rows counted from those files must be what the run counted.
2. **Claim**, one scope at a time in sorted order: read the record; write it back as
   ``publishing`` by this run, with the files the scope will hold, the files it held
   (``previous``), where each file the run brings is staged (``staged``) and a lease
   (``Lease.seconds``). A scope another run is publishing under a lease
   still running is waited for (``Lease.wait``, then ``ScopeBusy`` naming that run); one whose lease
   ran out was left by a run that died, and this run takes it over: its own files replace whatever
   that run left. Sorted, one-at-a-time claims make overlapping runs (a whole table against a date
   range, two ranges) queue instead of deadlocking; runs of disjoint scopes never wait for each other.
3. **Shrink guard**: the rows the scopes held (from their records) against the rows the run
   brings; losing more than ``ShrinkGuard.max_loss`` (config.yml ``project.max_row_loss``,
   default 50 %) releases the claims and raises ``ShrinkRefused``, unless allowed
   (``--allow-shrink true``). A scope with no record yet (a table published before this protocol)
   has its old files' rows counted once with ``count_rows`` if the caller gives one, else its rows
   are unknown and left out of the comparison (logged).
4. **Put in place**: each staged file is moved to its name (a rename locally, a server-side copy
   on S3), the lease renewed as it goes; then every file the scopes held and no longer hold is deleted.
5. **Commit**: each record is written ``committed`` from the version this run wrote. A run whose
   claim was taken over meanwhile (it was too slow to renew its lease) gets ``ClaimLost``.

File names are the caller's and must be the same on every run of a scope (``part_name``), so a
file is replaced in place, atomically per object: a scope of one file (a STEDI partition, a sensor
hour) reads wholly old or wholly new during a publish and after a kill; a scope of many files reads
each file old or new, never a file twice.

**Modes.** ``mode=REPLACE`` (the default): the run's files are all a scope holds afterwards.
``mode=ADD`` keeps the files a scope holds and adds the run's (SiteWise: a day gains merged files;
``check`` refuses a claim from what the record holds, e.g. a raw key committed already). An ADD
publish may also **replace named files** of a scope: ``replacing={path: entry}`` names files
the scope holds, each with its entry as the run read it from the record (SiteWise's
``--repair-days``: a failing merged file, rebuilt under its name). The claim then holds the
record less those entries plus the run's files, so the move puts the new file over the old one
(a reader sees either, never both or neither) and the commit names it once; a replaced file whose
name the run does not bring again is deleted after the moves (the two then stand side by side
until the delete). If an entry is no longer in the record as read (another run replaced or
removed it first), the publish raises ``Superseded`` and changes nothing; ``check`` sees the
record less ``replacing``. Taking over an ADD scope from a dead run finishes that run's publish:
its files already moved in are kept, those whose staged copy is still there are moved in by this
run (a file replaced by name can only be told moved from not moved by its staged copy, which a
move removes last), and what it replaced without bringing again is deleted; if ``check`` or
``replacing`` then refuses this run's own files, the dead run's publish is still finished and
committed (a publish of none of this run's files) before the refusal is raised. A publish of no
files in ADD mode thus finishes what a dead run left in a scope and changes nothing else
(SiteWise runs one when a day it has nothing new for was left claimed). ``keep`` lets a
REPLACE run decide only part of a scope: the files it names stay as they are, with their entries
(Embrace: a day folder holds a file per device, and a run replaces the devices it recomputed);
a file a dead run was replacing may hold either run's bytes, so a taker must replace it, not keep it.

A run killed between claim and commit leaves its records ``publishing`` and an open-claims
marker ``<table>/_commits/_open/<run id>.json``: ``open_claims`` finds them, so ``status`` says the
scope is half-replaced, and the next run of the scope (once the lease ran out; at once if the
failing run lived to end its lease) takes it over and repairs it. Staging folders of runs
taken over are removed with them, any other after a week (longer than a Glue job may run; a run
still staging cannot be told from a dead one). A run that stalls longer than its lease between
renewing it and moving a file may still move that file over the taker's; its commit then fails
(``ClaimLost``) and the scope needs a rerun.

The API, for a job's ``write.py``: stage files under ``staging_url(table, run_id)``
(``new_run_id(scope)``), describe them as ``{path below the table: NewFile(staged path, rows)}``
(``same_names`` when staged under their published names, ``part_name`` for deterministic
names), then ``publish(storage, table, run_id, files, scopes, shrink_guard=…, count_rows=…,
expected_rows=…)`` (adding: ``mode=ADD, check=…, replacing=…``); it returns ``Published`` (rows
before and after, for ``RunReport.published``) and raises ``ShrinkRefused``, ``ScopeBusy``,
``ClaimLost``, ``CountsDoNotReconcile``, ``Superseded``; call
``discard_staging`` when done. ``open_claims(storage, table)`` lists what killed runs left.
``identify(job, job_run)`` (called by ``runtime.start_job``) names who claims.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from job_helpers.backoff import Backoff, DeadlinePassed, Pending, poll
from job_helpers.commit_record import (
    COMMITS,
    COMMITTED,
    PUBLISHING,
    FileEntry,
    Record,
    RecordUnreadable,
    Scope,
    folder_of,
    read_record,
    rows_of,
    scope,
)
from job_helpers.run_report import reconcile
from job_helpers.storage import Storage, WriteConflict, join

log = logging.getLogger(__name__)

STAGING = "_staging"
OPEN = "_open"
ABANDONED_AFTER_S = 7 * 86_400  # longer than any Glue job may run
REPLACE, ADD = "replace", "add"
CLAIM_CONFLICTS = 20  # conditional writes of one claim lost to other runs before a run gives up
WAIT_BACKOFF = Backoff(base=0.2, cap=15.0)

CountRows = Callable[[Storage, str], int]
"""How many rows the file at a URL holds (see ``job_helpers.file_rows``)."""


class PublishError(Exception):
    """A run's files cannot be published; the message says whether anything under the table changed."""


class ShrinkRefused(PublishError):
    """The run would lose more rows than allowed; nothing changed. The message names the table and the rows."""


class ScopeBusy(PublishError):
    """Another run kept a scope claimed past the wait; this run changed nothing. The message names that run."""


class ClaimLost(PublishError):
    """Another run took this run's claim over while it published; that run repairs the scope."""


class Superseded(PublishError):
    """A file the run was to replace is no longer in its scope's record as the run read it; nothing changed."""


@dataclass(frozen=True)
class ShrinkGuard:
    """Refuse a publish that loses more than ``max_loss`` of the rows its scopes held, unless ``allowed``."""

    allowed: bool = False
    max_loss: float = 0.5


@dataclass(frozen=True)
class Lease:
    """How long a claim stays live without renewal, and how long a run waits for another's live claim (seconds)."""

    seconds: float = 300.0
    wait: float = 1800.0


LEASE = Lease()


@dataclass(frozen=True)
class NewFile:
    """A file the run publishes: its path under the run's staging folder, its rows if known, and
    what else its scope's record keeps about it (SiteWise: the raw keys it holds)."""

    staged: str
    rows: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Published:
    """What one publish did to one table, for the run report and ``status``.

    ``rows_before`` counts only the scopes whose earlier rows are known (``rows_compared`` is what
    the run brought to those same scopes); ``repaired`` names the scopes taken over from dead runs.
    """

    table: str
    scopes: int
    files_before: int
    files_after: int
    rows_before: int | None
    rows_compared: int | None
    rows_after: int | None
    deleted: int
    repaired: tuple[str, ...] = ()

    @property
    def delta(self) -> int | None:
        if self.rows_before is None or self.rows_compared is None:
            return None
        return self.rows_compared - self.rows_before

    def summary(self) -> dict[str, Any]:
        """The run report's entry for this table."""
        return {
            "scopes": self.scopes,
            "files_before": self.files_before,
            "files_after": self.files_after,
            "rows_before": self.rows_before,
            "rows_after": self.rows_after,
            "row_delta": self.delta,
            "repaired": list(self.repaired),
        }

    def line(self) -> str:
        return f"{self.table}: {describe_delta(self.rows_before, self.rows_compared, self.rows_after)} in {self.scopes} scope(s)"


def describe_delta(before: int | None, compared: int | None, after: int | None) -> str:
    """``4,116 → 610 rows (-3,506, -85.2%)``; ``610 rows (no earlier count)`` when the rows before are unknown."""
    if before is None or compared is None:
        return f"{after:,} rows (no earlier count)" if after is not None else "rows not counted"
    change = compared - before
    share = f", {change / before:+.1%}" if before else ""
    return f"{before:,} → {compared:,} rows ({change:+,}{share})"


@dataclass(frozen=True)
class OpenClaim:
    """A scope a run claimed and has not committed: half-replaced once that run is over."""

    table: str
    scope: str
    record_url: str
    run: str
    who: Mapping[str, Any]
    claimed_at: float
    lease_until: float

    def over(self, now: float) -> bool:
        return self.lease_until <= now


_identity: dict[str, str] = {}


def identify(job: str, job_run: str | None) -> None:
    """Name the job and job run every claim of this process is made for (``runtime.start_job`` calls it)."""
    _identity.clear()
    _identity.update({"job": job, "job_run": job_run or ""})


def who() -> dict[str, Any]:
    return {**_identity, "host": socket.gethostname(), "pid": os.getpid()}


def new_run_id(scope: str) -> str:
    """``<scope>-<random>``: names the run's staging folder and its claims."""
    return f"{scope}-{uuid.uuid4().hex[:12]}"


def staging_url(table_url: str, run_id: str) -> str:
    return join(table_url, STAGING, run_id) + "/"


def part_name(sequence: int, suffix: str) -> str:
    """``part-00000.snappy.parquet``: the same name on every run of a scope, so a rerun replaces it."""
    return f"part-{sequence:05d}{suffix}"


def same_names(staged: Mapping[str, Iterable[str]], rows: Mapping[str, int] | None = None) -> dict[str, NewFile]:
    """Files staged under the names they are published as: ``{folder: names}`` → ``{path: NewFile}``."""
    rows = rows or {}
    return {
        folder_of(folder) + name: NewFile(folder_of(folder) + name, rows.get(folder_of(folder) + name))
        for folder, names in staged.items()
        for name in names
    }


def publish(
    storage: Storage,
    table_url: str,
    run_id: str,
    files: Mapping[str, NewFile],
    scopes: Iterable[str | Scope],
    *,
    shrink_guard: ShrinkGuard | None = None,
    count_rows: CountRows | None = None,
    mode: str = REPLACE,
    check: Callable[[Record], None] | None = None,
    replacing: Mapping[str, FileEntry] | None = None,
    expected_rows: int | None = None,
    staging: str | None = None,
    lease: Lease | None = None,
    clock: Callable[[], float] = time.time,
    keep: Callable[[str], bool] | None = None,
) -> Published:
    """Publish ``files`` (path below the table → staged file) as the new content of ``scopes``.

    ``scopes`` are folders below the table (``""``: the whole table) or ``Scope``s with their own
    record URL; every file must lie in one of them. ``mode=ADD`` keeps what the scopes hold, but
    for ``replacing`` (path below the table → its entry as the run read it from the record): those
    are replaced by the run's files, or deleted if the run brings none of their names, and the
    publish stops with ``Superseded`` (nothing changed) if one is no longer in the record as read.
    ``keep`` (path below the table → True) names the files of them a REPLACE run leaves as they are.
    ``check`` sees each scope's record, less ``replacing``, before it is claimed and may raise to
    stop the publish (nothing changed). ``expected_rows``: the rows the run counted into these files; the rows
    counted from the staged files must match (``run_report.CountsDoNotReconcile`` otherwise,
    before anything changes). ``staging``: where the files are staged, when not in the run's own
    staging folder (the caller then removes what runs leave there). See the module docstring for
    the steps and what each failure leaves.
    """
    lease = lease or LEASE
    root = table_url.rstrip("/") + "/"
    wanted = sorted({item if isinstance(item, Scope) else scope(root, item) for item in scopes}, key=lambda s: s.prefix)
    replacing = replacing or {}
    if replacing and mode != ADD:
        raise PublishError(f"{root}: files are replaced by name only when adding (mode=ADD); nothing was changed")
    _check_disjoint(root, wanted)
    by_scope = _assign(root, files, wanted, "staged file(s)")
    replaced_by_scope = _assign(root, replacing, wanted, "file(s) to replace")
    own_staging = staging is None
    staging = staging_url(root, run_id) if staging is None else staging
    entries = _staged_entries(storage, staging, files, count_rows)
    if expected_rows is not None:
        reconcile(root, expected_rows, sum(entry.rows or 0 for entry in entries.values()))
    claims = _Claims(storage, root, run_id, staging, lease, clock)
    try:
        for item in wanted:
            claims.claim(
                item,
                {path: entries[path] for path in by_scope[item.prefix]},
                {path: staging + files[path].staged for path in by_scope[item.prefix]},
                {path: replacing[path] for path in replaced_by_scope[item.prefix]},
                mode,
                check,
                count_rows,
                keep,
            )
        result = claims.result()
        if shrink_guard is not None and mode == REPLACE:
            _check_shrink(shrink_guard, root, result, sorted(claims.held))
    except BaseException:
        claims.release()
        raise
    try:
        claims.open_marker(wanted)
        for path, source in sorted(claims.moves.items()):
            claims.keep_alive()
            storage.move(source, root + path)
        stale = claims.leftovers()
        claims.keep_alive()
        storage.delete_many(root + path for path in stale)
        if stale:
            log.info("removed %d file(s) no longer produced under %s", len(stale), root)
        claims.commit()
    except BaseException:
        claims.abandon()
        raise
    claims.close_marker()
    if own_staging:
        remove_abandoned_staging(storage, root, run_id, claims.taken_over)
    remove_finished_markers(storage, root)
    published = replace(result, deleted=len(stale))
    log.info("published %s", published.line())
    return published


class _Claims:
    """The records one run claims, at the versions it wrote, and what they held before."""

    def __init__(self, storage: Storage, root: str, run_id: str, staging: str, lease: Lease, clock: Callable[[], float]) -> None:
        self.storage, self.root, self.run_id, self.staging, self.lease, self.clock = storage, root, run_id, staging, lease, clock
        self.held: dict[str, tuple[Scope, Record, bytes | None]] = {}  # prefix -> (scope, my record, what I replaced)
        self.moves: dict[str, str] = {}  # path -> the staged file moved there: this run's, and those of runs taken over
        self.leftover: set[str] = set()
        self.taken_over: set[str] = set()
        self.repaired: list[str] = []
        self.before: dict[str, Mapping[str, FileEntry]] = {}
        self.renewed = 0.0
        self.marker = join(root, COMMITS, OPEN, f"{run_id}.json")

    def open_marker(self, scopes: list[Scope]) -> None:
        marker = {"run": self.run_id, "who": who(), "since": self.clock(), "records": [s.record_url for s in scopes]}
        self.storage.write_text(self.marker, json.dumps(marker, indent=1, sort_keys=True) + "\n")

    def close_marker(self) -> None:
        self.storage.delete(self.marker)

    def claim(
        self,
        item: Scope,
        new: Mapping[str, FileEntry],
        sources: Mapping[str, str],
        replaced: Mapping[str, FileEntry],
        mode: str,
        check: Callable[[Record], None] | None,
        count_rows: CountRows | None,
        keep: Callable[[str], bool] | None = None,
    ) -> None:
        """Claim ``item`` for ``new`` (staged at ``sources``), replacing ``replaced`` (each as read)."""
        conflicts = 0
        while True:
            current = self._wait_until_free(item)
            ours = current.state == PUBLISHING and current.run == self.run_id  # a claim whose answer was lost
            taking_over = current.state == PUBLISHING and not ours
            finishing: dict[str, tuple[FileEntry, str]] = {}
            if current.version is None:
                held = _listed(self.storage, self.root, item.prefix, count_rows)
                leftovers = set(held)
            elif taking_over and mode == ADD:
                held, finishing, leftovers = self._adopt(current)
            elif current.state == PUBLISHING:
                held, leftovers = dict(current.previous), {*current.files, *current.previous}
            else:
                held, leftovers = dict(current.files), set(current.files)
            if taking_over:
                log.warning(
                    "%s%s: taking over from run %s (%s), which claimed it at %s and did not commit; this run repairs it",
                    self.root,
                    item.prefix,
                    current.run,
                    _describe_who(current.who),
                    _when(current.claimed_at),
                )
            finishing = {path: staged for path, staged in finishing.items() if path not in new}
            try:
                kept = _without(self.root, {**held, **{path: entry for path, (entry, _) in finishing.items()}}, replaced)
                if check is not None:
                    check(replace(current, files=kept))
            except Exception:
                if taking_over and mode == ADD:
                    self._settle(item)
                raise
            if mode == ADD:
                clashes = sorted(path for path in new if path in kept and kept[path] != new[path])
                if clashes:
                    raise PublishError(f"{self.root}{clashes[0]}: already published with other content; nothing was changed")
                files: dict[str, FileEntry] = {**kept, **new}
            else:
                files = {**_kept(self.root, current, held, new, keep, ours), **new}
            moves = {**{path: url for path, (_, url) in finishing.items()}, **sources}
            now = self.clock()
            mine = Record(
                scope=item.prefix,
                state=PUBLISHING,
                run=self.run_id,
                who=who(),
                claimed_at=now,
                lease_until=now + self.lease.seconds,
                committed_at=current.committed_at,
                files=files,
                previous=held,
                staged=moves,
            )
            try:
                version = self.storage.write_if(item.record_url, mine.to_bytes(), current.version)
            except WriteConflict:
                conflicts += 1
                if conflicts >= CLAIM_CONFLICTS:
                    raise ScopeBusy(
                        f"{item.record_url}: changed {conflicts} times while this run tried to claim it; nothing was "
                        "changed by this run. Rerun once the other runs of this scope have ended"
                    ) from None
                continue
            self.renewed = now
            replaced_record = current.stored
            self.held[item.prefix] = (item, replace(mine, version=version), replaced_record)
            self.before[item.prefix] = held
            self.moves.update(moves)
            self.leftover |= {path for path in {*leftovers, *replaced} if path not in files}
            if taking_over:
                self.taken_over.add(current.run)
                self.repaired.append(item.prefix)
            return

    def _adopt(self, dead: Record) -> tuple[dict[str, FileEntry], dict[str, tuple[FileEntry, str]], set[str]]:
        """Finish the publish of a run that died adding to a scope: what the scope holds of its
        files (moved in, or kept from before), the files whose staged copy is still there (this run
        moves them in: a file replaced by name cannot be told old or new otherwise), and the paths to
        delete (files it replaced without bringing their names again; files lost with their staging)."""
        held = {path: entry for path, entry in dead.previous.items() if dead.files.get(path) == entry}
        finishing: dict[str, tuple[FileEntry, str]] = {}
        lost: set[str] = set()
        placed = 0
        for path, entry in dead.files.items():
            if path in held:
                continue
            staged = dead.staged.get(path)
            if staged is not None and self.storage.exists(staged):
                finishing[path] = (entry, staged)
            elif path in dead.previous or self.storage.exists(self.root + path):
                held[path], placed = entry, placed + 1  # moved in: its staged copy is gone
            else:
                lost.add(path)
        log.info(
            "%s%s: finishing the publish of run %s: %d file(s) it had put in place, %d still to move in, %d lost",
            self.root,
            dead.scope,
            dead.run,
            placed,
            len(finishing),
            len(lost),
        )
        return held, finishing, lost | (set(dead.previous) - set(dead.files))

    def _settle(self, item: Scope) -> None:
        """Finish the publish of a run that died adding to ``item`` when this run adds nothing to it
        after all: a publish of none of this run's files takes the claim over, moves in what that run
        had staged and commits."""
        publish(
            self.storage, self.root, self.run_id, {}, [item], mode=ADD, staging=self.staging, lease=self.lease, clock=self.clock
        )

    def _wait_until_free(self, item: Scope) -> Record:
        """The record once no other run holds a live claim on it."""
        first = read_record(self.storage, item)
        if not (first.run != self.run_id and first.live(self.clock())):
            return first
        log.info(
            "%s%s: run %s (%s) is publishing it (lease until %s); waiting for it",
            self.root,
            item.prefix,
            first.run,
            _describe_who(first.who),
            _when(first.lease_until),
        )

        def free() -> Record | Pending:
            record = read_record(self.storage, item)
            return Pending() if record.run != self.run_id and record.live(self.clock()) else record

        try:
            return poll(free, WAIT_BACKOFF, deadline=time.monotonic() + self.lease.wait)
        except DeadlinePassed:
            busy = read_record(self.storage, item)
            raise ScopeBusy(
                f"{self.root}{item.prefix}: run {busy.run} ({_describe_who(busy.who)}) has been publishing it since "
                f"{_when(busy.claimed_at)} and still holds it after this run waited {self.lease.wait:.0f} s; this run "
                "published nothing. Rerun once that run has ended"
            ) from None

    def result(self) -> Published:
        known = [prefix for prefix, held in self.before.items() if rows_of(held) is not None]
        unknown = sorted(set(self.before) - set(known))
        if unknown:
            log.info(
                "%s: no earlier row count for %d scope(s) (e.g. %r); their rows are not compared",
                self.root,
                len(unknown),
                unknown[0],
            )
        after = [self.held[prefix][1].files for prefix in self.held]
        return Published(
            table=self.root,
            scopes=len(self.held),
            files_before=sum(len(held) for held in self.before.values()),
            files_after=sum(len(f) for f in after),
            rows_before=sum(rows_of(self.before[prefix]) or 0 for prefix in known) if known else None,
            rows_compared=_sum_rows(self.held[prefix][1].files for prefix in known) if known else None,
            rows_after=_sum_rows(after),
            deleted=0,
            repaired=tuple(self.repaired),
        )

    def leftovers(self) -> list[str]:
        wanted = {path for _, record, _ in self.held.values() for path in record.files}
        return sorted(self.leftover - wanted)

    def keep_alive(self) -> None:
        """Renew the lease of every claim once a third of it has passed."""
        now = self.clock()
        if now - self.renewed < self.lease.seconds / 3:
            return
        for prefix, (item, record, replaced) in list(self.held.items()):
            renewed = replace(record, lease_until=now + self.lease.seconds)
            self.held[prefix] = (item, self._rewrite(item, record, renewed), replaced)
        self.renewed = now

    def commit(self) -> None:
        now = self.clock()
        for prefix, (item, record, replaced) in list(self.held.items()):
            done = replace(record, state=COMMITTED, lease_until=0.0, committed_at=now, previous={}, staged={})
            self.held[prefix] = (item, self._rewrite(item, record, done), replaced)

    def _rewrite(self, item: Scope, record: Record, new: Record) -> Record:
        try:
            return replace(new, version=self.storage.write_if(item.record_url, new.to_bytes(), record.version))
        except WriteConflict:
            other = read_record(self.storage, item)
            raise ClaimLost(
                f"{self.root}{item.prefix}: run {other.run} ({_describe_who(other.who)}) took this run's claim over "
                f"(its lease ran out at {_when(record.lease_until)}); that run replaces the scope, this one published "
                "nothing there"
            ) from None

    def release(self) -> None:
        """Put back the records this run claimed as they were (nothing was moved yet); best effort."""
        for item, record, replaced in self.held.values():
            try:
                self.storage.write_if(item.record_url, replaced or _committed(record).to_bytes(), record.version)
            except Exception as error:  # the failure being raised matters more
                log.warning("%s: could not release this run's claim (%s); the next run takes it over", item.record_url, error)
        self.held.clear()

    def abandon(self) -> None:
        """End the lease of claims that will not be committed, so the next run repairs them at once; best effort."""
        for item, record, _ in self.held.values():
            if record.state != PUBLISHING:
                continue
            try:
                self.storage.write_if(item.record_url, replace(record, lease_until=0.0).to_bytes(), record.version)
            except Exception as error:
                log.warning(
                    "%s: could not end this run's lease (%s); the next run waits for it to run out", item.record_url, error
                )
        left = sum(record.state == PUBLISHING for _, record, _ in self.held.values())
        log.error("%s: publish stopped part way; %d scope(s) are half-replaced until the next run of them", self.root, left)


def open_claims(storage: Storage, table_url: str) -> list[OpenClaim]:
    """The scopes of a table that runs claimed and did not commit (each still ``publishing`` by that run)."""
    root = table_url.rstrip("/") + "/"
    found: list[OpenClaim] = []
    for stored in storage.list(join(root, COMMITS, OPEN) + "/"):
        try:
            marker = json.loads(storage.read_bytes(stored.url))
        except Exception:  # a marker deleted meanwhile, or half-written: nothing open there
            continue
        for url in marker.get("records", []):
            item = Scope("", url)
            try:
                record = read_record(storage, item)
            except RecordUnreadable as error:
                log.warning("%s", error)
                continue
            if record.state == PUBLISHING and record.run == marker.get("run"):
                found.append(OpenClaim(root, record.scope, url, record.run, record.who, record.claimed_at, record.lease_until))
    return found


def remove_abandoned_staging(storage: Storage, table_url: str, run_id: str, dead_runs: Iterable[str] = ()) -> None:
    """Remove the staging folders of runs known dead (their claims were taken over) and any older than a week.

    A staging folder of another scope's run, or of a run still staging, is never touched: runs of
    one scope may overlap, and only a claim says a run is over.
    """
    dead = set(dead_runs)
    base = join(table_url, STAGING) + "/"
    newest: dict[str, float] = {}
    for stored in storage.list(base):
        other = stored.url[len(base) :].split("/", 1)[0]
        newest[other] = max(newest.get(other, 0.0), stored.modified)
    now = time.time()
    for other, modified in sorted(newest.items()):
        if other != run_id and (other in dead or now - modified > ABANDONED_AFTER_S):
            count = storage.delete_prefix(base + other + "/")
            log.info("removed %d file(s) left in %s%s/ by a run that did not finish", count, base, other)


def remove_finished_markers(storage: Storage, table_url: str) -> None:
    """Remove the open-claims markers none of whose records is still claimed by their run.

    A marker is written once its run holds every claim, so such a marker is left by a run that
    was killed after committing, or whose claims another run took over.
    """
    open_runs = {claim.run for claim in open_claims(storage, table_url)}
    for stored in storage.list(join(table_url, COMMITS, OPEN) + "/"):
        run = stored.url.rsplit("/", 1)[-1].removesuffix(".json")
        if run not in open_runs:
            storage.delete(stored.url)


def discard_staging(storage: Storage, table_url: str, run_id: str) -> None:
    """Delete what is left of a run's staging folder (files of inputs that failed, or of a failed run)."""
    storage.delete_prefix(staging_url(table_url, run_id))


def _check_disjoint(root: str, scopes: list[Scope]) -> None:
    for first, second in zip(scopes, scopes[1:]):
        if second.prefix.startswith(first.prefix):
            raise PublishError(f"{root}: scopes {first.prefix!r} and {second.prefix!r} overlap; nothing was changed")


def _assign(root: str, paths: Iterable[str], scopes: list[Scope], what: str) -> dict[str, list[str]]:
    """Each path's scope (the one folder it lies in)."""
    by_scope: dict[str, list[str]] = {item.prefix: [] for item in scopes}
    outside = []
    for path in sorted(paths):
        owner = next((item.prefix for item in scopes if path.startswith(item.prefix)), None)
        if owner is None or path.startswith(STAGING + "/") or path.startswith(COMMITS + "/"):
            outside.append(path)
        else:
            by_scope[owner].append(path)
    if outside:
        raise PublishError(f"{root}: {what} outside the partitions the run owns, e.g. {outside[0]}; nothing was changed")
    return by_scope


def _staged_entries(
    storage: Storage, staging: str, files: Mapping[str, NewFile], count_rows: CountRows | None
) -> dict[str, FileEntry]:
    sizes = {stored.url[len(staging) :]: stored.size for stored in storage.list(staging)}
    missing = sorted(path for path, new in files.items() if new.staged not in sizes)
    if missing:
        raise PublishError(
            f"{staging}{files[missing[0]].staged}: staged file missing ({len(missing)} in all); nothing was changed"
        )
    entries = {}
    for path, new in files.items():
        rows = new.rows
        if rows is None and count_rows is not None:
            rows = count_rows(storage, staging + new.staged)
        entries[path] = FileEntry(sizes[new.staged], rows, dict(new.extra))
    return entries


def _listed(storage: Storage, root: str, prefix: str, count_rows: CountRows | None) -> dict[str, FileEntry]:
    """What a scope without a record holds: its files, counted with ``count_rows`` when given."""
    found: dict[str, FileEntry] = {}
    for stored in storage.list(root + prefix):
        path = stored.url[len(root) :]
        if path.startswith((STAGING + "/", COMMITS + "/")):
            continue
        rows = count_rows(storage, stored.url) if count_rows is not None else None
        found[path] = FileEntry(stored.size, rows)
    return found


def _without(root: str, held: Mapping[str, FileEntry], replaced: Mapping[str, FileEntry]) -> dict[str, FileEntry]:
    """What a scope keeps of ``held`` once the files ``replaced`` (each as the run read it) are taken out."""
    changed = sorted(path for path, entry in replaced.items() if held.get(path) != entry)
    if changed:
        raise Superseded(
            f"{root}{changed[0]}: no longer in its scope's record as this run read it (another run replaced or removed "
            "it meanwhile); nothing was changed"
        )
    return {path: entry for path, entry in held.items() if path not in replaced}


def _kept(
    root: str,
    current: Record,
    held: Mapping[str, FileEntry],
    new: Mapping[str, FileEntry],
    keep: Callable[[str], bool] | None,
    ours: bool,
) -> dict[str, FileEntry]:
    """The files of ``held`` a REPLACE run keeps (``keep``); none of them may be one a dead run was replacing."""
    if keep is None:
        return {}
    kept = {path: entry for path, entry in held.items() if path not in new and keep(path)}
    if current.state == PUBLISHING and not ours:
        unsure = sorted(path for path, entry in kept.items() if current.files.get(path) != entry)
        if unsure:
            raise PublishError(
                f"{root}{unsure[0]}: run {current.run} was replacing it when it stopped, so it may hold that run's "
                f"bytes or the earlier ones; this run must replace it rather than keep it ({len(unsure)} such file(s)); "
                "nothing was changed"
            )
    return kept


def _sum_rows(groups: Iterable[Mapping[str, FileEntry]]) -> int | None:
    total = 0
    for files in groups:
        rows = rows_of(files)
        if rows is None:
            return None
        total += rows
    return total


def _committed(record: Record) -> Record:
    """The record a released claim leaves where there was none: the scope's files as they were."""
    return replace(record, state=COMMITTED, run="", lease_until=0.0, files=record.previous, previous={}, staged={})


def _check_shrink(guard: ShrinkGuard, root: str, result: Published, prefixes: list[str]) -> None:
    before, after = result.rows_before, result.rows_compared
    if not before or after is None or after >= (1 - guard.max_loss) * before:
        return
    named = ", ".join(prefix or "the whole table" for prefix in prefixes[:3]) + (", …" if len(prefixes) > 3 else "")
    message = (
        f"{root}: this run would replace {before:,} rows with {after:,} ({after - before:+,}, "
        f"{(after - before) / before:+.1%}) in {result.scopes} scope(s) ({named}), losing more than "
        f"{guard.max_loss:.0%} (project.max_row_loss)"
    )
    if guard.allowed:
        log.warning("%s; publishing anyway (--allow-shrink true)", message)
        return
    raise ShrinkRefused(
        f"{message}; nothing was changed. If the input really shrank (e.g. landing data deleted on purpose), "
        "rerun with --allow-shrink true"
    )


def _describe_who(who: Mapping[str, Any]) -> str:
    parts = [f"job {who['job']}" if who.get("job") else "", f"job run {who['job_run']}" if who.get("job_run") else ""]
    parts.append(f"host {who.get('host', '?')} pid {who.get('pid', '?')}")
    return ", ".join(part for part in parts if part)


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
