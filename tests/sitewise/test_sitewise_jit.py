"""numba's on-disk cache of the kernels only saves time: a cache that cannot be used never fails a job."""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any
from zipimport import zipimporter

import numba
import pytest

from job_helpers.sitewise import jit

KERNEL = "def kernel(x):\n    return x * 3 + 1\n"


@pytest.fixture
def no_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither numba's user cache folder (under HOME) nor NUMBA_CACHE_DIR can be created: both lie under a file."""
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("HOME", str(blocker))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(blocker / "numba"))


def _kernel(spec: ModuleSpec | None, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """A fresh function object (compiled afresh by ``jit.compiled``) from the module ``spec`` loads."""
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module.kernel  # type: ignore[no-any-return]


def _source_kernel(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    return _kernel(importlib.util.spec_from_file_location("jit_cache_probe", folder / "jit_cache_probe.py"), monkeypatch)


@pytest.mark.usefixtures("no_cache_folder")
def test_a_kernel_with_no_writable_cache_folder_is_compiled_in_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A checkout whose __pycache__ cannot be written, HOME unwritable: numba finds no folder for the cache.
    (tmp_path / "jit_cache_probe.py").write_text(KERNEL, encoding="utf-8")
    (tmp_path / "__pycache__").write_text("", encoding="utf-8")
    assert jit.compiled(_source_kernel(tmp_path, monkeypatch))(4) == 13


@pytest.mark.usefixtures("no_cache_folder")
def test_a_zipped_kernel_whose_user_cache_folder_cannot_be_made_is_compiled_in_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on Glue: the package imported from its zip, the cache meant for a HOME that cannot be written.
    archive = tmp_path / "helpers.zip"
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("jit_zip_probe.py", KERNEL)
    kernel = _kernel(zipimporter(str(archive)).find_spec("jit_zip_probe"), monkeypatch)
    assert jit.compiled(kernel)(4) == 13


def test_a_damaged_cache_file_is_a_miss_and_is_written_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "jit_cache_probe.py").write_text(KERNEL, encoding="utf-8")
    assert jit.compiled(_source_kernel(tmp_path, monkeypatch))(4) == 13
    [data] = (tmp_path / "__pycache__").glob("jit_cache_probe.kernel-*.nbc")
    data.write_bytes(data.read_bytes()[:100])  # cut short, as by a full disk or a copy interrupted

    damaged = jit.compiled(_source_kernel(tmp_path, monkeypatch))
    assert damaged(4) == 13
    assert sum(damaged.stats.cache_misses.values()) == 1  # type: ignore[attr-defined]

    repaired = jit.compiled(_source_kernel(tmp_path, monkeypatch))
    assert repaired(4) == 13
    assert sum(repaired.stats.cache_hits.values()) == 1  # type: ignore[attr-defined]
