"""Fixtures of the ingest tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_helpers import make_src


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """Three generated patient folders below ``incoming/``."""
    return make_src(tmp_path / "incoming")
