"""The local profile's stand-in for the Glue service: jobs, tags, runs and the run queue in SQLite.

The database lives under the lake root and is shared by the CLI and every local runner process.
WAL mode lets readers go on while one writer commits; every change that must not interleave
with another (claiming a run slot, starting runners) is one ``BEGIN IMMEDIATE`` transaction.

A run is WAITING until a runner claims it, which happens only while fewer than its
``max_parallel`` runs are RUNNING. The runner's pid is recorded with the claim, and the job
process's pid and start time once it is started. A run whose runner died stays RUNNING while its
job process lives (nobody can record its end, but it still works and holds its slot), and turns
into ERROR once that process is gone too; a job with a run WAITING or RUNNING is never deleted.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from job_helpers.control.runs import ERROR, RUNNING, WAITING, JobActive, RunStatus

REGISTRY_FILE = Path("_registry") / "glue.sqlite"
# Runs with their job's definition, which holds the worker type, workers and execution class.
SELECT_RUNS = "SELECT runs.*, jobs.definition AS definition FROM runs LEFT JOIN jobs ON jobs.name = runs.job_name"
BUSY_TIMEOUT_SECONDS = 30

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


# /proc start times are in clock ticks and the recorded times come from another clock read.
PID_CLOCK_SLACK_SECONDS = 2.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def pid_alive(pid: int, since: datetime) -> bool:
    """Whether the process recorded at ``since`` still runs: it exists, is not a zombie, and did
    not start after ``since`` (which would make it another process that got the pid again)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
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
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
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


class Registry:
    """All reads and writes of the registry database."""

    def __init__(
        self,
        path: Path,
        alive: Callable[[int, datetime], bool] = pid_alive,
        job_alive: Callable[[int, int | None], bool] = same_process_alive,
    ) -> None:
        self.path = path
        self.alive = alive
        self.job_alive = job_alive
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
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

    def add_reruns(self, reruns: Sequence[tuple[str, Mapping[str, str]]], max_parallel: int) -> list[str]:
        """Queue one more WAITING run of each existing job with the given arguments, all or nothing."""
        now = utcnow().isoformat()
        run_ids = []
        with self._write() as db:
            for job_name, arguments in reruns:
                if db.execute("SELECT 1 FROM jobs WHERE name = ?", (job_name,)).fetchone() is None:
                    raise RegistryError(f"job {job_name} is not in {self.path} (deleted by cleanup?); nothing was started")
                run_id = "jr_" + secrets.token_hex(32)
                db.execute(
                    "INSERT INTO runs (run_id, job_name, arguments, state, max_parallel, created_on) VALUES (?, ?, ?, ?, ?, ?)",
                    (run_id, job_name, json.dumps(dict(arguments)), WAITING, max_parallel, now),
                )
                run_ids.append(run_id)
        return run_ids

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
        found: dict[str, dict[str, str]] = {}
        with self._read() as db:
            for row in db.execute("SELECT j.name, t.key, t.value FROM jobs j LEFT JOIN tags t ON t.job_name = j.name"):
                job_tags = found.setdefault(row["name"], {})
                if row["key"] is not None:
                    job_tags[row["key"]] = row["value"]
        return {name: job_tags for name, job_tags in found.items() if all(job_tags.get(k) == v for k, v in tags.items())}

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
        """Remember the job's process by its pid and start time, so it is recognised for as long as it lives."""
        with self._write() as db:
            db.execute("UPDATE runs SET job_pid = ?, job_started = ? WHERE run_id = ?", (job_pid, job_started, run_id))

    def finish(self, run_id: str, state: str, exit_code: int | None, error: str | None) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE runs SET state = ?, completed_on = ?, exit_code = ?, error = ? WHERE run_id = ?",
                (state, utcnow().isoformat(), exit_code, error, run_id),
            )

    def sign_off(self, runner_pid: int) -> None:
        with self._write() as db:
            db.execute("DELETE FROM runners WHERE pid = ?", (runner_pid,))

    def _reap(self, db: sqlite3.Connection) -> None:
        """Forget dead runners; end with ERROR the runs they left RUNNING whose job process is gone too."""
        for pid, started_on in db.execute("SELECT pid, started_on FROM runners").fetchall():
            if not self.alive(pid, datetime.fromisoformat(started_on)):
                db.execute("DELETE FROM runners WHERE pid = ?", (pid,))
        now = utcnow().isoformat()
        running = db.execute("SELECT run_id, runner_pid, job_pid, job_started, started_on FROM runs WHERE state = ?", (RUNNING,))
        for row in running.fetchall():
            if self.alive(row["runner_pid"], datetime.fromisoformat(row["started_on"])):
                continue
            runner = f"local runner (pid {row['runner_pid']}) died"
            if row["job_pid"] is None:
                error = f"{runner} before recording its job process"
            elif self.job_alive(row["job_pid"], row["job_started"]):
                error = f"{runner}; its job process {row['job_pid']} still runs, but its end will not be recorded"
                db.execute("UPDATE runs SET error = ? WHERE run_id = ?", (error, row["run_id"]))
                continue
            else:
                error = f"{runner}; its job process {row['job_pid']} ended without a recorded exit status (see its log)"
            db.execute(
                "UPDATE runs SET state = ?, completed_on = ?, error = ? WHERE run_id = ?", (ERROR, now, error, row["run_id"])
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
