"""Row counts taken on the way by the action that writes a table (Spark's observed metrics), not by a count each.

``Counts(frame, name=condition, …)`` puts one count per condition in ``frame``'s plan; use
``counts.frame`` downstream and read ``counts[name]`` once an action ran it. Spark reports an
observation when the first action through it ends. It leaves an observed part of a plan out when it
can tell that part is empty (a join with an empty side, a filter it knows is false), and the metrics
then never come: after ``WAIT_S`` the same counts are taken by one aggregate of the same frame. The
numbers are the same either way; only that rare case costs an action.
"""

from __future__ import annotations

import threading
import uuid

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F

# How long a finished action's metrics may take to arrive (Spark's listener bus posts them a moment later).
WAIT_S = 5.0


class Counts:
    """Named counts of the rows of a DataFrame that meet a condition, observed by the first action through it."""

    def __init__(self, frame: DataFrame, **conditions: Column) -> None:
        self._source = frame
        self._metrics = [F.count(F.when(condition, 1)).alias(name) for name, condition in conditions.items()]
        self._observation = Observation(f"counts-{uuid.uuid4().hex}")
        self.frame = frame.observe(self._observation, *self._metrics)
        self._values: dict[str, int] | None = None

    def __getitem__(self, name: str) -> int:
        return self.as_dict()[name]

    def as_dict(self) -> dict[str, int]:
        """The counts, as observed by the first action through ``frame`` (or aggregated, see the module)."""
        if self._values is None:
            observed = self._observed()
            if observed is None:
                return self.aggregated()
            self._values = {name: int(value or 0) for name, value in observed.items()}
        return self._values

    def aggregated(self) -> dict[str, int]:
        """The counts taken now, by one aggregate of the frame: for a run that stops before any action ran it."""
        row = self._source.agg(*self._metrics).first()
        self._values = {name: int(value or 0) for name, value in (row.asDict() if row is not None else {}).items()}
        return self._values

    def _observed(self) -> dict[str, int] | None:
        """The observed metrics, or None when none came within ``WAIT_S`` (``Observation.get`` waits forever)."""
        found: dict[str, int] = {}
        reader = threading.Thread(target=lambda: found.update(self._observation.get), daemon=True)
        reader.start()
        reader.join(WAIT_S)
        return None if reader.is_alive() else found


def every_row() -> Column:
    """The condition that counts every row."""
    return F.lit(True)
