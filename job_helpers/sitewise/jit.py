"""Loops over every byte of a day's Avro data, compiled by numba on first use.

Checking a block's count means walking its records, and reading a container back means walking
its block headers: per record or per block, Python would cost microseconds, a compiled loop
nanoseconds. numba takes about a second to import and compile, so a kernel (a plain function
over numpy arrays and integers) is compiled the first time it is called, and kept in numba's
on-disk cache (``__pycache__`` beside the source, or a user cache folder for a zipped package, as
on Glue): the next process loads it in a tenth of the time, until the source changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_LOCK = threading.Lock()
_COMPILED: dict[Callable[..., Any], Any] = {}


def compiled(kernel: Callable[..., Any]) -> Callable[..., Any]:
    """``kernel`` compiled by numba (without the GIL, so days merged in threads run in parallel)."""
    function = _COMPILED.get(kernel)
    if function is None:
        with _LOCK:
            if kernel not in _COMPILED:
                import numba

                _COMPILED[kernel] = numba.njit(nogil=True, cache=True)(kernel)
            function = _COMPILED[kernel]
    return function
