"""A class-data-sharing (CDS) archive for the local Spark driver JVM, made by the first local session.

Starting a JVM parses and verifies Spark's classes from its jars; a JVM started on an archive of
them maps them ready-made instead, which halved the CPU of a local session's start on a loaded
2-core machine (3.6-4.0 s against 6.8-8.0 s for a session and one small query). The first local
session of a setup records the archive as its JVM exits (``-XX:ArchiveClassesAtExit``), under a
name of its own, beside a note of that JVM's pid and class path. An archive holds only the classes
its recording session loaded, so that session, as its process exits, runs a little of each kind of
work the local jobs do (``exercise``, from ``runtime.end_local_spark``): an archive recorded by a
session that did little left the STEDI pipeline loading 8,500 of its 20,000 classes from the jars;
after the exercise 6,100 are left, mostly code Spark generates as it runs and the compiler that
builds it.

A later session moves a recording into place once its JVM is gone and a JVM started on it with
``-XX:+VerifySharedSpaces`` is sound (a JVM started on a cut-off archive crashes, so nothing
unchecked is ever used); every session after that starts from it. The archive's name holds what it
depends on (the JDK, Spark's version, the JVM options, those the environment gives every JVM, each jar
of the class path, Spark's and those a session adds, as the aws profile's local runner adds S3A's, and
``RECIPE``), so a change of any makes a new one. A recording is claimed, by a note, before its JVM
starts, so a session that starts meanwhile starts plainly rather than recording a second one. The
archive only speeds a start: nothing of it ever fails a session. Local sessions only: Glue starts
its own JVMs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from job_helpers.processes import process_alive
from job_helpers.storage import Storage, file_url

log = logging.getLogger(__name__)

VERIFY_TIMEOUT_S = 60
# An archive no session started from for this long is deleted, and so is a recording no session settled: each
# JDK, Spark or option change leaves one of about 150 MB behind.
UNUSED_DAYS = 30
# Part of every archive's name: a change of what a recording session does makes new archives.
RECIPE = 2
# Recording prints a warning per class it cannot keep (thousands); using the archive says nothing either.
QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"
RECORD = "-XX:ArchiveClassesAtExit="
# Options the driver JVM takes from the environment: every JVM's, the java launcher's, and those spark-submit
# adds to the driver's command (PYSPARK_SUBMIT_ARGS can hold --driver-java-options).
ENVIRONMENT_OPTIONS = ("JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "SPARK_SUBMIT_OPTS", "PYSPARK_SUBMIT_ARGS")
# A JVM that rewrites classes as they load (a Java agent, a flight recording) crashed as it started from an
# archive (JDK 17: SIGSEGV in KlassFactory::check_shared_class_file_load_hook), so it starts without one.
REWRITING_CLASSES = ("-javaagent", "-agentlib", "-agentpath", "StartFlightRecording", "FlightRecorder")


def cache_folder() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "job-helpers"


def java_option(java_options: str, extra_class_path: str = "", folder: Path | None = None) -> str:
    """The option that starts the driver JVM from the archive, or records it; "" when neither can be done.

    ``extra_class_path`` is what the session adds to Spark's jars (the S3A jars): their classes are
    archived too, so each class path has an archive of its own. A cache folder that cannot be read or
    written (read-only, full, gone) starts the session plainly.
    """
    java = _java()
    if java is None:
        return ""
    environment_options = " ".join(os.environ.get(name, "") for name in ENVIRONMENT_OPTIONS)
    folder = folder or cache_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        archive = folder / f"spark-driver-{_fingerprint(java, f'{java_options} {environment_options}', extra_class_path)}.jsa"
        recording = _recording(archive, os.getpid())
        recording_now = _settle_recordings(java, java_options, archive, recording)
        _forget_unused(archive)  # by every session, whether it starts from an archive, records one or neither
        if recording_now or any(option in environment_options for option in REWRITING_CLASSES):
            return ""  # another session is recording it (one recording is enough), or this JVM rewrites classes
        if archive.exists():
            return f"-XX:SharedArchiveFile={archive} {QUIET}"
        if not _claimed(archive, recording):
            return ""
    except OSError as error:
        log.info("the local Spark driver starts without a class archive: %s", error)
        return ""
    return f"{RECORD}{recording} {QUIET}"


def records(option: str) -> bool:
    """Whether a JVM started with ``option`` (from ``java_option``) records the archive."""
    return option.startswith(RECORD)


def note_recording(spark: Any, option: str) -> None:
    """Beside a recording this session's JVM makes, note that JVM's pid and class path (for the check),
    in place of this process's claim; a note that cannot be written is a warning (the claim's recording
    is then deleted unused)."""
    if not records(option):
        return
    jvm = spark._jvm
    note = {"pid": int(jvm.java.lang.ProcessHandle.current().pid()), "class_path": str(jvm.System.getProperty("java.class.path"))}
    try:
        _write_note(Path(option[len(RECORD) :].split()[0]), note)
    except OSError as error:
        log.warning("the class archive this session records will not be used: its note could not be written: %s", error)


def _claimed(archive: Path, own: Path) -> bool:
    """Claim the recording with this process's note before its JVM starts (which takes seconds); withdrawn
    when another process has a live note too: of two that claim at once, one or both see the other (each
    writes before it looks), so at most one records."""
    _write_note(own, {"pid": os.getpid()})
    others = [note for note in archive.parent.glob(f"{archive.stem}.*.recording.json") if note.with_suffix("") != own]
    if any(process_alive(_pid(note)) for note in others):
        Path(f"{own}.json").unlink()
        return False
    return True


def _pid(note: Path) -> object:
    try:
        return json.loads(note.read_text()).get("pid")
    except (OSError, ValueError, AttributeError):  # gone meanwhile, or not a note
        return None


def _write_note(recording: Path, note: dict[str, Any]) -> None:
    """Whole or not at all (a later session reads it while this one runs)."""
    Storage().write_text(file_url(Path(f"{recording}.json")), json.dumps(note))


def exercise(spark: Any) -> None:
    """A few rows through the kinds of work local jobs do (text lines parsed as JSON, a join, a window, a
    partitioned Parquet write, a Parquet read and an aggregate), so their classes are loaded; in a folder
    of its own, removed afterwards."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    with tempfile.TemporaryDirectory(prefix="class-archive-") as folder:
        root = Path(folder).as_uri()
        spark.range(64).selectExpr("to_json(named_struct('k', id % 4, 't', id * 1000)) AS value").write.text(f"{root}/lines")
        parsed = spark.read.text(f"{root}/lines").select(F.from_json("value", "k BIGINT, t BIGINT").alias("r")).select("r.*")
        keys = parsed.select("k").distinct().withColumn("matched", F.lit(True))
        rows = (
            parsed.join(keys, "k", "left")
            .withColumn("n", F.row_number().over(Window.partitionBy("k").orderBy(F.col("t").desc())))
            .withColumn("day", F.date_from_unix_date(F.floor(F.col("t") / 86_400_000).cast("int")))
        )
        rows.repartition("day").write.partitionBy("day").parquet(f"{root}/table")
        spark.read.schema(rows.schema).parquet(f"{root}/table").groupBy("k").count().collect()


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    return os.path.realpath(found) if found and os.path.exists(found) else None


def _fingerprint(java: str, java_options: str, extra_class_path: str) -> str:
    """What the archive depends on. The JVM uses an archive only while each jar of its class path has the
    size and modification time it had when recorded, and otherwise silently starts without it, so every
    jar is named by those and by what no copy keeps (inode, change time): a venv rebuilt with the same
    Spark, or a jar replaced by one of the same size and time, makes a new archive."""
    import pyspark

    spark_jars = sorted(Path(os.environ.get("SPARK_HOME") or Path(pyspark.__file__).parent, "jars").glob("*.jar"))
    class_path = [*map(str, spark_jars), *(jar for jar in extra_class_path.split(os.pathsep) if jar)]
    jars = [(jar, *_identity(jar)) for jar in class_path]
    described = json.dumps([java, *_identity(java), pyspark.__version__, java_options, RECIPE, jars])
    return hashlib.sha256(described.encode()).hexdigest()[:16]


def _identity(path: str) -> tuple[int, int, int, int]:
    found = os.stat(path)
    return found.st_size, found.st_mtime_ns, found.st_ctime_ns, found.st_ino


def _recording(archive: Path, pid: int) -> Path:
    return archive.with_name(f"{archive.stem}.{pid}.recording")


def _settle_recordings(java: str, java_options: str, archive: Path, own: Path) -> bool:
    """Of the recordings whose JVM is gone, move the first sound one into place (unless the archive is
    there already) and delete the others; True when another session's JVM is recording it now."""
    recording_now = False
    for note_file in sorted(archive.parent.glob(f"{archive.stem}.*.recording.json")):
        recording = note_file.with_suffix("")
        try:
            note = json.loads(note_file.read_text())
            if process_alive(note["pid"]):
                recording_now = recording_now or recording != own
                continue
            if not archive.exists() and recording.exists() and _sound(java, java_options, recording, note["class_path"]):
                os.replace(recording, archive)
                log.info("the local Spark driver now starts from the class archive %s", archive)
        except (OSError, ValueError, KeyError, subprocess.SubprocessError) as error:
            log.info("left the class archive recording %s aside: %s", recording, error)
        for leftover in (recording, note_file):
            leftover.unlink(missing_ok=True)
    return recording_now and not archive.exists()


def _sound(java: str, java_options: str, recording: Path, class_path: str) -> bool:
    """A JVM of the same class path starts on the archive with every region's checksum verified."""
    command = [java, *java_options.split(), "-Xshare:on", "-XX:+VerifySharedSpaces", f"-XX:SharedArchiveFile={recording}"]
    command += [f"-XX:ErrorFile={recording}.crash.log", "-cp", class_path, "-version"]
    finished = subprocess.run(command, capture_output=True, timeout=VERIFY_TIMEOUT_S, check=False)
    Path(f"{recording}.crash.log").unlink(missing_ok=True)
    return finished.returncode == 0


def _forget_unused(archive: Path) -> None:
    """Mark ``archive`` used now (when there is one), and delete what no session has used for ``UNUSED_DAYS``:
    other archives, and recordings with their notes, which only a later session of their own name settles, and
    none comes once the venv, JDK or options they were named by change. A note whose process still runs is kept."""
    now = time.time()
    try:
        if archive.exists():
            os.utime(archive, (now, now))
    except OSError:
        return
    kinds = ("spark-driver-*.jsa", "spark-driver-*.recording", "spark-driver-*.recording.json")
    for other in (path for kind in kinds for path in archive.parent.glob(kind)):
        try:
            if other != archive and _unused(other, now):
                other.unlink()
                log.info("deleted %s: no session used it for %d days", other, UNUSED_DAYS)
        except FileNotFoundError:
            continue  # another session deleted it meanwhile
        except OSError as error:
            log.info("left the class archive %s: %s", other, error)


def _unused(path: Path, now: float) -> bool:
    """Whether nothing changed ``path`` for ``UNUSED_DAYS``, and, for a note, no process of it runs. A note is written
    as its JVM starts and its recording as the JVM exits, so a note is as old as its recording: a session that ran
    that long leaves a fresh recording beside an old note, and only the note leads a session of its setup to check
    it. An old recording beside a live note is not that process's (its JVM writes one as it exits, fresh)."""
    note = path.name.endswith(".json")
    changed = [path, path.with_suffix("")] if note else [path]
    if any(now - each.stat().st_mtime <= UNUSED_DAYS * 86_400 for each in changed if each.exists()):
        return False
    return not (note and process_alive(_pid(path)))
