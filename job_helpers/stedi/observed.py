"""Row counts taken on the way by the action that writes a table (Spark's observed metrics), not by a count each.

``Counts(frame, name=condition, …)`` puts one count per condition in ``frame``'s plan; use
``counts.frame`` downstream and read ``counts[name]`` once an action ran it. Spark hands an
observation its metrics when the first action through it ends, on its listener bus. It leaves an
observed part of a plan out when it can tell that part is empty (a join with an empty side, a filter
it knows is false), and the metrics then never come. So reading the counts first lets the listener
bus deliver what the finished actions observed, then looks: observed, or taken by one aggregate of
the same frame. The numbers are the same either way; only that rare case costs an action, and
nothing waits on metrics that will not come.
"""

from __future__ import annotations

import uuid

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F


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
            if not observed(self._source, self._observation):
                return self.aggregated()
            self._values = {name: int(value or 0) for name, value in self._observation.get.items()}
        return self._values

    def aggregated(self) -> dict[str, int]:
        """The counts taken now, by one aggregate of the frame: for a run that stops before any action ran it."""
        row = self._source.agg(*self._metrics).first()
        self._values = {name: int(value or 0) for name, value in (row.asDict() if row is not None else {}).items()}
        return self._values


def observed(frame: DataFrame, observation: Observation) -> bool:
    """Whether an action that ended has handed ``observation`` its metrics, so ``observation.get`` returns at once.

    The actions' ends are delivered first (the listener bus emptied), so a finished action's metrics
    are there; when none are, no action ran the observed part and none will hand them later without
    another action. (``Observation.get`` would wait for them for ever, and Spark 3.5 has no call
    that asks without waiting: the observation's ``metrics`` field is read instead.)
    """
    jvm_context = frame.sparkSession.sparkContext._jsc.sc()
    jvm_context.listenerBus().waitUntilEmpty()
    handle = observation._jo
    if handle is None:  # never put in a plan
        return False
    field = handle.getClass().getDeclaredField("metrics")
    field.setAccessible(True)
    return bool(field.get(handle).isDefined())


def every_row() -> Column:
    """The condition that counts every row."""
    return F.lit(True)
