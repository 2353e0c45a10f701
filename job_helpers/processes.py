"""Whether a process still runs, asked of its pid: the one probe the local registry and the class archive share."""

from __future__ import annotations

import os


def process_alive(pid: object) -> bool:
    """Whether a process with ``pid`` exists, another user's too (signal 0 checks without sending anything).

    Only a positive pid names one process: ``os.kill`` takes 0 and -1 for process groups, which always
    "exist", and a pid past the kernel's range for none. A pid read from a file may be anything: ``true``
    (``int(True)`` is init's pid 1, alive for ever), ``null`` or a list name no process. Whether it is the process that was recorded
    (not a zombie, not a later one given the same pid) is the caller's question.
    """
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    return True
