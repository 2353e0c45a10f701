"""Every job script has one shape, so a new job copied from any of them is right the first time."""

from __future__ import annotations

import ast
from pathlib import Path

from job_helpers import job_failed, runtime

REPO = Path(__file__).resolve().parents[1]


def test_job_failed_lives_in_a_module_that_imports_nothing():
    """Argument parsing, data set code and the runtime raise it without pulling in Spark, boto3 or each other."""
    tree = ast.parse(Path(job_failed.__file__).read_text(encoding="utf-8"))
    imports = [ast.unparse(node) for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert imports == []
    assert runtime.JobFailed is job_failed.JobFailed
