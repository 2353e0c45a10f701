"""Any failure of a command as one line that says what to fix, and its exit status.

The CLI's one error boundary (``cli.main``) sends every exception a command raises here, except the
bad input it reports itself with status 2. AWS errors are ``aws_errors``'s; the rest are the
failures of this machine: an interrupted command (130), a full or read-only disk, a missing or
unreadable file, the local job registry locked or corrupt, memory. Anything else is a bug: its
type and message, and ``debug=1`` shows the traceback.
"""

from __future__ import annotations

import errno
import sqlite3

from job_helpers.control.aws_errors import describe

INTERRUPTED, FAILED = 130, 1


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit status 2, nothing created."""


class Failure(Exception):
    """A failure whose message already says what to fix: shown as it is, exit status 1."""


REGISTRY = (
    "the local job registry (_registry/glue.sqlite under profiles.local.lake_root, or build/local-on-aws/ with runner=local)"
)
DEBUG_HINT = "run again with debug=1 (--debug) for the traceback"


def describe_failure(error: BaseException) -> tuple[str, int]:
    """The line and exit status for any exception a command let through."""
    if isinstance(error, KeyboardInterrupt):
        return "interrupted", INTERRUPTED
    if isinstance(error, Failure):
        return str(error), FAILED
    if isinstance(error, Exception):
        described = describe(error)
        if described is not None:
            return described
    if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
        return (
            f"{REGISTRY} is locked by another process ({error}): wait for the other make command or local runner, then run again",
            FAILED,
        )
    if isinstance(error, sqlite3.DatabaseError):
        return (
            f"{REGISTRY} cannot be read ({error}): if the file is damaged, move it aside; a new one is made "
            "(the jobs it listed are forgotten, their data stays)",
            FAILED,
        )
    if isinstance(error, OSError):
        return _os_error(error), FAILED
    if isinstance(error, MemoryError):
        return "out of memory: give the command less to do at once (a shorter date range, fewer workers)", FAILED
    first_line = next((line.strip() for line in str(error).split("\n") if line.strip()), "no message")
    return f"{type(error).__name__}: {first_line}; {DEBUG_HINT}", FAILED


def _os_error(error: OSError) -> str:
    if error.errno is None:
        return f"{type(error).__name__}: {error}; {DEBUG_HINT}"
    where = " ".join(str(name) for name in (error.filename, error.filename2) if name is not None)
    reason = error.strerror or str(error) or type(error).__name__
    subject = f"{reason}: {where}" if where else reason
    if error.errno == errno.ENOSPC:
        return f"{subject}: the disk is full; free space (or point the lake or build folder elsewhere) and run again"
    if error.errno == errno.EDQUOT:
        return f"{subject}: the disk quota is used up; free space and run again"
    if error.errno == errno.EROFS:
        return f"{subject}: the file system is read-only; point the lake or build folder at a writable one"
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"{subject}: this user may not use it; change its permissions or choose another folder"
    if error.errno == errno.ENOENT:
        return f"{subject}: it does not exist (or vanished while the command ran); check the path"
    if error.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        return f"{subject}: a file and a folder are in each other's place; move one, or choose another folder"
    return f"{subject}; {DEBUG_HINT}"
