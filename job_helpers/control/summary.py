"""A batch as plain data: per chunk its attempts, duration, DPU-hours, price, error and log,
the rows each publish replaced and added, and the scopes a publish left half-replaced.

``status`` prints it as a table or JSON and ``report`` draws it, so all three show the same
figures. Pure logic: the caller passes where each run's log is, and the open claims it found.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

from job_helpers.control.config import JobSpec
from job_helpers.control.cost import Cost, Rates, billed, cost, execution_class, rates_summary
from job_helpers.control.runs import SUCCEEDED, BatchStatus, RunStatus
from job_helpers.publish import OpenClaim, describe_delta


class AttemptSummary(TypedDict):
    """One run of a chunk."""

    run_id: str
    state: str
    started_on: str | None
    completed_on: str | None
    duration_seconds: float | None
    dpu_hours: float | None
    estimate: bool
    execution_class: str
    error: str | None
    log: str


class HalfReplaced(TypedDict):
    """A scope a publish claimed and never committed, its run over."""

    table: str
    scope: str
    run: str
    job: str | None
    job_run: str | None
    claimed_at: str


# A chunk's latest run, its attempts and what its run report says ("from" is a keyword, hence this form).
ChunkSummary = TypedDict(
    "ChunkSummary",
    {
        "job_name": str,
        "job": str | None,
        "from": str | None,
        "to": str | None,
        "logical_time": str | None,
        "state": str,
        "attempts": int,
        "duration_seconds": float | None,
        "dpu_hours": float,
        "price_usd": float | None,
        "estimate": bool,
        "error": str | None,
        "log": str,
        "records_read": int | None,
        "records_written": int | None,
        "published": dict[str, Any] | None,
        "half_replaced": list[HalfReplaced],
        "nothing_to_read": bool,
        "runs": list[AttemptSummary],
    },
)


class ScheduleState(TypedDict):
    """A schedule's cron and window, and the days its firings left missing (``status --schedule``, ``report``)."""

    job: str
    installed: str | None
    missing_days: list[str]
    cron: NotRequired[str]
    zone: NotRequired[str]
    lag_days: NotRequired[int]
    days_per_job: NotRequired[int]
    created: NotRequired[str]
    due_days: NotRequired[int]


class BatchSummary(TypedDict):
    """What ``status --json`` prints and ``report`` draws: the batch's chunks, counts and cost."""

    batch: str
    jobs: list[str]
    chunks: list[ChunkSummary]
    never_started: list[str]
    counts: dict[str, int]
    succeeded: bool
    half_replaced: list[HalfReplaced]
    dpu_hours: float
    price_usd: float | None
    unpriced_dpu_hours: float
    estimate: bool
    rates_usd_per_dpu_hour: Mapping[str, object]
    schedule: NotRequired[ScheduleState]


def batch_summary(
    found: BatchStatus,
    jobs: Mapping[str, JobSpec],
    rates: Rates,
    run_log: Callable[[RunStatus], str],
    records: Mapping[str, Mapping[str, Any]] | None = None,
    claims: Sequence[OpenClaim] = (),
    now: float | None = None,
) -> BatchSummary:
    """The JSON-ready summary of a batch.

    ``jobs`` are the configured jobs by key, for the local estimate; ``records`` the run reports
    by run id (what a run read and wrote, and the rows of each table it published). ``claims``
    are the uncommitted claims found in the tables the batch's jobs name: a scope is
    half-replaced when the run that claimed it is over (it ended, or its lease ran out by ``now``).
    """
    records = records or {}
    half = half_replaced(found, claims, time.time() if now is None else now)
    chunks: list[ChunkSummary] = []
    total = Cost(estimate=rates.estimated)
    for latest in found.runs:
        job = jobs.get(found.job_of.get(latest.job_name, ""))
        attempts = list(found.attempts_of(latest))
        spent = cost(attempts, job, rates)
        total += spent
        duration = latest.duration()
        counted = records.get(latest.run_id) or {}
        chunks.append(
            {
                "job_name": latest.job_name,
                "job": found.job_of.get(latest.job_name),
                "from": latest.from_date,
                "to": latest.to_date,
                "logical_time": latest.logical_time,
                "state": latest.state,
                "attempts": len(attempts),
                "duration_seconds": None if duration is None else round(duration.total_seconds(), 3),
                "dpu_hours": round(spent.dpu_hours, 6),
                "price_usd": _price(spent),
                "estimate": spent.estimate,
                "error": latest.error,
                "log": run_log(latest),
                "records_read": counted.get("read"),
                "records_written": counted.get("written"),
                "published": counted.get("published"),
                "half_replaced": [claim for claim in half if claim["job_run"] in {run.run_id for run in attempts}],
                "nothing_to_read": latest.state == SUCCEEDED and counted.get("read") == 0,
                "runs": [_attempt(run, job, run_log) for run in attempts],
            }
        )
    counts: dict[str, int] = {}
    for chunk in chunks:
        counts[chunk["state"]] = counts.get(chunk["state"], 0) + 1
    return {
        "batch": found.batch,
        "jobs": list(found.job_keys),
        "chunks": chunks,
        "never_started": list(found.never_started),
        "counts": dict(sorted(counts.items())),
        "succeeded": all(chunk["state"] == SUCCEEDED for chunk in chunks) and not found.never_started,
        "half_replaced": half,
        "dpu_hours": round(total.dpu_hours, 6),
        "price_usd": _price(total),
        "unpriced_dpu_hours": round(total.unpriced_dpu_hours, 6),
        "estimate": total.estimate,
        "rates_usd_per_dpu_hour": rates_summary(rates),
    }


def _price(spent: Cost) -> float | None:
    """The price, or None when no DPU-hour of it has a price (a region or worker type config.yml has none for)."""
    if spent.unpriced_dpu_hours and not spent.price_usd:
        return None
    return round(spent.price_usd, 6)


def cost_line(summary: Mapping[str, Any]) -> str:
    """The batch's DPU-hours and price in words: what is estimated and what has no price, said."""
    rates = summary["rates_usd_per_dpu_hour"]
    hours = f"{summary['dpu_hours']:.3f} DPU-hours"
    if summary["price_usd"] is None:
        return f"{hours}; no price: config.yml lists no Glue price for {rates['region']} (project.glue_prices)"
    kind = "estimate" if summary["estimate"] else "at list prices"
    line = (
        f"{hours}, about {usd(summary['price_usd'])} ({kind}, {rates['region']}: ${rates['STANDARD']}/DPU-hour, "
        f"Flex ${rates['FLEX']}; billed per second, one minute at least per run)"
    )
    if summary["unpriced_dpu_hours"]:
        line += f"; {summary['unpriced_dpu_hours']:.3f} M-DPU-hours of R workers have no price (project.glue_prices.{rates['region']}.memory_optimized)"
    return line


def half_replaced(found: BatchStatus, claims: Sequence[OpenClaim], now: float) -> list[HalfReplaced]:
    """The claims whose run is over: one of the batch's runs that ended, or any run whose lease ran out."""
    ended = {run.run_id for runs in [found.runs, *found.attempts.values()] for run in runs if run.ended}
    over = [claim for claim in claims if claim.over(now) or claim.who.get("job_run") in ended]
    return [
        {
            "table": claim.table,
            "scope": claim.scope,
            "run": claim.run,
            "job": claim.who.get("job") or None,
            "job_run": claim.who.get("job_run") or None,
            "claimed_at": datetime.fromtimestamp(claim.claimed_at, UTC).isoformat(),
        }
        for claim in sorted(over, key=lambda c: (c.table, c.scope))
    ]


def rows_published(published: Mapping[str, Mapping[str, Any]] | None) -> str:
    """``trusted: 4,116 → 610 rows (-3,506, -85.2%)`` per table a run published, ``-`` for none."""
    if not published:
        return "-"
    parts = []
    for table, done in sorted(published.items()):
        before, after = done.get("rows_before"), done.get("rows_after")
        compared = None if before is None or done.get("row_delta") is None else before + done["row_delta"]
        parts.append(f"{_short(table)}: {describe_delta(before, compared, after)}")
    return "; ".join(parts)


def _short(table: str) -> str:
    """The last two folders of a table's URL, enough to tell a run's tables apart."""
    return "/".join(table.rstrip("/").split("/")[-2:])


def usd(amount: float | None) -> str:
    """Cents, or four decimals for the fractions of a cent that short runs cost; ``-`` for no price."""
    if amount is None:
        return "-"
    return f"${amount:.2f}" if amount >= 0.01 or amount == 0 else f"${amount:.4f}"


def chunk_label(start: str | None, end: str | None) -> str:
    """A chunk's dates as one short text: one day, a range, or (no dates) for a job run once."""
    if start is None:
        return "(no dates)"
    return start if start == end else f"{start} → {end}"


def _attempt(run: RunStatus, job: JobSpec | None, run_log: Callable[[RunStatus], str]) -> AttemptSummary:
    duration = run.duration()
    used = billed(run, job)
    return {
        "run_id": run.run_id,
        "state": run.state,
        "started_on": _iso(run.started_on),
        "completed_on": _iso(run.completed_on),
        "duration_seconds": None if duration is None else round(duration.total_seconds(), 3),
        "dpu_hours": None if used is None else round(used.dpu_hours, 6),
        "estimate": used is None or used.estimate,
        "execution_class": execution_class(run, job),
        "error": run.error,
        "log": run_log(run),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
