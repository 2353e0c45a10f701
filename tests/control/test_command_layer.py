"""The command layer stays thin: command modules take options and hand them on; backends are built in one place."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONTROL = REPO / "job_helpers" / "control"
COMMANDS = sorted((CONTROL / "commands").glob("*_cmd.py"))
# A test of the profile: settings.profile == "aws", profile != 'local', profile in (...), match on it.
PROFILE_TEST = re.compile(r"\bprofile\s*(==|!=|\bin\b|\bnot in\b)|\bmatch\s+\S*profile\b")
BUILT_BACKEND = re.compile(
    r"\b(GlueBackend|LocalBackend|AthenaEngine|LocalSqlEngine|CrontabScheduler|EventBridgeScheduler)(\.\w+)?\("
)


def test_no_command_module_branches_on_the_profile():
    """Seven profile branches in five command modules went around the Backend protocol; the profile's backends decide."""
    assert COMMANDS
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in COMMANDS
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if PROFILE_TEST.search(line)
    ]
    assert found == [], "\n".join(found)


def test_backends_engines_and_schedulers_are_built_in_control_backends_only():
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sorted(CONTROL.rglob("*.py"))
        if path.name != "backends.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if BUILT_BACKEND.search(line) and not line.lstrip().startswith(("class ", "def ", "return cls("))
    ]
    assert found == [], "\n".join(found)


def test_the_batch_commands_module_holds_options_and_handlers_only():
    """runs_cmd.py held the use cases (912 lines, planning, checks, waiting and output); they live in control/batches."""
    source = (CONTROL / "commands" / "runs_cmd.py").read_text(encoding="utf-8")
    assert len(source.splitlines()) < 250
    assert not re.search(r"\b(Progress|Table|ThreadPoolExecutor|make_backend)\b", source)
