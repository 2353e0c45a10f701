"""Loops over every byte of a day's Avro data, compiled by numba on first use.

Checking a block's count means walking its records, and reading a container back means walking
its block headers: per record or per block, Python would cost microseconds, a compiled loop
nanoseconds. numba takes about a second to import and compile, so a kernel (a plain function
over numpy arrays and integers) is compiled the first time it is called, and kept in numba's
on-disk cache (``__pycache__`` beside the source, or a user cache folder for a zipped package, as
on Glue): the next process loads it in a tenth of the time, until the source changes.

The cache only saves time: a folder that cannot be written (a read-only checkout, ``HOME``
unwritable on a worker), a full disk or a damaged cache file is logged and the kernel compiled
in this process, never a failed job.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
_COMPILED: dict[Callable[..., Any], Any] = {}


def compiled(kernel: Callable[..., Any]) -> Callable[..., Any]:
    """``kernel`` compiled by numba (without the GIL, so days merged in threads run in parallel)."""
    function = _COMPILED.get(kernel)
    if function is None:
        with _LOCK:
            if kernel not in _COMPILED:
                _COMPILED[kernel] = _cached_dispatcher(kernel)
            function = _COMPILED[kernel]
    return function


def _cached_dispatcher(kernel: Callable[..., Any]) -> Any:
    """numba's dispatcher for ``kernel`` with an on-disk cache whose failures are misses, when a cache folder exists."""
    import numba
    from numba.core.caching import FunctionCache

    class ForgivingCache(FunctionCache):
        """numba's cache with every load or save failure logged and treated as a miss (numba forgives only
        Windows' access errors)."""

        @contextlib.contextmanager
        def _guard_against_spurious_io_errors(self) -> Iterator[None]:
            try:
                yield
            except Exception as error:  # a cache is an optimisation: any failure of it means compiling
                log.warning(
                    "numba cache %s unusable (%s: %s); compiled in this process", self.cache_path, type(error).__name__, error
                )

    dispatcher = numba.njit(nogil=True)(kernel)
    try:
        dispatcher._cache = ForgivingCache(kernel)  # type: ignore[attr-defined]  # where enable_caching() puts numba's own
    except (OSError, RuntimeError) as error:  # numba finds no writable folder for the cache
        log.warning("numba cannot cache %s (%s); compiled in each process", kernel.__qualname__, error)
    return dispatcher
