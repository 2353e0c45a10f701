"""The commit records one run claims while it publishes (steps 2, 4 and 5 of ``job_helpers.publish``).

``job_helpers.publish`` is the protocol and its API (jobs import every name from there); this module
holds its claims: reading a scope's record, waiting for another run's live claim, taking over one
whose lease ran out (finishing a dead ADD run's publish), writing this run's claim from the version
read, renewing the lease while files move, committing, and releasing or abandoning the claims when
a step fails. The errors a claim raises and the lease are defined here, so both modules share them.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from job_helpers.backoff import Backoff, DeadlinePassed, Pending, poll
from job_helpers.commit_record import COMMITS, COMMITTED, PUBLISHING, FileEntry, Record, Scope, read_record
from job_helpers.storage import Storage, WriteConflict, join

log = logging.getLogger(__name__)

STAGING = "_staging"
OPEN = "_open"
REPLACE, ADD = "replace", "add"
CLAIM_CONFLICTS = 20  # conditional writes of one claim lost to other runs before a run gives up
WAIT_BACKOFF = Backoff(base=0.2, cap=15.0)

CountRows = Callable[[Storage, str], int]
"""How many rows the file at a URL holds (see ``job_helpers.file_rows``)."""


class PublishError(Exception):
    """A run's files cannot be published; the message says whether anything under the table changed."""


class ScopeBusy(PublishError):
    """Another run kept a scope claimed past the wait; this run changed nothing. The message names that run."""


class ClaimLost(PublishError):
    """Another run took this run's claim over while it published; that run repairs the scope."""


class Superseded(PublishError):
    """A file the run was to replace is no longer in its scope's record as the run read it; nothing changed."""


@dataclass(frozen=True)
class Lease:
    """How long a claim stays live without renewal, and how long a run waits for another's live claim (seconds)."""

    seconds: float = 300.0
    wait: float = 1800.0


LEASE = Lease()


_identity: dict[str, str] = {}


def identify(job: str, job_run: str | None) -> None:
    """Name the job and job run every claim of this process is made for (``runtime.start_job`` calls it)."""
    _identity.clear()
    _identity.update({"job": job, "job_run": job_run or ""})


def who() -> dict[str, Any]:
    return {**_identity, "host": socket.gethostname(), "pid": os.getpid()}


class Claims:
    """The records one run claims, at the versions it wrote, and what they held before."""

    def __init__(
        self,
        storage: Storage,
        root: str,
        run_id: str,
        lease: Lease,
        clock: Callable[[], float],
        settle: Callable[[Scope], object],
    ) -> None:
        """``settle`` finishes the publish of a run that died adding to a scope when this run adds nothing to it after
        all: a publish of none of this run's files takes the claim over, moves in what that run had staged and commits."""
        self.storage, self.root, self.run_id, self.lease, self.clock, self.settle = storage, root, run_id, lease, clock, settle
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
            adopting = taking_over and mode == ADD
            held, finishing, leftovers = self._held(item, current, adopting=adopting, count_rows=count_rows)
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
            kept = self._checked(
                {**held, **{path: entry for path, (entry, _) in finishing.items()}},
                item,
                current,
                replaced,
                check,
                adopting=adopting,
            )
            if mode == ADD:
                files = _added(self.root, kept, new)
            else:
                files = {**_kept(self.root, current, held, new, keep, ours), **new}
            moves = {**{path: url for path, (_, url) in finishing.items()}, **sources}
            mine = self._publishing(item, current, files, held, moves)
            try:
                version = self.storage.write_if(item.record_url, mine.to_bytes(), current.version)
            except WriteConflict:
                conflicts += 1
                _give_up_after(conflicts, item)
                continue
            self.renewed = mine.claimed_at
            self.held[item.prefix] = (item, replace(mine, version=version), current.stored)
            self.before[item.prefix] = held
            self.moves.update(moves)
            self.leftover |= {path for path in {*leftovers, *replaced} if path not in files}
            if taking_over:
                self.taken_over.add(current.run)
                self.repaired.append(item.prefix)
            return

    def _checked(
        self,
        held: dict[str, FileEntry],
        item: Scope,
        current: Record,
        replaced: Mapping[str, FileEntry],
        check: Callable[[Record], None] | None,
        *,
        adopting: bool,
    ) -> dict[str, FileEntry]:
        """What the scope keeps of ``held`` less ``replaced``, as ``check`` sees it. When either refuses this run's files
        while ``adopting`` a scope a dead ADD run left claimed, that run's publish is finished first (``settle``)."""
        try:
            kept = _without(self.root, held, replaced)
            if check is not None:
                check(replace(current, files=kept))
        except Exception:
            if adopting:
                self.settle(item)
            raise
        return kept

    def _held(
        self, item: Scope, current: Record, *, adopting: bool, count_rows: CountRows | None
    ) -> tuple[dict[str, FileEntry], dict[str, tuple[FileEntry, str]], set[str]]:
        """What the scope holds before this run (its files and entries), the files of a dead ADD run still to move in
        (see ``_adopt``), and the paths whose files may have to go: those listed when the scope has no record yet,
        those a dead run held or was bringing, else those committed."""
        if current.version is None:
            held = _listed(self.storage, self.root, item.prefix, count_rows)
            return held, {}, set(held)
        if adopting:
            return self._adopt(current)
        if current.state == PUBLISHING:
            return dict(current.previous), {}, {*current.files, *current.previous}
        return dict(current.files), {}, set(current.files)

    def _publishing(
        self, item: Scope, current: Record, files: dict[str, FileEntry], held: dict[str, FileEntry], moves: dict[str, str]
    ) -> Record:
        """This run's claim on ``item``: publishing ``files`` in place of ``held``, ``moves`` staged, under a fresh lease."""
        now = self.clock()
        return Record(
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


def _added(root: str, kept: Mapping[str, FileEntry], new: Mapping[str, FileEntry]) -> dict[str, FileEntry]:
    """What an ADD scope holds after the run: what it keeps, and the run's files, none of them over other content."""
    clashes = sorted(path for path in new if path in kept and kept[path] != new[path])
    if clashes:
        raise PublishError(f"{root}{clashes[0]}: already published with other content; nothing was changed")
    return {**kept, **new}


def _give_up_after(conflicts: int, item: Scope) -> None:
    """Raise ``ScopeBusy`` once other runs have won ``CLAIM_CONFLICTS`` conditional writes of one claim."""
    if conflicts >= CLAIM_CONFLICTS:
        raise ScopeBusy(
            f"{item.record_url}: changed {conflicts} times while this run tried to claim it; nothing was "
            "changed by this run. Rerun once the other runs of this scope have ended"
        ) from None


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


def _committed(record: Record) -> Record:
    """The record a released claim leaves where there was none: the scope's files as they were."""
    return replace(record, state=COMMITTED, run="", lease_until=0.0, files=record.previous, previous={}, staged={})


def _describe_who(who: Mapping[str, Any]) -> str:
    parts = [f"job {who['job']}" if who.get("job") else "", f"job run {who['job_run']}" if who.get("job_run") else ""]
    parts.append(f"host {who.get('host', '?')} pid {who.get('pid', '?')}")
    return ", ".join(part for part in parts if part)


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
