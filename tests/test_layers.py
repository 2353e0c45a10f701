"""Dependencies run one way: CLI → control → job scripts → data set packages → storage and runtime."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from job_helpers.datasets import PACKAGES

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "job_helpers"
# Every registered data set's package (job_helpers/datasets.py; tests/test_datasets.py checks none is left out).
DOMAINS = PACKAGES
UPPER = ("job_helpers.control",)


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def lower_layer_files() -> list[Path]:
    shared = [path for path in PACKAGE.glob("*.py") if path.name != "__main__.py"]
    domains = [path for domain in DOMAINS for path in (PACKAGE / domain).rglob("*.py")]
    return sorted([*shared, *domains, *(REPO / "jobs").glob("*.py")])


@pytest.mark.parametrize("path", lower_layer_files(), ids=lambda path: path.relative_to(REPO).as_posix())
def test_jobs_data_sets_and_shared_modules_never_import_the_control_plane(path):
    upward = sorted(name for name in imported_modules(path) if name.startswith(UPPER) or name == "job_helpers.control")
    assert upward == [], f"{path.relative_to(REPO)} imports {upward}: move what it needs below the control plane"


def test_the_check_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from job_helpers.control.config import Settings\n", encoding="utf-8")
    assert "job_helpers.control.config" in imported_modules(module)
