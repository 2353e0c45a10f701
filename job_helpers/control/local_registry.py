"""The local profile's stand-in for the Glue service: jobs, tags, runs and the run queue in SQLite.

The database lives under the lake root and is shared by the CLI and every local runner process.
WAL mode lets readers go on while one writer commits; every change that must not interleave
with another (claiming a run slot, starting runners) is one ``BEGIN IMMEDIATE`` transaction.

A run is WAITING until a runner claims it, which happens only while fewer than its
``max_parallel`` runs are RUNNING. The runner's pid is recorded with the claim, and the job
process's pid and start time once it is started. A job with a run WAITING or RUNNING is never
deleted.

A run's end is never guessed. The runner records it, retrying while the database is busy, and
when it cannot it leaves the end in a journal file (``ends/<run id>.json`` beside the database)
that the next reader applies. A run whose runner died stays RUNNING while its job process lives
(nobody can record its end, but it still works and holds its slot); once that process is gone
too, the job's own run report decides SUCCEEDED or FAILED, and only a run that left no report
ends ERROR. Jobs are kept in the order they were created (the table's rowid), which is how the
latest batch is found: the clock that named a batch may have been wrong.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from job_helpers.backoff import Backoff, retry
from job_helpers.control.runs import ENDED_STATES, ERROR, FAILED, RUNNING, SUCCEEDED, WAITING, JobActive, RunStatus
from job_helpers.processes import process_alive
from job_helpers.run_report import RUN_REPORTS_ARGUMENT, RunReport, read_report, report_url
from job_helpers.storage import Storage

log = logging.getLogger(__name__)

REGISTRY_FILE = Path("_registry") / "glue.sqlite"
# Runs with their job's definition, which holds the worker type, workers and execution class.
SELECT_RUNS = "SELECT runs.*, jobs.definition AS definition FROM runs LEFT JOIN jobs ON jobs.name = runs.job_name"
BUSY_TIMEOUT_SECONDS = 30
# A runner records a run's end this many times (each waiting up to the busy timeout) before it journals it.
END_ATTEMPTS = 5
END_BACKOFF = Backoff(base=1.0, cap=30.0)
ENDS_FOLDER = "ends"

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY,
    created_on TEXT NOT NULL,
    definition TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (
    job_name TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (job_name, key)
);
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL UNIQUE,
    job_name TEXT NOT NULL,
    arguments TEXT NOT NULL,
    state TEXT NOT NULL,
    max_parallel INTEGER NOT NULL,
    created_on TEXT NOT NULL,
    started_on TEXT,
    completed_on TEXT,
    runner_pid INTEGER,
    job_pid INTEGER,
    job_started INTEGER,
    exit_code INTEGER,
    error TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_state ON runs (state, seq);
CREATE INDEX IF NOT EXISTS runs_by_job ON runs (job_name, seq);
CREATE TABLE IF NOT EXISTS runners (
    pid INTEGER PRIMARY KEY,
    started_on TEXT NOT NULL
);
"""


class RegistryError(Exception):
    """The local registry refused a change; the message says what to do."""


def registry_path(lake_root: Path) -> Path:
    return lake_root / REGISTRY_FILE


def registry_busy(error: Exception) -> bool:
    """SQLite's answer while another connection holds the write lock past the busy timeout."""
    return isinstance(error, sqlite3.OperationalError) and ("locked" in str(error) or "busy" in str(error))


# /proc start times are in clock ticks and the recorded times come from another clock read.
PID_CLOCK_SLACK_SECONDS = 2.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def pid_alive(pid: int, since: datetime) -> bool:
    """Whether the process recorded at ``since`` still runs: it exists, is not a zombie, and did
    not start after ``since`` (which would make it another process that got the pid again)."""
    if not process_alive(pid):
        return False
    fields = _stat_fields(pid)
    try:
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime"))
    except (OSError, IndexError, StopIteration, ValueError):
        return True
    if fields is None:
        return False
    started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return fields[0] not in ("Z", "X") and started <= since.timestamp() + PID_CLOCK_SLACK_SECONDS


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat from the state on (field 3), or None without /proc or the process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_start(pid: int) -> int | None:
    """When the process started, in clock ticks after boot (/proc/<pid>/stat field 22); None if unknown.

    With the pid it names one process for good: a later process given the same pid starts later.
    """
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def same_process_alive(pid: int, start: int | None) -> bool:
    """Whether the process that had ``pid`` and started at ``start`` still runs (and is not a zombie).

    Without /proc (or without a recorded start) only the pid can be checked.
    """
    if not process_alive(pid):
        return False
    fields = _stat_fields(pid)
    if fields is None:
        return not Path("/proc/self/stat").exists()
    return fields[0] not in ("Z", "X") and (start is None or int(fields[19]) == start)


@dataclass(frozen=True)
class LocalJob:
    """What a runner needs to start a job the way Glue would."""

    name: str
    script_path: str
    zip_path: str
    default_arguments: dict[str, str]
    timeout_seconds: int
    log_path: str
    workdir: str
    worker_type: str | None = None
    number_of_workers: int | None = None
    execution_class: str = "STANDARD"


@dataclass(frozen=True)
class NewRun:
    job: LocalJob
    tags: dict[str, str]
    arguments: dict[str, str]


@dataclass(frozen=True)
class ClaimedRun:
    run_id: str
    job: LocalJob
    arguments: dict[str, str]


@dataclass(frozen=True)
class RunEnd:
    """How a run ended, as the registry records it."""

    state: str
    exit_code: int | None
    error: str | None


@dataclass(frozen=True)
class Rerun:
    """One more run of ``job_name``, queued only while ``retried_run_id`` is still the job's latest run."""

    job_name: str
    retried_run_id: str
    arguments: Mapping[str, str]


ReportReader = Callable[[Mapping[str, object], str], RunReport | None]


def run_report_of(storage: Storage) -> ReportReader:
    """Reads a run's report where its job sent it (``--run-reports``); None when there is none.

    A report that is there but cannot be parsed counts as none; an error reaching it propagates,
    so that the run's end waits for a later reading rather than being guessed.
    """

    def read(definition: Mapping[str, object], run_id: str) -> RunReport | None:
        arguments = definition.get("default_arguments") or {}
        prefix = arguments.get(RUN_REPORTS_ARGUMENT) if isinstance(arguments, Mapping) else None
        if not prefix:
            return None
        try:
            return read_report(storage, report_url(str(prefix), str(definition["name"]), run_id))
        except (ValueError, TypeError) as error:
            log.warning("run %s: its run report is unreadable (%s); counted as none", run_id, error)
            return None

    return read


def end_by_report(report: RunReport | None, exit_code: int | None, log_error: str | None) -> RunEnd:
    """A job process's end: its run report decides when it wrote one, else its exit status.

    A job that reported SUCCEEDED published its data, so a crash after that (a library aborting at
    interpreter exit) does not make it FAILED, and ``retry`` leaves it alone.
    """
    if report is not None and report.status == SUCCEEDED:
        note = None if exit_code in (0, None) else f"exited with status {exit_code} after its run report said SUCCEEDED"
        return RunEnd(SUCCEEDED, exit_code, note)
    if report is not None or exit_code != 0:
        message = log_error or (report.message if report is not None else None) or f"exited with status {exit_code}"
        return RunEnd(FAILED, exit_code, message)
    return RunEnd(SUCCEEDED, 0, None)


class Registry:
    """All reads and writes of the registry database."""

    def __init__(
        self,
        path: Path,
        alive: Callable[[int, datetime], bool] = pid_alive,
        job_alive: Callable[[int, int | None], bool] = same_process_alive,
        reports: ReportReader | None = None,
        busy_timeout: float | None = None,
        end_attempts: int = END_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``reports`` reads a run's report (default: where its job sent it, through ``Storage()``);
        ``busy_timeout`` defaults to ``BUSY_TIMEOUT_SECONDS`` as it is when the registry is opened."""
        self.path = path
        self.alive = alive
        self.job_alive = job_alive
        self.reports = reports or run_report_of(Storage())
        self.busy_timeout = BUSY_TIMEOUT_SECONDS if busy_timeout is None else busy_timeout
        self.end_attempts = end_attempts
        self.sleep = sleep
        self._ready = False

    @property
    def ends_folder(self) -> Path:
        return self.path.parent / ENDS_FOLDER

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        connection.row_factory = sqlite3.Row
        if not self._ready:
            connection.execute("PRAGMA journal_mode = WAL")
            with _transaction(connection):
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                columns = {row["name"] for row in connection.execute("PRAGMA table_info(runs)")}
                if "job_started" not in columns:
                    connection.execute("ALTER TABLE runs ADD COLUMN job_started INTEGER")
            self._ready = True
        return connection

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as connection, _transaction(connection):
            yield connection

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as connection:
            connection.execute("BEGIN")
            try:
                yield connection
            finally:
                connection.execute("COMMIT")

    def add_runs(self, runs: Sequence[NewRun], max_parallel: int) -> list[str]:
        """Create the jobs with their tags and queue one WAITING run each, all or nothing."""
        now = utcnow().isoformat()
        run_ids = []
        with self._write() as db:
            for run in runs:
                try:
                    db.execute(
                        "INSERT INTO jobs (name, created_on, definition) VALUES (?, ?, ?)",
                        (run.job.name, now, json.dumps(asdict(run.job))),
                    )
                except sqlite3.IntegrityError:
                    raise RegistryError(f"a job named {run.job.name} already exists; start the batch again") from None
                db.executemany(
                    "INSERT INTO tags (job_name, key, value) VALUES (?, ?, ?)",
                    [(run.job.name, key, value) for key, value in run.tags.items()],
                )
                run_id = "jr_" + secrets.token_hex(32)
                db.execute(
                    "INSERT INTO runs (run_id, job_name, arguments, state, max_parallel, created_on) VALUES (?, ?, ?, ?, ?, ?)",
                    (run_id, run.job.name, json.dumps(run.arguments), WAITING, max_parallel, now),
                )
                run_ids.append(run_id)
        return run_ids

    def add_reruns(self, reruns: Sequence[Rerun], max_parallel: int) -> tuple[dict[str, str], dict[str, str]]:
        """Queue one more WAITING run of each job whose latest run is still the one retried, in one transaction.

        The check and the insert are one write transaction, so of two retries at once only the
        first queues a run; the second finds the first one's run. Returns the new run id by job,
        and by job the run that is already newer than the one retried.
        """
        now = utcnow().isoformat()
        queued: dict[str, str] = {}
        taken: dict[str, str] = {}
        with self._write() as db:
            for rerun in reruns:
                if db.execute("SELECT 1 FROM jobs WHERE name = ?", (rerun.job_name,)).fetchone() is None:
                    raise RegistryError(f"job {rerun.job_name} is not in {self.path} (deleted by cleanup?); nothing was started")
                latest = db.execute(
                    "SELECT run_id, state FROM runs WHERE job_name = ? ORDER BY seq DESC LIMIT 1", (rerun.job_name,)
                ).fetchone()
                if latest is not None and latest["run_id"] != rerun.retried_run_id:
                    taken[rerun.job_name] = f"another retry started run {latest['run_id']} ({latest['state']})"
                    continue
                run_id = "jr_" + secrets.token_hex(32)
                db.execute(
                    "INSERT INTO runs (run_id, job_name, arguments, state, max_parallel, created_on) VALUES (?, ?, ?, ?, ?, ?)",
                    (run_id, rerun.job_name, json.dumps(dict(rerun.arguments)), WAITING, max_parallel, now),
                )
                queued[rerun.job_name] = run_id
        return queued, taken

    def run_states(self, run_ids: Sequence[str]) -> list[RunStatus]:
        """States of the given runs, in the same order; dead runners are reaped first."""
        with self._write() as db:
            self._reap(db)
        with self._read() as db:
            query = SELECT_RUNS + " WHERE run_id IN (SELECT value FROM json_each(?))"
            rows = {row["run_id"]: row for row in db.execute(query, (json.dumps(list(run_ids)),))}
        missing = [run_id for run_id in run_ids if run_id not in rows]
        if missing:
            raise RegistryError(f"run {missing[0]} is not in {self.path}; was its job deleted?")
        return [_status(rows[run_id]) for run_id in run_ids]

    def tagged_jobs(self, tags: Mapping[str, str]) -> dict[str, dict[str, str]]:
        """Every job carrying all of ``tags``, with all its tags, oldest first."""
        found: dict[str, dict[str, str]] = {}
        with self._read() as db:
            query = "SELECT j.name, t.key, t.value FROM jobs j LEFT JOIN tags t ON t.job_name = j.name ORDER BY j.rowid"
            for row in db.execute(query):
                job_tags = found.setdefault(row["name"], {})
                if row["key"] is not None:
                    job_tags[row["key"]] = row["value"]
        return {name: job_tags for name, job_tags in found.items() if all(job_tags.get(k) == v for k, v in tags.items())}

    def created_last(self, job_names: Iterable[str]) -> str | None:
        """Of these jobs, the one inserted last: rowids grow with every insert, whatever the clock says."""
        with self._read() as db:
            row = db.execute(
                "SELECT name FROM jobs WHERE name IN (SELECT value FROM json_each(?)) ORDER BY rowid DESC LIMIT 1",
                (json.dumps(list(job_names)),),
            ).fetchone()
        return None if row is None else row["name"]

    def created_on(self, job_names: Iterable[str]) -> dict[str, datetime]:
        """When each of these jobs was registered (a job is never modified here); jobs not there are left out."""
        with self._read() as db:
            rows = db.execute(
                "SELECT name, created_on FROM jobs WHERE name IN (SELECT value FROM json_each(?))", (json.dumps(list(job_names)),)
            ).fetchall()
        return {row["name"]: datetime.fromisoformat(row["created_on"]) for row in rows}

    def latest_runs(self, job_names: Iterable[str]) -> dict[str, RunStatus | None]:
        names = list(job_names)
        with self._write() as db:
            self._reap(db)
        with self._read() as db:
            query = (
                SELECT_RUNS + " WHERE seq IN (SELECT MAX(seq) FROM runs "
                "WHERE job_name IN (SELECT value FROM json_each(?)) GROUP BY job_name)"
            )
            latest = {row["job_name"]: _status(row) for row in db.execute(query, (json.dumps(names),))}
        return {name: latest.get(name) for name in names}

    def job_runs(self, job_names: Iterable[str]) -> dict[str, list[RunStatus]]:
        """Every run of each job, oldest first; dead runners are reaped first."""
        names = list(job_names)
        with self._write() as db:
            self._reap(db)
        found: dict[str, list[RunStatus]] = {name: [] for name in names}
        with self._read() as db:
            query = SELECT_RUNS + " WHERE job_name IN (SELECT value FROM json_each(?)) ORDER BY seq"
            for row in db.execute(query, (json.dumps(names),)):
                found[row["job_name"]].append(_status(row))
        return found

    def delete_job(self, job_name: str) -> None:
        """Delete the job with its tags and runs, unless one of its runs is still waiting or running."""
        with self._write() as db:
            self._reap(db)
            active = db.execute(
                "SELECT run_id, state FROM runs WHERE job_name = ? AND state IN (?, ?)", (job_name, WAITING, RUNNING)
            ).fetchone()
            if active is not None:
                raise JobActive(f"run {active['run_id']} of {job_name} is {active['state']}; the job was not deleted")
            for table, column in (("runs", "job_name"), ("tags", "job_name"), ("jobs", "name")):
                db.execute(f"DELETE FROM {table} WHERE {column} = ?", (job_name,))

    def start_runners(self, max_parallel: int, spawn: Callable[[], int]) -> list[int]:
        """Start enough runners for the queue, counting the live ones; returns the new pids.

        Runs inside one write transaction, so two commands starting runners at once cannot
        both see too few and overshoot.
        """
        with self._write() as db:
            self._reap(db)
            live = db.execute("SELECT COUNT(*) FROM runners").fetchone()[0]
            active = db.execute("SELECT COUNT(*) FROM runs WHERE state IN (?, ?)", (WAITING, RUNNING)).fetchone()[0]
            pids = [spawn() for _ in range(max(0, min(max_parallel, active) - live))]
            now = utcnow().isoformat()
            db.executemany("INSERT OR REPLACE INTO runners (pid, started_on) VALUES (?, ?)", [(pid, now) for pid in pids])
        return pids

    def claim_next(self, runner_pid: int) -> ClaimedRun | None:
        """Move the oldest WAITING run to RUNNING for this runner if a slot is free.

        Returns None, and signs the runner off, when nothing is waiting or every slot is taken:
        the runners holding the slots go on to the waiting runs when they finish.
        """
        with self._write() as db:
            self._reap(db)
            running = db.execute("SELECT COUNT(*) FROM runs WHERE state = ?", (RUNNING,)).fetchone()[0]
            row = db.execute(
                "SELECT r.run_id, r.arguments, r.max_parallel, j.definition FROM runs r JOIN jobs j ON j.name = r.job_name "
                "WHERE r.state = ? ORDER BY r.seq LIMIT 1",
                (WAITING,),
            ).fetchone()
            if row is None or running >= row["max_parallel"]:
                db.execute("DELETE FROM runners WHERE pid = ?", (runner_pid,))
                return None
            db.execute(
                "UPDATE runs SET state = ?, started_on = ?, runner_pid = ? WHERE run_id = ?",
                (RUNNING, utcnow().isoformat(), runner_pid, row["run_id"]),
            )
        return ClaimedRun(row["run_id"], LocalJob(**json.loads(row["definition"])), json.loads(row["arguments"]))

    def record_job_pid(self, run_id: str, job_pid: int, job_started: int | None) -> None:
        """Remember the job's process by its pid and start time, so it is recognised for as long as it lives.

        A database that stays busy only costs that knowledge (the runner still waits for the job and
        records its end), so it is logged, not raised.
        """

        def record() -> None:
            with self._write() as db:
                db.execute("UPDATE runs SET job_pid = ?, job_started = ? WHERE run_id = ?", (job_pid, job_started, run_id))

        try:
            retry(record, registry_busy, END_BACKOFF, self.end_attempts, self.sleep)
        except sqlite3.OperationalError as busy:
            if not registry_busy(busy):
                raise
            log.warning("run %s: could not record its job process %d (%s)", run_id, job_pid, busy)

    def finish(self, run_id: str, state: str, exit_code: int | None, error: str | None) -> None:
        """Record a run's end; while the database stays busy, retry, then leave it in the journal.

        The journal is a file per run that the next reader of the registry applies, so an end is
        never lost to a busy database and a run that did its work is never left to be reaped as ERROR.
        """
        end = RunEnd(state, exit_code, error)
        try:
            retry(lambda: self._record_end(run_id, end), registry_busy, END_BACKOFF, self.end_attempts, self.sleep)
        except sqlite3.OperationalError as busy:
            if not registry_busy(busy):
                raise
            self._journal(run_id, end)
            log.warning(
                "run %s ended %s; the registry stayed busy (%s), so the end waits in %s", run_id, state, busy, self.ends_folder
            )

    def _record_end(self, run_id: str, end: RunEnd) -> None:
        with self._write() as db:
            _record(db, run_id, end, utcnow().isoformat())

    def _journal(self, run_id: str, end: RunEnd) -> None:
        """Write the end beside the database, whole or not at all."""
        self.ends_folder.mkdir(parents=True, exist_ok=True)
        target = self.ends_folder / f"{run_id}.json"
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps({**asdict(end), "completed_on": utcnow().isoformat()}), encoding="utf-8")
        os.replace(partial, target)

    def sign_off(self, runner_pid: int) -> None:
        with self._write() as db:
            db.execute("DELETE FROM runners WHERE pid = ?", (runner_pid,))

    def _reap(self, db: sqlite3.Connection) -> None:
        """Apply journaled ends, forget dead runners, and settle the runs they left whose job process is gone too."""
        self._apply_journal(db)
        for pid, started_on in db.execute("SELECT pid, started_on FROM runners").fetchall():
            if not self.alive(pid, datetime.fromisoformat(started_on)):
                db.execute("DELETE FROM runners WHERE pid = ?", (pid,))
        now = utcnow().isoformat()
        running = db.execute(
            "SELECT r.run_id, r.runner_pid, r.job_pid, r.job_started, r.started_on, j.definition FROM runs r "
            "JOIN jobs j ON j.name = r.job_name WHERE r.state = ?",
            (RUNNING,),
        )
        for row in running.fetchall():
            if self.alive(row["runner_pid"], datetime.fromisoformat(row["started_on"])):
                continue
            runner = f"local runner (pid {row['runner_pid']}) died"
            if row["job_pid"] is None:
                _record(db, row["run_id"], RunEnd(ERROR, None, f"{runner} before recording its job process"), now)
            elif self.job_alive(row["job_pid"], row["job_started"]):
                error = f"{runner}; its job process {row['job_pid']} still runs, but its end will not be recorded"
                db.execute("UPDATE runs SET error = ? WHERE run_id = ?", (error, row["run_id"]))
            else:
                self._settle_by_report(db, row, runner, now)

    def _settle_by_report(self, db: sqlite3.Connection, row: sqlite3.Row, runner: str, now: str) -> None:
        """A run whose runner and job process are both gone ends as the job's own run report says."""
        try:
            report = self.reports(json.loads(row["definition"]), row["run_id"])
        except Exception as unreadable:  # noqa: BLE001 - any storage error: decide at a later reading, never guess
            note = f"{runner}; its job process {row['job_pid']} has ended; its run report could not be read yet ({unreadable})"
            db.execute("UPDATE runs SET error = ? WHERE run_id = ?", (note, row["run_id"]))
            return
        if report is None:
            missing = (
                f"{runner}; its job process {row['job_pid']} ended without a recorded exit status or a run report (see its log)"
            )
            end = RunEnd(ERROR, None, missing)
        else:
            decided = end_by_report(report, None, None)
            note = f"{runner}; the end is its job's run report"
            end = RunEnd(decided.state, None, note if decided.state == SUCCEEDED else f"{decided.error} ({note})")
        _record(db, row["run_id"], end, now)

    def _apply_journal(self, db: sqlite3.Connection) -> None:
        """Record the ends runners journaled; a journal entry is removed once its run shows that end."""
        if not self.ends_folder.is_dir():
            return
        for entry in sorted(self.ends_folder.glob("jr_*.json")):
            run_id = entry.stem
            try:
                ended = json.loads(entry.read_text(encoding="utf-8"))
                end = RunEnd(ended["state"], ended["exit_code"], ended["error"])
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.warning("%s: not a journaled run end (%s); left alone", entry, error)
                continue
            row = db.execute("SELECT state FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is not None and row["state"] not in ENDED_STATES:
                _record(db, run_id, end, str(ended.get("completed_on") or utcnow().isoformat()))
            else:
                entry.unlink(missing_ok=True)


def _record(db: sqlite3.Connection, run_id: str, end: RunEnd, completed_on: str) -> None:
    db.execute(
        "UPDATE runs SET state = ?, completed_on = ?, exit_code = ?, error = ? WHERE run_id = ?",
        (end.state, completed_on, end.exit_code, end.error, run_id),
    )


@contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _status(row: sqlite3.Row) -> RunStatus:
    definition = json.loads(row["definition"] or "{}")
    started, completed = _time(row["started_on"]), _time(row["completed_on"])
    return RunStatus(
        job_name=row["job_name"],
        run_id=row["run_id"],
        state=row["state"],
        arguments=json.loads(row["arguments"]),
        started_on=started,
        completed_on=completed,
        error=row["error"],
        execution_seconds=(completed - started).total_seconds() if started and completed else None,
        worker_type=definition.get("worker_type"),
        number_of_workers=definition.get("number_of_workers"),
        execution_class=definition.get("execution_class"),
    )


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
