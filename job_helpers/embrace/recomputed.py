"""The device-days a run recomputed: whether what its tasks read of them still holds when it claims them,
and whether they are still its own when it publishes what derives from them.

A task reads a device-day's published rows, merges the new rows in and writes the day back. Two
runs doing that to one device-day at once (two chunks whose exports hold the same readings) would
each write a day without the other's rows. So a task returns what it saw of the device-day's two
files (``published.seen``: their entries in the day's commit records), and the run's claim of the
day (``publish(check=…)``) compares them with the records as they are then: a device-day another
run published since, or is publishing, or left half-replaced when it stopped, raises ``Changed``
naming it and that run, nothing is changed, and the run reads those device streams again and
recomputes them (``run``). A stopped run's other device-days are recomputed with them, so that the
claim takes over every day that run left and its staged files can go.

What derives from a device-day (batch-load files, duplicate-log and wear-time rows, load counts,
manifests) is published later, by another claim: by then a later run may have recomputed the
device-day over this one, and its rows are the ones to keep. ``owned`` tells which device-days
are still this run's, from the clean table's records.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from job_helpers.commit_record import COMMITS, PUBLISHING, Record, RecordUnreadable, Scope, read_record, scope
from job_helpers.embrace.outputs import HELD, day_folder, file_stem, held_folder
from job_helpers.embrace.published import DEV_ID, PPT_ID, RUN, DayRecords, DeviceDay, Seen, seen
from job_helpers.publish import OPEN, PublishError, open_claims
from job_helpers.storage import Storage, StorageError, join

DAY_SCOPE = re.compile(rf"(?:{HELD}/)?stream=(?P<stream>[^/]+)/date=(?P<day>[^/]+)/")


class Changed(PublishError):
    """Device-days another run published, is publishing or left half-replaced since this run's tasks read them."""

    def __init__(self, device_days: Iterable[DeviceDay], clean_url: str, record: Record) -> None:
        self.device_days = frozenset(device_days)
        self.clean_url = clean_url
        self.other, self.record = record.run, record
        first = min(self.device_days, key=lambda d: d.row())
        super().__init__(
            f"{clean_url}{day_folder(first.stream, first.day)}: {len(self.device_days)} device-day(s) (e.g. "
            f"{first.ppt_id}/{first.dev_id}) changed by run {record.run or '(none)'} ({_who(record)}) since this run "
            "read them"
        )

    def joined(self, other: Changed | None) -> Changed:
        """This and ``other``'s device-days, named after this one's run."""
        return self if other is None else Changed(self.device_days | other.device_days, self.clean_url, self.record)


@dataclass(frozen=True)
class Recomputed:
    """The device-days a run recomputed, by the path of each file they may have in the clean table.

    ``seen`` holds what the run's tasks saw of each path, ``produced`` the paths the run staged.
    """

    run_id: str
    clean_url: str
    device_day: Mapping[str, DeviceDay]
    seen: Mapping[str, Seen]
    produced: frozenset[str]

    @classmethod
    def of(
        cls, run_id: str, clean_url: str, seen_by_day: Mapping[DeviceDay, tuple[Seen, Seen]], produced: Iterable[str]
    ) -> Recomputed:
        device_day, seen_of = {}, {}
        for device_day_, pair in seen_by_day.items():
            for path, what in zip(paths_of(device_day_), pair):
                device_day[path], seen_of[path] = device_day_, what
        return cls(run_id, clean_url, device_day, seen_of, frozenset(produced))

    @property
    def device_days(self) -> set[DeviceDay]:
        return set(self.device_day.values())

    def scopes(self) -> list[str]:
        """The day folders and held folders of the device-days: the clean table's scopes the run claims."""
        return sorted({path.rsplit("/", 1)[0] + "/" for path in self.device_day})

    def left_scopes(self, storage: Storage) -> list[str]:
        """The other scopes of the clean table that runs which stopped while publishing days this run claims
        still hold (the export-partitioned folders they were clearing): this run takes them over with the
        days, so that nothing is left of those runs and their staged files can go."""
        claims = open_claims(storage, self.clean_url)
        mine, now = set(self.scopes()), time.time()
        stopped = {claim.run for claim in claims if claim.scope in mine and claim.run != self.run_id and claim.over(now)}
        return sorted({claim.scope for claim in claims if claim.run in stopped} - mine)

    def keeps(self, path: str) -> bool:
        """Whether a file of the clean table stays as it is: another device's file in a day folder the run claims."""
        return DAY_SCOPE.match(path) is not None and path not in self.device_day

    def check(self, storage: Storage) -> Callable[[Record], None]:
        """``publish``'s check of each day scope as the run claims it: raises ``Changed`` (nothing changed yet)."""

        def unchanged(record: Record) -> None:
            changed = self._changed(storage, record)
            if changed:
                raise Changed(changed, self.clean_url, record)

        return unchanged

    def stale(self, storage: Storage) -> Changed | None:
        """Before claiming: every device-day whose records already differ from what the tasks saw, at once."""
        changed: set[DeviceDay] = set()
        first: Record | None = None
        for prefix in self.scopes():
            record = read_record(storage, scope(self.clean_url, prefix))
            if record.version is None:
                continue  # a folder without a record: the claim lists it and compares
            found = self._changed(storage, record)
            if found and first is None:
                first = record
            changed |= found
        return Changed(changed, self.clean_url, first) if first is not None else None

    def _changed(self, storage: Storage, record: Record) -> set[DeviceDay]:
        """The device-days of the record's scope that differ from what the tasks saw; with a run that
        stopped while publishing the scope, every device-day it left that this run did not recompute."""
        paths = [path for path in self.device_day if path.startswith(record.scope)]
        changed = {self.device_day[path] for path in paths if seen(record, path, self.run_id) != self.seen[path]}
        if record.state == PUBLISHING and record.run != self.run_id and not record.live(time.time()):
            changed |= left_by(storage, self.clean_url, record) - self.device_days
        return changed

    def owned(self, storage: Storage, device_days: Iterable[DeviceDay] | None = None) -> set[DeviceDay]:
        """Which of the device-days (all the run recomputed by default) are still this run's in the clean
        table: their files are the ones it published (or none, where it published none)."""
        wanted = self.device_days if device_days is None else set(device_days)
        by_day: dict[tuple[str, str], list[DeviceDay]] = defaultdict(list)
        for device_day in wanted:
            by_day[(device_day.stream, device_day.day)].append(device_day)
        mine: set[DeviceDay] = set()
        for (stream, day), found in by_day.items():
            records = DayRecords.read(storage, self.clean_url, stream, day)
            for device_day in found:
                pairs = zip((records.clean, records.held), paths_of(device_day))
                if all(self._mine(record, path) for record, path in pairs):
                    mine.add(device_day)
        return mine

    def _mine(self, record: Record, path: str) -> bool:
        entry = record.files.get(path)
        if path in self.produced:
            return entry is not None and entry.extra.get(RUN) == self.run_id
        return entry is None


def paths_of(device_day: DeviceDay) -> tuple[str, str]:
    """The clean file and the held file of a device-day, below the clean table."""
    name = f"{file_stem(device_day.ppt_id, device_day.dev_id)}.parquet"
    return day_folder(device_day.stream, device_day.day) + name, held_folder(device_day.stream, device_day.day) + name


def left_by(storage: Storage, clean_url: str, record: Record) -> set[DeviceDay]:
    """The device-days a run that is publishing (or stopped publishing) was replacing: in every day
    scope its open-claims marker names that it still holds, or in ``record``'s scope alone without a
    marker (it then had moved nothing)."""
    marker = join(clean_url, COMMITS, OPEN, f"{record.run}.json")
    try:
        urls = json.loads(storage.read_bytes(marker)).get("records", [])
    except (StorageError, ValueError):
        urls = [scope(clean_url, record.scope).record_url]
    found: set[DeviceDay] = set()
    for url in urls:
        try:
            held = read_record(storage, Scope("", url))
        except RecordUnreadable:
            continue
        match = DAY_SCOPE.fullmatch(held.scope)
        if match is None or held.state != PUBLISHING or held.run != record.run:
            continue
        touched = [entry for entry in held.files.values() if entry.extra.get(RUN) == record.run]
        touched += [entry for path, entry in held.previous.items() if path not in held.files]
        for entry in touched:
            if PPT_ID in entry.extra and DEV_ID in entry.extra:
                found.add(DeviceDay(match["stream"], match["day"], str(entry.extra[PPT_ID]), str(entry.extra[DEV_ID])))
    return found


def _who(record: Record) -> str:
    who = record.who
    parts = [f"job run {who['job_run']}" if who.get("job_run") else "", f"host {who.get('host', '?')} pid {who.get('pid', '?')}"]
    return ", ".join(part for part in parts if part)
