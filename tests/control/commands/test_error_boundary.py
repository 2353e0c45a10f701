"""One error boundary: whatever a command raises is one ``error:`` line on standard error with exit 1 or 2 (130 when
interrupted), and a traceback only with ``--debug``. Each failure is injected where it happens."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from job_helpers.control import cli, local_registry
from job_helpers.control.local_registry import registry_path
from job_helpers.ingest.sample_data import build_header
from job_helpers.storage import Storage

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def only_the_runs_commands() -> None:
    """Every command module, not only the runs commands the other tests of this folder use."""


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    return tmp_path / "lake"


def run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    status = cli.main(["--config", str(REPO / "config.yml"), "--profile", "local", *arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_error_line(err: str, *expected: str) -> None:
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err


def test_a_locked_registry(lake, capsys, monkeypatch):
    path = registry_path(lake)
    path.parent.mkdir(parents=True)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE held (x)")
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(local_registry, "BUSY_TIMEOUT_SECONDS", 0.1)
    try:
        status, out, err = run(capsys, "status")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert status == 1 and out == ""
    assert_one_error_line(err, "the local job registry", "is locked by another process (database is locked)", "wait for")


def test_a_corrupt_registry(lake, capsys):
    path = registry_path(lake)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a database at all " * 200)
    for command in ("status", "cleanup", "retry"):
        status, out, err = run(capsys, command)
        assert status == 1 and out == "", command
        assert_one_error_line(err, "the local job registry", "cannot be read (file is not a database)", "move it aside")


def test_a_missing_registry_and_a_registry_that_cannot_be_made(lake, capsys):
    status, out, err = run(capsys, "report")
    assert status == 2 and out == ""
    assert_one_error_line(err, "no batches yet")
    status, out, err = run(capsys, "status")
    assert (status, out, err) == (0, "No batches yet: start one with `make execute`.\n", "")
    other = lake.parent / "other-lake"
    other.mkdir()
    blocker = registry_path(other).parent
    blocker.write_text("a file where the registry's folder goes", encoding="utf-8")
    status = cli.main(["--config", str(REPO / "config.yml"), "--set", f"profiles.local.lake_root={other}", "status"])
    out, err = capsys.readouterr()
    assert status == 1 and out == ""
    assert_one_error_line(err, str(blocker), "a file and a folder are in each other's place")


@pytest.mark.parametrize(
    "sql, expected",
    [
        ("SELECT 'abc", "Error tokenizing"),
        ('SELECT "abc', "Error tokenizing"),
        ("SELECT 1 /* never closed", "Error tokenizing"),
        ("SELECT FROM WHERE (", "does not parse as Athena SQL"),
        ("SELECT [/bold] FROM x", "does not parse as Athena SQL"),
    ],
    ids=["open-quote", "open-identifier", "open-comment", "syntax", "markup"],
)
def test_a_query_that_does_not_parse(lake, capsys, monkeypatch, sql, expected):
    """Refused before an engine starts: no DuckDB connection is made for a query that does not parse."""
    import duckdb

    def no_engine(*args, **kwargs):
        raise AssertionError("an engine was started for a query that does not parse")

    monkeypatch.setattr(duckdb, "connect", no_engine)
    status, out, err = run(capsys, "query", "--sql", sql)
    assert status == 2 and out == ""
    assert_one_error_line(err, expected)


def test_a_query_the_local_engine_fails_at_run_time_is_one_line(lake, capsys):
    status, out, err = run(capsys, "query", "--sql", "SELECT nope FROM (SELECT 1 AS n) AS t")
    assert status == 2 and out == ""
    assert_one_error_line(err, "the query failed: Binder Error")
    status, out, err = run(capsys, "query", "--sql", "SELECT CAST(x AS INTEGER) FROM (SELECT 'boom [/bold] \x1b[2J' AS x) AS t")
    assert status == 1 and out == ""
    assert_one_error_line(err, "the query failed while running: Conversion Error", "boom [/bold] \\x1b[2J")


def test_a_full_disk_during_ingest(lake, capsys, monkeypatch, tmp_path):
    source = tmp_path / "incoming"
    recording = source / "Doe_Jane" / "EEG" / "first.edf"
    recording.parent.mkdir(parents=True)
    header = build_header("X F 01-JAN-1970 Doe_Jane", "routine EEG", datetime(2024, 3, 1, 9, 30), 2, 1, 1, 8)
    recording.write_bytes(header + bytes(2 * 8 * 2))

    def disk_full(self, source, url, **options):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), url)

    monkeypatch.setattr(Storage, "upload", disk_full)
    map_file = tmp_path / "secrets" / "map.json"
    status, out, err = run(
        capsys, "--set", f"ingest.subject_map.file={map_file}", "ingest", "--src", str(source), "--dataset", "eeg"
    )
    assert status == 1
    assert_one_error_line(err, "No space left on device: file://", "the disk is full; free space")


def test_interrupted(lake, capsys, monkeypatch):
    def interrupted(self, prefix_url):
        raise KeyboardInterrupt

    monkeypatch.setattr(Storage, "list", interrupted)
    status, out, err = run(capsys, "inspect", "--dataset", "stedi.customer_landing")
    assert (status, out, err) == (130, "", "error: interrupted\n")


def test_a_bug_is_one_line_and_debug_shows_the_traceback(lake, capsys, monkeypatch):
    def broken(self, prefix_url):
        raise ValueError("unexpected value [/bold]\nsecond line of detail")

    monkeypatch.setattr(Storage, "list", broken)
    status, out, err = run(capsys, "inspect", "--dataset", "stedi.customer_landing")
    assert status == 1 and out == ""
    assert_one_error_line(err, "ValueError: unexpected value [/bold]; run again with debug=1")
    with pytest.raises(ValueError, match="unexpected value"):
        run(capsys, "--debug", "inspect", "--dataset", "stedi.customer_landing")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            ["query", "--sql", "select 1", "--bogus\x1b]0;pwned\x1b\\"],
            "unrecognized arguments: --bogus\\x1b]0;pwned\\x1b\\",
        ),
        (["query", "--sql", "select 1", "\x1b[2J"], "unrecognized arguments: \\x1b[2J"),
        (["status", "--log-lines", "0"], "status: argument --log-lines: '0' is not a number of lines from 1 to 10000"),
        (["config"], "config: the following arguments are required: <action>"),
        (["stack", "drop\u202e"], "stack: argument <action>: invalid choice: 'drop\\u202e'"),
        ([], "the following arguments are required: <command>"),
        (["--profile", "prod"], "argument --profile: invalid choice: 'prod'"),
    ],
    ids=[
        "osc-in-an-unknown-option",
        "csi-as-a-stray-positional",
        "bad-value",
        "no-action",
        "bad-action",
        "no-command",
        "top-level",
    ],
)
def test_argparse_errors_are_one_escaped_error_line_with_status_2(lake, capsys, arguments, expected):
    """Stock argparse printed its usage and the raw argument (escape sequences and all) and exited by itself."""
    status, out, err = run(capsys, *arguments)
    assert status == 2 and out == ""
    assert_one_error_line(err, expected, "--help` lists the options")
    assert "\x1b" not in err and "\u202e" not in err and "usage:" not in err


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--days", "99999999999"], "argument --days: '99999999999' is not a whole number from 1 to 3,652,058 in ASCII digits"),
        (["--days", "1_0"], "argument --days: '1_0' is not a whole number from 1 to 3,652,058"),
        (["--series", "\uff13"], "argument --series: '\uff13' is not a whole number from 1 to 9,223,372,036,854,775,807"),
        (["--dataset", "embrace", "--seconds-per-day", "86401"], "'86401' is not a whole number from 1 to 86,400"),
        (["--start", "9999-12-30", "--days", "2"], "--start 9999-12-30 and --days 2 end after 9999-12-30, the last day"),
    ],
    ids=["days-past-the-calendar", "underscore", "full-width-digit", "more-seconds-than-a-day", "last-day-and-one"],
)
def test_sample_data_numbers_are_ascii_and_bounded_before_anything_is_written(lake, capsys, arguments, expected):
    """int() took ３ and 1_0; --days 99999999999 ended in OverflowError, --seconds-per-day had no most
    (86401 ran on), and --start 9999-12-30 --days 2 wrote a day no job can cover."""
    options = arguments if "--dataset" in arguments else ["--dataset", "sitewise", *arguments]
    status, out, err = run(capsys, "sample-data", *options)
    assert status == 2 and out == ""
    assert expected in err and err.count("error:") == 1
    assert not lake.exists() or not any(path.is_file() for path in lake.rglob("*"))


@pytest.mark.parametrize("lines", ["\u00b2", "\uff13"])
def test_status_log_lines_take_only_ascii_digits(lake, capsys, lines):
    """isdigit() took ² (which int() then refused: 'invalid _log_lines value') and ３."""
    status, _, err = run(capsys, "status", "--log-lines", lines)
    assert status == 2 and f"argument --log-lines: '{lines}' is not a number of lines from 1 to 10000" in err


def test_help_still_prints_the_usage_on_standard_output(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["status", "--help"])
    captured = capsys.readouterr()
    assert exited.value.code == 0 and captured.out.startswith("usage: python -m job_helpers status") and captured.err == ""


def test_config_errors_exit_2_with_every_problem_listed(tmp_path, capsys):
    document = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))
    document["project"]["max_jobs_per_batchh"] = 3
    document["stedi"]["max_reject_shar"] = 0.5
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert cli.main(["--config", str(config), "config", "check"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert captured.out == "" and lines[0] == "error: config.yml is invalid:" and len(lines) == 3
    assert {line.split(":")[0].strip() for line in lines[1:]} == {"project.max_jobs_per_batchh", "stedi.max_reject_shar"}


def subprocess_env(**extra: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("LC_", "LANG", "PYTHONIO"))}
    return {**environment, "PYTHONPATH": str(REPO), **extra}


@pytest.mark.parametrize(
    "arguments",
    [["paths"], ["config", "show"], ["paths", "--json"], ["config", "check"]],
    ids=["plain", "yaml", "json", "rich"],
)
@pytest.mark.subprocess
def test_output_to_a_reader_that_went_away(tmp_path, arguments):
    """`… | head -1` once head has left: no traceback and no 'Exception ignored', exit 1.

    The pipe's reading end is closed before the command starts, so its first write fails, however
    large the pipe's buffer is."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "job_helpers", *arguments],
            cwd=REPO,
            env=subprocess_env(LAKE_ROOT=str(tmp_path / "lake")),
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert (completed.returncode, completed.stderr.decode()) == (1, "")


@pytest.mark.subprocess
def test_characters_the_terminal_cannot_encode(tmp_path):
    """LANG=C without Python's UTF-8 mode: an ASCII terminal. Names outside ASCII are written as escapes."""
    document = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))
    document["datasets"]["etudes"] = {"bucket": "stedi", "prefix": "données/東京/"}
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    environment = subprocess_env(LANG="C", LC_ALL="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0", LAKE_ROOT=str(tmp_path))
    shown = {}
    # Arguments stay ASCII: under LANG=C Python reads the command line as ASCII too.
    for arguments in (["paths"], ["inspect", "--dataset", "etudes"], ["config", "show", "--json"]):
        completed = subprocess.run(
            [sys.executable, "-m", "job_helpers", "--config", str(config), *arguments],
            cwd=REPO,
            env=environment,
            capture_output=True,
            timeout=120,
        )
        assert (completed.returncode, completed.stderr) == (0, b""), completed.stderr.decode()
        shown[arguments[0]] = completed.stdout.decode("ascii")
    assert "donn\\xe9es/\\u6771\\u4eac/" in shown["paths"]
    assert "etudes: file://" in shown["inspect"] and "donn\\xe9es/\\u6771\\u4eac/" in shown["inspect"]
    assert "donn\\u00e9es/\\u6771\\u4eac/" in shown["config"]
