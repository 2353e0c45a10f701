"""The local driver's class-data-sharing archive: recorded by a first session, used only once checked sound."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from job_helpers import class_archive

OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def folder(tmp_path):
    if class_archive._java() is None:
        pytest.skip("no java")
    return tmp_path / "cache"


def test_a_first_session_records_the_archive_under_a_name_of_its_own(folder):
    option = class_archive.java_option(OPTIONS, folder=folder)
    assert option.startswith(f"-XX:ArchiveClassesAtExit={folder}/spark-driver-")
    assert f".{os.getpid()}.recording " in option and "-Xlog:cds=off" in option
    assert class_archive.java_option("-XX:+UseSerialGC", folder=folder).split()[0] != option.split()[0]


def test_each_extra_class_path_has_an_archive_of_its_own_named_by_its_jars_contents(folder, tmp_path):
    jar, other = tmp_path / "hadoop-aws.jar", tmp_path / "aws-java-sdk-bundle.jar"
    jar.write_bytes(b"PK one")
    other.write_bytes(b"PK two")

    def archive_name(extra: str) -> str:
        return class_archive.java_option(OPTIONS, extra, folder=folder).split()[0].rsplit("/", 1)[1].split(".")[0]

    plain, with_jar, with_both = archive_name(""), archive_name(str(jar)), archive_name(f"{jar}{os.pathsep}{other}")
    assert len({plain, with_jar, with_both}) == 3
    jar.write_bytes(b"PK one, rebuilt")
    assert archive_name(str(jar)) != with_jar
    assert class_archive.java_option(OPTIONS, str(tmp_path / "gone.jar"), folder=folder) == ""


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JAVA_TOOL_OPTIONS", "-XX:StartFlightRecording=filename=/tmp/run.jfr"),
        ("_JAVA_OPTIONS", "-Xmx1g -javaagent:/opt/profiler/agent.jar"),
        ("JDK_JAVA_OPTIONS", "-agentlib:jdwp=transport=dt_socket,server=y"),
        ("SPARK_SUBMIT_OPTS", "-agentpath:/opt/async-profiler/libasyncProfiler.so"),
        ("PYSPARK_SUBMIT_ARGS", "--driver-java-options -XX:+FlightRecorder pyspark-shell"),
    ],
)
def test_a_jvm_given_an_agent_by_the_environment_starts_without_an_archive(folder, monkeypatch, variable, value):
    """A class-file hook (Flight Recorder, a Java agent) crashed a JVM started on the archive."""
    assert class_archive.java_option(OPTIONS, folder=folder)
    monkeypatch.setenv(variable, value)
    assert class_archive.java_option(OPTIONS, folder=folder) == ""
    monkeypatch.setenv(variable, "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")  # options without an agent keep it
    assert class_archive.java_option(OPTIONS, folder=folder)


def test_the_archive_is_named_by_each_jar_of_the_class_path_and_the_jvm_options_of_the_environment(folder, tmp_path, monkeypatch):
    """The JVM uses an archive only while its jars keep the size and time they had, and else silently starts
    without it: Spark's own jars were not in the name (a venv rebuilt with the same Spark kept the name of an
    archive no JVM would use), nor what tells a replaced jar of the same size and time, nor the options every
    JVM takes from the environment; a flight recording there crashed the JVM started from an archive."""
    spark_jar, extra = tmp_path / "spark" / "jars" / "spark-core.jar", tmp_path / "hadoop-aws.jar"
    spark_jar.parent.mkdir(parents=True)
    for jar in (spark_jar, extra):
        jar.write_bytes(b"PK classes")
    monkeypatch.setenv("SPARK_HOME", str(spark_jar.parents[1]))
    for name in class_archive.ENVIRONMENT_OPTIONS:
        monkeypatch.delenv(name, raising=False)

    def archive_name() -> str:
        return class_archive.java_option(OPTIONS, str(extra), folder=folder).split()[0].rsplit("/", 1)[1].split(".")[0]

    def replace_keeping_size_and_time(jar) -> None:
        before = jar.stat()
        copy = jar.with_name("copy")
        copy.write_bytes(b"PK CLASSES")
        os.utime(copy, ns=(before.st_atime_ns, before.st_mtime_ns))
        os.replace(copy, jar)

    names = [archive_name()]
    for jar in (spark_jar, extra):
        replace_keeping_size_and_time(jar)
        names.append(archive_name())
    monkeypatch.setenv("JAVA_TOOL_OPTIONS", "-Xss2m")
    names.append(archive_name())
    assert len(set(names)) == len(names) == 4
    for rewriting in ("-javaagent:/opt/agent.jar", "-XX:StartFlightRecording=filename=/tmp/run.jfr"):
        monkeypatch.setenv("JDK_JAVA_OPTIONS", rewriting)
        assert class_archive.java_option(OPTIONS, str(extra), folder=folder) == ""


def test_a_cache_folder_that_fails_a_write_starts_the_session_plainly_and_never_fails_it(spark, folder, caplog):
    """The archive only speeds a start, but a note that could not be written or cleared (a read-only or full
    disk; here a folder or a file in the way) ended local_spark in OSError, the second after its JVM started."""
    option = class_archive.java_option(OPTIONS, folder=folder)
    note = Path(option[len(class_archive.RECORD) :].split()[0] + ".json")
    note.unlink(missing_ok=True)
    note.mkdir()
    assert class_archive.java_option(OPTIONS, folder=folder) == ""

    shutil.rmtree(folder)
    folder.write_bytes(b"")
    class_archive.note_recording(spark, option)
    assert "its note could not be written" in caplog.text


@pytest.mark.subprocess
def test_a_recording_is_claimed_before_its_jvm_starts_so_a_session_starting_meanwhile_starts_plainly(folder):
    """Two sessions starting at once (the suite's two workers, two S3A jobs) both recorded: a recording's note
    was written only once its JVM ran, seconds after its session chose to record. A claim whose process ended
    without a JVM is cleared, and the next session records."""
    claim = (
        "import sys; from pathlib import Path; from job_helpers import class_archive; "
        "print(class_archive.java_option(sys.argv[1], folder=Path(sys.argv[2])), flush=True); sys.stdin.read()"
    )
    command = [sys.executable, "-c", claim, OPTIONS, str(folder)]
    with subprocess.Popen(command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as other:
        assert other.stdout and other.stdin
        assert class_archive.records(other.stdout.readline())
        assert class_archive.java_option(OPTIONS, folder=folder) == ""
        other.stdin.close()
    option = class_archive.java_option(OPTIONS, folder=folder)
    assert class_archive.records(option)
    assert [path.name for path in folder.iterdir()] == [Path(option.split("=", 1)[1].split()[0]).name + ".json"]


@pytest.mark.subprocess
def test_a_cut_off_recording_is_deleted_never_used_and_one_still_being_made_is_left_alone(folder):
    option = class_archive.java_option(OPTIONS, folder=folder)
    recording = folder / option.split("=", 1)[1].split()[0]
    archive = recording.with_name(recording.name.split(".")[0] + ".jsa")
    # A JVM killed while it wrote the archive leaves it cut off: a JVM started on it would crash.
    recording.write_bytes(b"\xc0\xfe\xba\xbe" + b"\0" * 4096)
    gone = _a_dead_pid()
    recording.with_name(recording.name + ".json").write_text(json.dumps({"pid": gone, "class_path": ""}))
    busy = recording.with_name(recording.name.replace(str(os.getpid()), "1"))
    busy.write_bytes(b"")
    busy.with_name(busy.name + ".json").write_text(json.dumps({"pid": os.getpid(), "class_path": ""}))

    assert class_archive.java_option(OPTIONS, folder=folder) == ""  # another session is recording: start plainly
    assert not recording.exists() and not archive.exists()
    assert busy.exists()


def _an_archive_in_place(folder: Path) -> Path:
    """The archive of this setup, as if this process's recording had been settled (its claim gone)."""
    recording = class_archive.java_option(OPTIONS, folder=folder).split()[0].split("=", 1)[1]
    archive = folder / (Path(recording).name.split(".")[0] + ".jsa")
    archive.write_bytes(b"archive")
    Path(f"{recording}.json").unlink()
    return archive


def _recording_and_note(folder: Path, name: str, pid: int) -> tuple[Path, Path]:
    """The paths of another setup's recording (its archive name ending in ``name``) and its note."""
    recording = folder / f"spark-driver-{name:0>16}.{pid}.recording"
    return recording, recording.with_name(recording.name + ".json")


def _a_dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_only_a_recording_session_notes_its_jvm_beside_the_recording(spark, tmp_path):
    recording = tmp_path / "spark-driver-0123456789abcdef.1.recording"
    option = f"-XX:ArchiveClassesAtExit={recording} {class_archive.QUIET}"
    using = f"-XX:SharedArchiveFile={tmp_path / 'spark-driver-0123456789abcdef.jsa'} {class_archive.QUIET}"
    assert class_archive.records(option) and not class_archive.records(using) and not class_archive.records("")

    for each in (option, using, ""):
        class_archive.note_recording(spark, each)

    note = json.loads(recording.with_name(recording.name + ".json").read_text())
    assert note["pid"] == spark._jvm.java.lang.ProcessHandle.current().pid()
    assert "spark-sql" in note["class_path"]
    assert sorted(path.name for path in tmp_path.iterdir()) == [recording.name + ".json"]


def test_the_exercise_runs_each_kind_of_work_on_a_session_and_leaves_no_files(spark, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    class_archive.exercise(spark)
    assert list(tmp_path.iterdir()) == []


def test_an_archive_used_is_marked_so_and_those_unused_for_30_days_are_deleted(folder):
    recording = class_archive.java_option(OPTIONS, folder=folder).split()[0].split("=", 1)[1]
    archive = folder / (Path(recording).name.split(".")[0] + ".jsa")
    archive.write_bytes(b"archive")
    stale, recent, unrelated = (
        folder / "spark-driver-00000000000000aa.jsa",
        folder / "spark-driver-00000000000000bb.jsa",
        folder / "notes.txt",
    )
    for path in (stale, recent, unrelated):
        path.write_bytes(b"x")
    month_and_a_day = time.time() - 31 * 86_400
    for path in (archive, stale, unrelated):
        os.utime(path, (month_and_a_day, month_and_a_day))
    os.utime(recent, (time.time() - 29 * 86_400,) * 2)

    assert class_archive.java_option(OPTIONS, folder=folder) == f"-XX:SharedArchiveFile={archive} {class_archive.QUIET}"
    kept = sorted(path.name for path in folder.iterdir() if not path.name.endswith(".recording.json"))  # this process's claim
    assert kept == sorted([archive.name, recent.name, unrelated.name])
    assert time.time() - archive.stat().st_mtime < 3600


@pytest.mark.subprocess
def test_recordings_and_notes_no_session_settled_for_30_days_are_deleted_unless_their_process_runs(folder):
    """A recording is settled only by a later session of its name; after a venv, JDK or option change none
    comes, and each left ~150 MB in the cache for ever."""
    archive = _an_archive_in_place(folder)
    stale, stale_note = _recording_and_note(folder, "aa", 77)
    claim_only = _recording_and_note(folder, "cc", 78)[1]
    running = _recording_and_note(folder, "dd", 79)[1]
    recent, recent_note = _recording_and_note(folder, "bb", 80)
    stale.write_bytes(b"recording")
    recent.write_bytes(b"recording")
    gone = _a_dead_pid()
    for note, pid in ((stale_note, gone), (claim_only, gone), (running, os.getpid()), (recent_note, gone)):
        note.write_text(json.dumps({"pid": pid}))
    month_and_a_day = time.time() - 31 * 86_400
    for path in (stale, stale_note, claim_only, running):
        os.utime(path, (month_and_a_day, month_and_a_day))
    os.utime(recent, (time.time() - 29 * 86_400,) * 2)

    assert class_archive.java_option(OPTIONS, folder=folder) == f"-XX:SharedArchiveFile={archive} {class_archive.QUIET}"
    assert sorted(path.name for path in folder.iterdir()) == sorted([archive.name, running.name, recent.name, recent_note.name])


@pytest.mark.subprocess
def test_a_session_that_ran_longer_than_30_days_keeps_its_note_beside_the_recording_its_jvm_just_wrote(folder):
    """A note is written as its JVM starts and the recording as it exits: a session of another setup that
    ran for 31 days leaves a fresh recording beside a 31-day-old note, and the clean-up deleted the note
    alone. Only a note leads a session of that setup to check a recording, so its recording then lay unused
    for 30 more days while that setup recorded another. A live process's JVM has written no recording yet
    (or is writing it, fresh), so an old recording beside its live note is another's, and goes."""
    archive = _an_archive_in_place(folder)
    long_run, long_run_note = _recording_and_note(folder, "ee", 81)
    earlier, running = _recording_and_note(folder, "ff", 82)
    long_run.write_bytes(b"recording")
    earlier.write_bytes(b"recording")
    long_run_note.write_text(json.dumps({"pid": _a_dead_pid(), "class_path": ""}))
    running.write_text(json.dumps({"pid": os.getpid(), "class_path": ""}))
    month_and_a_day = time.time() - 31 * 86_400
    for path in (long_run_note, earlier, running):
        os.utime(path, (month_and_a_day, month_and_a_day))

    assert class_archive.java_option(OPTIONS, folder=folder) == f"-XX:SharedArchiveFile={archive} {class_archive.QUIET}"
    kept = [archive, long_run, long_run_note, running]
    assert sorted(path.name for path in folder.iterdir()) == sorted(path.name for path in kept)


def test_a_session_that_starts_from_no_archive_deletes_what_no_session_used_for_30_days_too(folder, monkeypatch):
    """Only a session starting from an archive cleaned the folder: a setup none of whose sessions ever does
    (each records and its recording never proves sound, its name changes every run, a Java agent in the
    environment) left every earlier setup's archives and recordings, ~150 MB each, in the cache for good."""
    month_and_a_day = time.time() - 31 * 86_400

    def stale(name: str) -> Path:
        path = folder / name
        path.write_bytes(b"x")
        os.utime(path, (month_and_a_day, month_and_a_day))
        return path

    folder.mkdir()
    archive, recording = stale("spark-driver-00000000000000aa.jsa"), stale("spark-driver-00000000000000bb.77.recording")
    assert class_archive.records(class_archive.java_option(OPTIONS, folder=folder))
    assert not archive.exists() and not recording.exists()

    archive = stale("spark-driver-00000000000000aa.jsa")
    monkeypatch.setenv("JAVA_TOOL_OPTIONS", "-javaagent:/opt/agent.jar")
    assert class_archive.java_option(OPTIONS, folder=folder) == ""
    assert not archive.exists()
