"""Text from data is printed as text by every command that shows it: no markup, no emoji, no control characters.

Each test feeds one command a value holding rich markup (``[/bold]`` crashed ``query`` and ``verify``,
``a[i]b`` printed as ``ab``), an emoji code (``:x:``), terminal escapes (OSC 52 writes the clipboard,
``ESC[2J`` clears the screen), a bidi override (U+202E) and a carriage return, and checks that the
output shows all of it written out and holds none of the raw characters.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from job_helpers.control import cli, output
from job_helpers.control.commands import pipeline_cmd
from job_helpers.control.local_registry import LocalJob, NewRun, Registry, registry_path
from job_helpers.control.pipeline import JobOutcome, PipelineResult
from job_helpers.ingest.transform import Plan
from job_helpers.run_report import RunReport

REPO = Path(__file__).resolve().parents[3]
EVIL = "[/bold] a[i]b :x: \x1b]52;c;SGVsbG8=\x07 \x1b[2J \u202e \r end"
SHOWN = r"[/bold] a[i]b :x: \x1b]52;c;SGVsbG8=\x07 \x1b[2J \u202e \r end"
RAW = ("\x1b", "\x07", "\u202e", "\r")
# A location cannot hold '[' (config refuses what Spark reads as a pattern): the same text with '(' for it.
EVIL_LOCATION = EVIL.replace("[", "(")
SHOWN_LOCATION = SHOWN.replace("[", "(")


@pytest.fixture(autouse=True)
def only_the_runs_commands() -> None:
    """Every command module, not only the runs commands the other tests of this folder use."""


def assert_shown(text: str, times: int = 1, shown: str = SHOWN) -> None:
    assert text.count(shown) >= times, text
    assert not [char for char in RAW if char in text], repr(text)
    assert "❌" not in text and "Traceback" not in text


def test_visible_writes_out_every_hidden_character_and_leaves_text_alone():
    assert output.visible(EVIL) == SHOWN
    assert output.visible("Müller_Jürgen 東京 ✓ tab\there") == "Müller_Jürgen 東京 ✓ tab\\there"
    hidden = "\x00\x7f\x85\x9b\u200b\u200e\u2066\u2069\u2028\u2029\ufeff\U000e0041\udcff"
    assert output.visible(hidden) == (r"\x00\x7f\x85\x9b\u200b\u200e\u2066\u2069\u2028\u2029\ufeff\U000e0041\udcff")


def test_the_error_line_keeps_data_on_its_line(capsys):
    output.error(f"no such key {EVIL}")
    err = capsys.readouterr().err
    assert err == f"error: no such key {SHOWN}\n"


@pytest.fixture
def evil_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository's config with a data set whose prefix holds the hostile text, and a lake under tmp_path."""
    return write_config(tmp_path, monkeypatch, EVIL_LOCATION)


def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefix: str) -> Path:
    document = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))
    document["datasets"]["evil"] = {"bucket": "stedi", "prefix": f"{prefix}/"}
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("COLUMNS", "400")
    return config


def run(capsys: pytest.CaptureFixture[str], config: Path, *arguments: str) -> tuple[int, str, str]:
    status = cli.main(["--config", str(config), "--profile", "local", *arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_paths_config_show_and_inspect(evil_config, capsys):
    status, out, err = run(capsys, evil_config, "paths")
    assert status == 0 and err == ""
    assert_shown(out, shown=SHOWN_LOCATION)
    status, out, _ = run(capsys, evil_config, "paths", "--json")
    assert status == 0 and not [char for char in RAW if char in out]
    assert json.loads(out)["evil"].endswith(f"{EVIL_LOCATION}/")
    status, out, _ = run(capsys, evil_config, "config", "show")
    assert status == 0 and not [char for char in RAW if char in out]
    assert yaml.safe_load(out)["datasets"]["evil"]["prefix"] == f"{EVIL_LOCATION}/"
    status, out, err = run(capsys, evil_config, "inspect", "--dataset", "evil")
    assert status == 0, err
    assert_shown(out, shown=SHOWN_LOCATION)


def test_a_refused_hostile_location_is_named_on_one_visible_error_line(tmp_path, monkeypatch, capsys):
    status, out, err = run(capsys, write_config(tmp_path, monkeypatch, EVIL), "paths")
    assert status == 2 and out == ""
    assert_shown(err)
    assert "Spark reads as a file name pattern" in err


def test_status_and_cleanup_show_a_hostile_error_and_job_name(evil_config, capsys):
    registry = Registry(registry_path(Path(os.environ["LAKE_ROOT"])))
    name = f"glue-etl-{EVIL}"
    job = LocalJob(name, "s.py", "z.zip", {}, 60, "x.log", ".")
    tags = {"source": "glue-etl", "batch": "20240301T000000.000Z", "job": "sitewise_repartition"}
    (run_id,) = registry.add_runs([NewRun(job, tags, {"--from-date": "2024-03-01", "--to-date": "2024-03-01"})], 1)
    Registry(registry.path, alive=lambda pid, since: True).claim_next(os.getpid())
    registry.finish(run_id, "FAILED", 1, f"no such raw key s3://b/{EVIL}")

    status, out, err = run(capsys, evil_config, "status")
    assert status == 0, err
    assert_shown(out, times=2)
    status, out, err = run(capsys, evil_config, "cleanup", "--dry-run")
    assert status == 0, err
    assert_shown(out)
    assert f"WOULD REMOVE - Name: glue-etl-{SHOWN}" in out


def test_query_shows_hostile_values_and_column_names(evil_config, capsys):
    literal = EVIL.replace("'", "''")
    status, out, err = run(capsys, evil_config, "query", "--sql", f"SELECT '{literal}' AS \"[/bold]\", ':x:' AS b")
    assert status == 0, err
    assert_shown(out)
    assert re.search(r"\[/bold\] +.*:x:", out), out
    status, out, err = run(capsys, evil_config, "query", "--json", "--sql", f"SELECT '{literal}' AS v")
    assert status == 0, err
    assert json.loads(out) == {"columns": ["v"], "rows": [[EVIL]]}


def test_verify_shows_a_hostile_key_in_landing(evil_config, capsys):
    landing = Path(os.environ["LAKE_ROOT"]) / "clinical-ingest-landing" / "eeg"
    # "[/bold]" spans a folder and a file name: the key is one string all the same.
    folder = landing / f"x{EVIL.split('/')[0]}"
    folder.mkdir(parents=True)
    (folder / f"{EVIL.split('/', 1)[1]}.edf").write_bytes(b"0")
    status, out, err = run(capsys, evil_config, "verify", "--dataset", "eeg")
    assert status == 1, err
    assert_shown(out)
    assert "unlisted" in out


def test_pipeline_summary_and_ingest_plan(evil_config, capsys):
    from job_helpers.control.commands.ingest_cmd import print_plan

    context = cli.CliContext(evil_config, "local", [])
    result = PipelineResult(EVIL, [JobOutcome(EVIL, "FAILED", 1.0, RunReport(), EVIL)], 2.0)
    pipeline_cmd.print_summary(context, result, {"evil": 3})
    out = capsys.readouterr().out
    assert_shown(out, times=2)
    assert_shown(out, shown=SHOWN_LOCATION)
    print_plan(context, Plan(subjects=(), skipped=(f"{EVIL} (not a patient folder)",)))
    assert_shown(capsys.readouterr().out)


def test_ingest_dry_run_of_a_hostile_file_name_never_prints_it_raw(evil_config, capsys, tmp_path):
    source = tmp_path / "src" / "Doe_John"
    source.mkdir(parents=True)
    (source / f"{EVIL.replace('/', '')}.txt").write_bytes(b"data")
    status, out, err = run(capsys, evil_config, "ingest", "--src", str(tmp_path / "src"), "--dataset", "eeg", "--dry-run")
    assert status in (0, 2), err
    for text in (out, err):
        assert not [char for char in RAW if char in text], repr(text)
        assert "Traceback" not in text


def test_no_command_prints_around_the_output_helper():
    """Every line the CLI shows goes through control/output.py; a test that fails here names the stray call."""
    stray = re.compile(
        r"(?<![\w.])print\(|sys\.std(out|err)\.write|\bConsole\(|rich\.(console|text|markup)\b|\bTextColumn\(|Text\.from_markup"
    )
    files = sorted((REPO / "job_helpers" / "control").rglob("*.py"))
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in files
        if path.name != "output.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if stray.search(line)
    ]
    assert found == [], "\n".join(found)


@pytest.mark.subprocess
def test_a_warning_logged_without_logging_set_up_is_shown_as_text():
    """Python prints such warnings through its handler of last resort; the CLI's writes data out as text."""
    script = (
        "import logging, sys\n"
        "from job_helpers.control import cli\n"
        "from job_helpers.control import output\n"
        "output.show_log_warnings_as_text()\n"
        "logging.getLogger('job_helpers.ingest.read').warning('not ingested: %s', sys.argv[1])\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, EVIL],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0 and completed.stderr == f"not ingested: {SHOWN}\n"
