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
Import every name from here; the claims themselves (step 2, the lease, the commit) are
``job_helpers.scope_claims``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from job_helpers.commit_record import (
    COMMITS,
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
from job_helpers.scope_claims import (
    ADD,
    LEASE,
    OPEN,
    REPLACE,
    STAGING,
    ClaimLost,
    Claims,
    CountRows,
    Lease,
    PublishError,
    ScopeBusy,
    Superseded,
    identify,
)
from job_helpers.storage import Storage, join

__all__ = [
    "ADD",
    "OPEN",
    "REPLACE",
    "ClaimLost",
    "Lease",
    "NewFile",
    "OpenClaim",
    "PublishError",
    "Published",
    "ScopeBusy",
    "ShrinkGuard",
    "ShrinkRefused",
    "Superseded",
    "describe_delta",
    "discard_staging",
    "identify",
    "new_run_id",
    "open_claims",
    "part_name",
    "publish",
    "remove_abandoned_staging",
    "remove_finished_markers",
    "same_names",
    "staging_url",
]
"""Every name a job, the control plane or a test imports: all from here, whichever module defines it."""

log = logging.getLogger(__name__)

ABANDONED_AFTER_S = 7 * 86_400  # longer than any Glue job may run


class ShrinkRefused(PublishError):
    """The run would lose more rows than allowed; nothing changed. The message names the table and the rows."""


@dataclass(frozen=True)
class ShrinkGuard:
    """Refuse a publish that loses more than ``max_loss`` of the rows its scopes held, unless ``allowed``."""

    allowed: bool = False
    max_loss: float = 0.5


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
    replacing = replacing or {}
    wanted = _wanted_scopes(root, scopes, replacing, mode)
    by_scope = _assign(root, files, wanted, "staged file(s)")
    replaced_by_scope = _assign(root, replacing, wanted, "file(s) to replace")
    own_staging = staging is None
    staging = staging_url(root, run_id) if staging is None else staging
    entries = _staged_entries(storage, staging, files, count_rows)
    if expected_rows is not None:
        reconcile(root, expected_rows, sum(entry.rows or 0 for entry in entries.values()))
    claims = Claims(
        storage,
        root,
        run_id,
        lease,
        clock,
        settle=lambda item: publish(storage, root, run_id, {}, [item], mode=ADD, staging=staging, lease=lease, clock=clock),
    )
    try:
        for item in wanted:
            new = by_scope[item.prefix]
            sources = {path: staging + files[path].staged for path in new}
            replaced = {path: replacing[path] for path in replaced_by_scope[item.prefix]}
            claims.claim(item, {path: entries[path] for path in new}, sources, replaced, mode, check, count_rows, keep)
        result = _published(claims)
        if shrink_guard is not None and mode == REPLACE:
            _check_shrink(shrink_guard, root, result, sorted(claims.held))
    except BaseException:
        claims.release()
        raise
    deleted = _put_in_place(storage, root, claims, wanted)
    if own_staging:
        remove_abandoned_staging(storage, root, run_id, claims.taken_over)
    remove_finished_markers(storage, root)
    published = replace(result, deleted=deleted)
    log.info("published %s", published.line())
    return published


def _put_in_place(storage: Storage, root: str, claims: Claims, wanted: list[Scope]) -> int:
    """Steps 4 and 5 under the open-claims marker: move the staged files to their names, delete what the scopes
    no longer hold, commit; returns the files deleted. A failure ends the claims' leases so the next run repairs them."""
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
    return len(stale)


def _published(claims: Claims) -> Published:
    """What the claims held before and hold now (step 3 compares them), before anything is moved."""
    known = [prefix for prefix, held in claims.before.items() if rows_of(held) is not None]
    unknown = sorted(set(claims.before) - set(known))
    if unknown:
        log.info(
            "%s: no earlier row count for %d scope(s) (e.g. %r); their rows are not compared",
            claims.root,
            len(unknown),
            unknown[0],
        )
    after = [claims.held[prefix][1].files for prefix in claims.held]
    return Published(
        table=claims.root,
        scopes=len(claims.held),
        files_before=sum(len(held) for held in claims.before.values()),
        files_after=sum(len(f) for f in after),
        rows_before=sum(rows_of(claims.before[prefix]) or 0 for prefix in known) if known else None,
        rows_compared=_sum_rows(claims.held[prefix][1].files for prefix in known) if known else None,
        rows_after=_sum_rows(after),
        deleted=0,
        repaired=tuple(claims.repaired),
    )


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


def has_published(storage: Storage, table_url: str) -> bool:
    """Whether a run has published at ``table_url``: a scope's commit record was committed once, or a data
    file of a table published before commit records is there.

    What a run leaves before it publishes (its staging folder, an open-claims marker, a claim released
    or left `publishing` by a first run that failed, the files that run moved in before it was killed)
    is no table: a job reading an upstream table whose first run failed must not read it as an empty
    or a partial one.
    """
    root = table_url.rstrip("/") + "/"
    data: list[str] = []
    moved_in: set[str] = set()
    for stored in storage.list(root):
        path = stored.url[len(root) :]
        if path.startswith((f"{STAGING}/", f"{COMMITS}/{OPEN}/")):
            continue
        if path.startswith(f"{COMMITS}/"):
            record = _stored_record(storage, stored.url)
            if record.committed_at > 0 or (record.previous if record.state == PUBLISHING else record.files):
                return True
            moved_in.update(record.files)
        elif not any(part.startswith(("_", ".")) for part in path.split("/")):
            data.append(path)
    return any(path not in moved_in for path in data)


def _stored_record(storage: Storage, url: str) -> Record:
    """A record as stored; one never committed held files of a table from before commit records if it
    replaces some (``previous``) or, released, holds some."""
    stored = storage.read_versioned(url)
    return Record(scope="") if stored is None else Record.from_bytes(stored.data, stored.version, url)


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


def _wanted_scopes(root: str, scopes: Iterable[str | Scope], replacing: Mapping[str, FileEntry], mode: str) -> list[Scope]:
    """The scopes in the order they are claimed (sorted, so overlapping runs queue rather than deadlock), checked
    to be disjoint; replacing by name is refused outside ADD."""
    wanted = sorted({item if isinstance(item, Scope) else scope(root, item) for item in scopes}, key=lambda s: s.prefix)
    if replacing and mode != ADD:
        raise PublishError(f"{root}: files are replaced by name only when adding (mode=ADD); nothing was changed")
    _check_disjoint(root, wanted)
    return wanted


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


def _sum_rows(groups: Iterable[Mapping[str, FileEntry]]) -> int | None:
    total = 0
    for files in groups:
        rows = rows_of(files)
        if rows is None:
            return None
        total += rows
    return total


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
