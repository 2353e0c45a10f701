"""The STEDI pipeline on the shared starter data against the same chain in DuckDB, then on the data scaled ×10.

1. In this process (Spark start, then the pipeline, with per-job seconds): the shared data end to end
   (Spark start included), then ×10 (each customer gets nine twins with their own email and device
   and the same readings, so the consent share, readings per customer and join rate stay the same).
2. Side by side, interleaved A, B, A, B over three rounds, each side a process of its own as a user
   starts it: ours is ``python -m job_helpers pipeline --name stedi`` (what ``make pipeline
   name=stedi`` runs) on a fresh lake; the floor is the same chain in DuckDB (``--duckdb``): landing
   lines parsed with the key fields required, trusted customers, accelerometer readings of trusted
   customers (emails as keys), curated customers (one per email key, latest update, HMAC pseudonyms
   computed in Python for the distinct keys), step-trainer readings of curated devices, and the ML
   join on instant and owner, each table written as Parquet (readings by ``reading_date``). The
   rows of the five tables must be equal on both sides (482 / 40,981 / 482 / 14,460 / 40,981 on the
   shared data). Min and median of the wall seconds and of the CPU seconds (user + system of the
   whole process tree, which a busy machine stretches far less than wall time), and the peak
   resident memory of the process tree.

Targets on an idle 2-core machine: ours ≤ 10 s, ≤ 25× the DuckDB chain, peak ≤ 1 GB; ×10 under 4×
the shared end to end. Without ../shared beside the repository it runs on generated landing data of
the same number of customers (956) and says so. Human lines first, one JSON object last.

    JAVA_HOME=... .venv/bin/python benchmarks/stedi_pipeline.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import hmac
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STARTED = time.perf_counter()
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from process_memory import tree_rss  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "stedi"
LANDINGS = ("customer", "accelerometer", "step_trainer")
SCALE = 10
SHARED_CUSTOMERS = 956
KEY = "stedi-benchmark-key-0123456789abcdef"
TABLES = (
    ("customer_trusted", "customer/trusted"),
    ("accelerometer_trusted", "accelerometer/trusted"),
    ("customer_curated", "customer/curated"),
    ("step_trainer_trusted", "step_trainer/trusted"),
    ("machine_learning_curated", "step_trainer/curated"),
)
TARGETS = {"seconds": 10.0, "ratio": 25.0, "peak_mb": 1000.0}
SAMPLE_SECONDS = 0.02
PR_SET_CHILD_SUBREAPER = 36


def scaled_copy(source: Path, target: Path, factor: int) -> None:
    """Write each landing line ``factor`` times, twin k's email and serial number suffixed with k."""
    for name in LANDINGS:
        out = target / "stedi-lakehouse" / name / "landing"
        out.mkdir(parents=True)
        for path in sorted((source / name / "landing").glob("*.json")):
            lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            with open(out / path.name, "w") as handle:
                for twin in range(factor):
                    handle.writelines(json.dumps(twin_of(record, twin)) + "\n" for record in lines)


def twin_of(record: dict, twin: int) -> dict:
    """Twin ``twin`` of a landing record (twin 0 is the record itself)."""
    copy = dict(record)
    for field in ("email", "user"):
        if twin and copy.get(field):
            copy[field] = f"twin{twin}.{copy[field]}"
    if twin and copy.get("serialNumber"):
        copy["serialNumber"] = f"{copy['serialNumber']}-{twin}"
    return copy


def lake_with(source: Path, lake: Path) -> Path:
    """A lake whose landing folders are links to ``source``'s (read in place, never copied)."""
    for name in LANDINGS:
        folder = lake / "stedi-lakehouse" / name
        folder.mkdir(parents=True)
        (folder / "landing").symlink_to(source / name / "landing", target_is_directory=True)
    return lake


def run_in_process(lake: Path, key_file: Path) -> dict:
    from job_helpers.control.config import load_settings, pipeline_spec
    from job_helpers.control.pipeline import LocalRunner, run_jobs, table_counts
    from job_helpers.storage import Storage

    settings = load_settings(
        REPO / "config.yml", "local", [f"stedi.pseudonym_key_file={key_file}"], environ={"LAKE_ROOT": str(lake)}
    )
    spec = pipeline_spec(settings, "stedi")
    result = run_jobs(settings, spec, LocalRunner(REPO), Storage())
    if not result.succeeded:
        raise SystemExit(f"pipeline failed: {[(o.job, o.state, o.error) for o in result.outcomes]}")
    return {
        "seconds": round(result.seconds, 2),
        "jobs": {o.job: round(o.seconds, 2) for o in result.outcomes},
        "rows": table_counts(settings.datasets, spec.tables, result.outcomes),
    }


def landing_source(root: Path) -> tuple[Path, str]:
    """The shared starter data if it is beside the repository, else generated data of its size."""
    from job_helpers.stedi.sample_data import write_stedi_landing
    from job_helpers.storage import Storage

    if SHARED.is_dir():
        return SHARED, "shared"
    print(f"{SHARED} is absent: running on generated landing data of {SHARED_CUSTOMERS} customers instead")
    generated = root / "generated"
    urls = {name: (generated / name / "landing").as_uri() + "/" for name in LANDINGS}
    write_stedi_landing(Storage(), urls, customers=SHARED_CUSTOMERS, seed=1)
    return generated, "generated"


def duckdb_chain(source: Path, out: Path) -> dict[str, int]:
    """The STEDI chain in DuckDB: landing → trusted → curated, the five tables written as Parquet; their rows."""
    import duckdb

    sql = duckdb.connect()
    landing = {
        "customer": "customerName VARCHAR, email VARCHAR, phone VARCHAR, birthDay VARCHAR, serialNumber VARCHAR, "
        "registrationDate BIGINT, lastUpdateDate BIGINT, shareWithResearchAsOfDate BIGINT, "
        "shareWithPublicAsOfDate BIGINT, shareWithFriendsAsOfDate BIGINT",
        "accelerometer": "user VARCHAR, timestamp BIGINT, x DOUBLE, y DOUBLE, z DOUBLE",
        "step_trainer": "sensorReadingTime BIGINT, serialNumber VARCHAR, distanceFromObject INTEGER",
    }
    keys = {
        "customer": "email, serialNumber",
        "accelerometer": "user, timestamp",
        "step_trainer": "sensorReadingTime, serialNumber",
    }
    # Email keys as the jobs make them: ASCII whitespace stripped from both ends, lower-cased; a text key of
    # only that whitespace is missing.
    whitespace = "' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)"
    for name, columns in landing.items():
        types = dict(column.split() for column in columns.split(", "))
        struct = "{" + ", ".join(f"'{column}': '{kind}'" for column, kind in types.items()) + "}"
        required = " AND ".join(
            f"trim({key}, {whitespace}) <> ''" if types[key] == "VARCHAR" else f"{key} IS NOT NULL"
            for key in keys[name].split(", ")
        )
        sql.execute(
            f"CREATE TABLE {name}_landing AS SELECT * FROM read_json('{source / name / 'landing'}/*.json', "
            f"format='newline_delimited', columns={struct}, ignore_errors=true) WHERE {required}"
        )

    def as_key(column: str) -> str:
        return f"lower(trim({column}, {whitespace}))"

    day = "DATE '1970-01-01' + CAST(floor({} / 86400000) AS INTEGER)"
    sql.execute("CREATE TABLE customer_trusted AS SELECT * FROM customer_landing WHERE shareWithResearchAsOfDate IS NOT NULL")
    sql.execute(
        "CREATE TABLE accelerometer_trusted AS SELECT a.*, make_timestamp(a.timestamp * 1000) AS readingTime, "
        f"{day.format('a.timestamp')} AS reading_date FROM accelerometer_landing a "
        f"WHERE {as_key('a.user')} IN (SELECT {as_key('email')} FROM customer_trusted)"
    )
    sql.execute(
        f"CREATE TABLE curated_keys AS SELECT *, {as_key('email')} AS email_key FROM customer_trusted "
        f"WHERE {as_key('email')} IN (SELECT DISTINCT {as_key('user')} FROM accelerometer_trusted) "
        f"QUALIFY row_number() OVER (PARTITION BY {as_key('email')} ORDER BY lastUpdateDate DESC NULLS LAST, "
        "registrationDate DESC NULLS LAST, customerName, phone, birthDay, serialNumber, shareWithResearchAsOfDate, "
        "shareWithPublicAsOfDate, shareWithFriendsAsOfDate) = 1"
    )
    users = [row[0] for row in sql.execute(f"SELECT DISTINCT {as_key('user')} FROM accelerometer_trusted").fetchall()]
    key = KEY.encode()
    pseudonyms = [(user, hmac.new(key, user.encode(), hashlib.sha256).hexdigest()) for user in users]
    sql.execute("CREATE TABLE pseudonyms (email_key VARCHAR, customerPseudonym VARCHAR)")
    sql.executemany("INSERT INTO pseudonyms VALUES (?, ?)", pseudonyms)
    sql.execute(
        "CREATE TABLE customer_curated AS SELECT p.customerPseudonym, c.serialNumber, c.registrationDate, c.lastUpdateDate, "
        "c.shareWithResearchAsOfDate, c.shareWithPublicAsOfDate, c.shareWithFriendsAsOfDate "
        "FROM curated_keys c JOIN pseudonyms p USING (email_key)"
    )
    sql.execute(
        "CREATE TABLE step_trainer_trusted AS SELECT s.*, make_timestamp(s.sensorReadingTime * 1000) AS sensorReadingTimestamp, "
        f"{day.format('s.sensorReadingTime')} AS reading_date FROM step_trainer_landing s "
        "WHERE s.serialNumber IN (SELECT serialNumber FROM customer_curated)"
    )
    sql.execute(
        "CREATE TABLE machine_learning_curated AS SELECT s.sensorReadingTime, s.serialNumber, s.distanceFromObject, "
        "s.sensorReadingTimestamp, p.customerPseudonym, a.timestamp, a.x, a.y, a.z, s.reading_date "
        "FROM step_trainer_trusted s JOIN customer_curated o USING (serialNumber) "
        "JOIN accelerometer_trusted a ON a.timestamp = s.sensorReadingTime "
        f"JOIN pseudonyms p ON p.email_key = {as_key('a.user')} AND p.customerPseudonym = o.customerPseudonym"
    )
    rows = {}
    out.mkdir(parents=True, exist_ok=True)
    for table, _ in TABLES:
        partitioned = ", PARTITION_BY (reading_date)" if table not in ("customer_trusted", "customer_curated") else ""
        sql.execute(f"COPY {table} TO '{out / table}' (FORMAT parquet{partitioned})")
        rows[table] = sql.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
    return rows


def published_rows(lake: Path) -> dict[str, int]:
    """Rows of the five tables ours published, read from their Parquet files (``_`` folders skipped)."""
    import pyarrow.dataset as ds

    return {table: ds.dataset(lake / "stedi-lakehouse" / folder, format="parquet").count_rows() for table, folder in TABLES}


def measured(command: list[str], env: dict[str, str]) -> dict:
    """Run ``command`` to its end: wall seconds, CPU seconds and peak resident MB of its whole process tree.

    This process is the subreaper of what the command starts, so processes it leaves (a JVM) are
    waited for here and their CPU counted.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while child.poll() is None:
        peak = max(peak, tree_rss(child.pid))
        time.sleep(SAMPLE_SECONDS)
    seconds = time.perf_counter() - started
    out, err = child.communicate()
    if child.returncode:
        raise SystemExit(f"{' '.join(command[:4])}… failed ({child.returncode}): {err[-2000:]}")
    reap_orphans()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"seconds": seconds, "cpu_s": cpu, "peak_mb": peak / 1e6, "stdout": out}


def reap_orphans() -> None:
    """Wait for the processes a finished command left to this subreaper (its JVM ends when its Python does)."""
    own = {child for child in _children(os.getpid())}
    deadline = time.monotonic() + 30
    while own and time.monotonic() < deadline:
        for pid in list(own):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                own.discard(pid)
        time.sleep(0.05)


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def compare(source: Path, root: Path, key_file: Path, rounds: int) -> dict:
    """Ours and the DuckDB chain, interleaved ``rounds`` times; counts checked equal."""
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ours, floor = [], []
    for number in range(rounds):
        lake = lake_with(source, root / f"round-{number}")
        command = [sys.executable, "-m", "job_helpers", "--profile", "local", "--set", f"stedi.pseudonym_key_file={key_file}"]
        run = measured([*command, "pipeline", "--name", "stedi"], {**env, "LAKE_ROOT": str(lake)})
        ours.append({**run, "rows": published_rows(lake)})
        out = root / f"duckdb-{number}"
        chain = measured([sys.executable, __file__, "--duckdb", str(source), str(out)], env)
        floor.append({**chain, "rows": json.loads(chain["stdout"].strip().splitlines()[-1])})
        print(
            f"round {number + 1}: ours {ours[-1]['seconds']:.1f}s ({ours[-1]['cpu_s']:.1f} CPU s, {ours[-1]['peak_mb']:.0f} MB), "
            f"DuckDB {floor[-1]['seconds']:.2f}s ({floor[-1]['cpu_s']:.2f} CPU s, {floor[-1]['peak_mb']:.0f} MB)"
        )
    mismatched = [(o["rows"], f["rows"]) for o, f in zip(ours, floor) if o["rows"] != f["rows"]]
    if mismatched:
        raise SystemExit(f"the two sides' rows differ: ours {mismatched[0][0]}, DuckDB {mismatched[0][1]}")
    return {"ours": summary(ours), "duckdb": summary(floor), "rows": ours[0]["rows"]}


def summary(runs: list[dict]) -> dict:
    return {
        **{f"{what}_min": round(min(r[what] for r in runs), 2) for what in ("seconds", "cpu_s")},
        **{f"{what}_median": round(statistics.median(r[what] for r in runs), 2) for what in ("seconds", "cpu_s")},
        "peak_mb": round(max(r["peak_mb"] for r in runs)),
    }


def in_process(root: Path, source: Path, key: Path) -> dict:
    """Today's figures: Spark start and the pipeline in this process on the shared data, then ×10."""
    from job_helpers.runtime import local_spark

    local_spark("stedi-benchmark")
    spark_ready = time.perf_counter() - STARTED
    shared = run_in_process(lake_with(source, root / "shared"), key)
    end_to_end = time.perf_counter() - STARTED
    print(f"in this process: Spark ready in {spark_ready:.1f}s, pipeline {shared['seconds']:.1f}s, end to end {end_to_end:.1f}s")
    for job, seconds in shared["jobs"].items():
        print(f"  {job:<34} {seconds:6.1f}s")
    scaled_copy(source, root / "scaled", SCALE)
    scaled = run_in_process(root / "scaled", key)
    print(f"x{SCALE} data: pipeline {scaled['seconds']:.1f}s ({scaled['seconds'] / end_to_end:.2f}x the shared end to end)")
    for job, seconds in scaled["jobs"].items():
        print(f"  {job:<34} {seconds:6.1f}s")
    print(f"rows shared: {shared['rows']}")
    print(f"rows x{SCALE}: {scaled['rows']}")
    return {
        "spark_start_s": round(spark_ready, 2),
        "shared_end_to_end_s": round(end_to_end, 2),
        "shared_pipeline_s": shared["seconds"],
        "shared_jobs_s": shared["jobs"],
        "scaled_factor": SCALE,
        "scaled_pipeline_s": scaled["seconds"],
        "scaled_jobs_s": scaled["jobs"],
        "scaled_over_shared": round(scaled["seconds"] / end_to_end, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duckdb", nargs=2, metavar=("LANDING", "OUT"), help="run only the DuckDB chain; print its rows")
    args = parser.parse_args()
    if args.duckdb:
        print(json.dumps(duckdb_chain(Path(args.duckdb[0]), Path(args.duckdb[1]))))
        return
    with tempfile.TemporaryDirectory(prefix="stedi-bench-") as scratch:
        root = Path(scratch)
        source, data = landing_source(root)
        key = root / "pseudonym.key"
        key.write_text(KEY)
        key.chmod(0o600)
        figures = in_process(root, source, key)
        side_by_side = compare(source, root, key, args.rounds)
    ours, floor = side_by_side["ours"], side_by_side["duckdb"]
    ratio = {kind: round(ours[f"seconds_{kind}"] / floor[f"seconds_{kind}"], 1) for kind in ("min", "median")}
    print(f"ours {ours['seconds_min']:.1f}s min / {ours['seconds_median']:.1f}s median, peak {ours['peak_mb']} MB")
    print(f"DuckDB {floor['seconds_min']:.2f}s min / {floor['seconds_median']:.2f}s median, peak {floor['peak_mb']} MB")
    print(f"ratio {ratio['min']}x (min) / {ratio['median']}x (median); rows {side_by_side['rows']}")
    targets_met = (
        ours["seconds_median"] <= TARGETS["seconds"]
        and ratio["median"] <= TARGETS["ratio"]
        and ours["peak_mb"] <= TARGETS["peak_mb"]
        and figures["scaled_pipeline_s"] < 4 * figures["shared_end_to_end_s"]
    )
    print(
        json.dumps(
            {
                "benchmark": "stedi_pipeline",
                "data": data,
                **figures,
                "ours": ours,
                "duckdb": floor,
                "ratio_min": ratio["min"],
                "ratio_median": ratio["median"],
                "rows": side_by_side["rows"],
                "peak_mb": ours["peak_mb"],
                "targets": TARGETS,
                "targets_met": targets_met,
            }
        )
    )


if __name__ == "__main__":
    main()
