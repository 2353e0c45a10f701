"""Stopping what local-runner tests started: every runner and running job their registry knows."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path


def stop_local_runners(database: Path) -> None:
    """Kill the runners and the running job processes recorded in the registry at ``database``."""
    if not database.exists():
        return
    with sqlite3.connect(database) as db:
        pids = [row[0] for row in db.execute("SELECT pid FROM runners")]
        pids += [row[0] for row in db.execute("SELECT job_pid FROM runs WHERE state = 'RUNNING' AND job_pid IS NOT NULL")]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
