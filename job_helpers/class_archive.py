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
depends on (the JDK, Spark's version, the JVM options, the jars a session adds, as the aws profile's
local runner adds S3A's, and ``RECIPE``), so a change of any makes a new one. Local sessions only:
Glue starts its own JVMs.
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

log = logging.getLogger(__name__)

VERIFY_TIMEOUT_S = 60
# An archive no session started from for this long is deleted: each JDK, Spark or option change leaves one
# of about 150 MB behind.
UNUSED_DAYS = 30
# Part of every archive's name: a change of what a recording session does makes new archives.
RECIPE = 2
# Recording prints a warning per class it cannot keep (thousands); using the archive says nothing either.
QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"
RECORD = "-XX:ArchiveClassesAtExit="
# Options the environment can give the driver JVM that load an agent with a class-file hook (Flight Recorder,
# a Java agent): such a JVM started on a dynamic archive crashed (SIGSEGV in
# KlassFactory::check_shared_class_file_load_hook, OpenJDK 17.0.15), so it starts without one.
AGENTS = ("-javaagent", "-agentlib", "-agentpath", "FlightRecord")
OPTION_VARIABLES = ("JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "SPARK_SUBMIT_OPTS", "PYSPARK_SUBMIT_ARGS")


def cache_folder() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "job-helpers"


def java_option(java_options: str, extra_class_path: str = "", folder: Path | None = None) -> str:
    """The option that starts the driver JVM from the archive, or records it; "" when neither can be done.

    ``extra_class_path`` is what the session adds to Spark's jars (the S3A jars): their classes are
    archived too, so each class path has an archive of its own.
    """
    java = _java()
    if java is None or _agent_given():
        return ""
    folder = folder or cache_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        archive = folder / f"spark-driver-{_fingerprint(java, java_options, extra_class_path)}.jsa"
    except OSError:
        return ""
    recording = _recording(archive, os.getpid())
    if _settle_recordings(java, java_options, archive, recording):
        return ""  # another session is recording it: one recording is enough
    if archive.exists():
        _forget_unused(archive)
        return f"-XX:SharedArchiveFile={archive} {QUIET}"
    return f"{RECORD}{recording} {QUIET}"


def records(option: str) -> bool:
    """Whether a JVM started with ``option`` (from ``java_option``) records the archive."""
    return option.startswith(RECORD)


def note_recording(spark: Any, option: str) -> None:
    """Beside a recording this session's JVM makes, note that JVM's pid and class path (for the check)."""
    if not records(option):
        return
    jvm = spark._jvm
    note = {"pid": int(jvm.java.lang.ProcessHandle.current().pid()), "class_path": str(jvm.System.getProperty("java.class.path"))}
    Path(option[len(RECORD) :].split()[0] + ".json").write_text(json.dumps(note))


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


def _agent_given() -> bool:
    for name in OPTION_VARIABLES:
        agent = next((agent for agent in AGENTS if agent in os.environ.get(name, "")), None)
        if agent:
            log.info("the local Spark driver starts without its class archive: %s in %s", agent, name)
            return True
    return False


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    return os.path.realpath(found) if found and os.path.exists(found) else None


def _fingerprint(java: str, java_options: str, extra_class_path: str) -> str:
    import pyspark

    jars = [(jar, os.path.getmtime(jar), os.path.getsize(jar)) for jar in extra_class_path.split(os.pathsep) if jar]
    described = json.dumps([java, os.path.getmtime(java), pyspark.__version__, java_options, RECIPE, jars])
    return hashlib.sha256(described.encode()).hexdigest()[:16]


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
    """Mark ``archive`` used now, and delete the folder's archives no session has started from for ``UNUSED_DAYS``."""
    now = time.time()
    try:
        os.utime(archive, (now, now))
    except OSError:
        return
    for other in archive.parent.glob("spark-driver-*.jsa"):
        try:
            if other != archive and now - other.stat().st_mtime > UNUSED_DAYS * 86_400:
                other.unlink()
                log.info("deleted the class archive %s: no session started from it for %d days", other, UNUSED_DAYS)
        except OSError as error:
            log.info("left the class archive %s: %s", other, error)
