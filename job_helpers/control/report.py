"""One batch as a self-contained HTML page: a timeline of every attempt, DPU-hours per chunk, failures.

Everything is inline (CSS and SVG, no script, no network), so the file can be mailed or opened
from a bucket. Built from the same summary ``status --json`` prints; every text from a run
(job names, error messages) is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any

from job_helpers.control.summary import chunk_label, cost_line, usd

STATE_COLOURS = {
    "SUCCEEDED": "#2e7d32",
    "FAILED": "#c62828",
    "ERROR": "#c62828",
    "TIMEOUT": "#ad1457",
    "STOPPED": "#f9a825",
    "EXPIRED": "#8d6e63",
    "RUNNING": "#0277bd",
    "STARTING": "#0277bd",
    "WAITING": "#9e9e9e",
}
ROW = 22
LABEL = 190
WIDTH = 900
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#212121;max-width:1000px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.totals{color:#424242;margin:0 0 12px}.legend span{display:inline-block;margin-right:12px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
svg text{font-size:11px;font-family:inherit}
table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid #e0e0e0;padding:4px 8px;text-align:left}
td.num{text-align:right}td:first-child,td.num{white-space:nowrap}pre{white-space:pre-wrap;margin:0;font-size:12px}
"""


def render(summary: Mapping[str, Any], now: datetime | None = None) -> str:
    """The HTML page of one batch summary (as ``summary.batch_summary`` returns it)."""
    now = now or datetime.now(UTC)
    chunks = summary["chunks"]
    schedule = summary.get("schedule")
    title = f"Schedule of {schedule['job']}" if schedule else f"Batch {summary['batch']} ({', '.join(summary['jobs'])})"
    counts = ", ".join(f"{count} {state}" for state, count in summary["counts"].items()) or "no runs"
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p class=totals>{escape(counts)}; {escape(cost_line(summary))}. Generated {now:%Y-%m-%d %H:%M} UTC.</p>",
        "<h2>Timeline</h2>",
        _legend(chunks),
        _timeline(chunks, now),
        "<h2>DPU-hours per chunk</h2>",
        _dpu_bars(chunks),
        "<h2>Failures</h2>",
        _failures(chunks),
        "</body></html>",
    ]
    return "\n".join(parts)


def _label(chunk: Mapping[str, Any]) -> str:
    return chunk["job_name"] if chunk["from"] is None else chunk_label(chunk["from"], chunk["to"])


def _legend(chunks: list) -> str:
    states = sorted({run["state"] for chunk in chunks for run in chunk["runs"]})
    items = "".join(f"<span><i style='background:{_colour(s)}'></i>{escape(s)}</span>" for s in states)
    return f"<div class=legend>{items}</div>"


def _timeline(chunks: list, now: datetime) -> str:
    """One row per chunk, one bar per attempt from its start to its end (or now, while it runs)."""
    spans = []
    for chunk in chunks:
        for run in chunk["runs"]:
            if run["started_on"]:
                start = datetime.fromisoformat(run["started_on"])
                end = datetime.fromisoformat(run["completed_on"]) if run["completed_on"] else now
                spans.append((start, max(end, start)))
    if not spans:
        return "<p>No run has started yet.</p>"
    first = min(start for start, _ in spans)
    last = max(end for _, end in spans)
    total = max((last - first).total_seconds(), 1.0)
    scale = (WIDTH - LABEL - 10) / total
    height = ROW * len(chunks) + 24
    rows = []
    for index, chunk in enumerate(chunks):
        y = index * ROW
        rows.append(f"<text x=0 y={y + 15}>{escape(_label(chunk))}</text>")
        for attempt, run in enumerate(chunk["runs"], start=1):
            if not run["started_on"]:
                continue
            start = datetime.fromisoformat(run["started_on"])
            end = datetime.fromisoformat(run["completed_on"]) if run["completed_on"] else now
            x = LABEL + (start - first).total_seconds() * scale
            width = max((end - start).total_seconds() * scale, 2.0)
            tip = f"attempt {attempt}: {run['state']}, {run['duration_seconds'] or 0:.0f} s"
            rows.append(
                f"<rect x={x:.1f} y={y + 4} width={width:.1f} height={ROW - 8} fill='{_colour(run['state'])}'>"
                f"<title>{escape(tip)}</title></rect>"
            )
    axis = (
        f"<text x={LABEL} y={height - 4}>{first:%H:%M:%S}</text>"
        f"<text x={WIDTH - 10} y={height - 4} text-anchor=end>{last:%H:%M:%S} UTC ({total:.0f} s)</text>"
    )
    return f"<svg width={WIDTH} height={height} role=img aria-label=timeline>{''.join(rows)}{axis}</svg>"


def _dpu_bars(chunks: list) -> str:
    peak = max((chunk["dpu_hours"] for chunk in chunks), default=0.0) or 1.0
    rows = []
    for chunk in chunks:
        width = 300 * chunk["dpu_hours"] / peak
        bar = f"<svg width=300 height=12><rect width={width:.1f} height=12 fill='#5c6bc0'></rect></svg>"
        rows.append(
            f"<tr><td>{escape(_label(chunk))}</td><td class=num>{chunk['attempts']}</td>"
            f"<td class=num>{chunk['dpu_hours']:.3f}</td><td class=num>{usd(chunk['price_usd'])}</td>"
            f"<td class=num>{_records(chunk)}</td><td>{bar}</td></tr>"
        )
    head = "<tr><th>Chunk</th><th>Attempts</th><th>DPU-hours</th><th>Price</th><th>Records read → written</th><th></th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _failures(chunks: list) -> str:
    rows = []
    for chunk in chunks:
        for attempt, run in enumerate(chunk["runs"], start=1):
            if run["state"] in ("SUCCEEDED", "RUNNING", "STARTING", "WAITING", "STOPPING"):
                continue
            rows.append(
                f"<tr><td>{escape(_label(chunk))}</td><td class=num>{attempt}</td><td>{escape(run['state'])}</td>"
                f"<td><pre>{escape(run['error'] or '')}</pre></td><td><pre>{escape(run['log'])}</pre></td></tr>"
            )
    if not rows:
        return "<p>No failed attempt.</p>"
    head = "<tr><th>Chunk</th><th>Attempt</th><th>State</th><th>Error</th><th>Log</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _records(chunk: Mapping[str, Any]) -> str:
    if chunk.get("records_read") is None:
        return "-"
    if chunk["nothing_to_read"]:
        return "nothing to read"
    return escape(f"{chunk['records_read']:,} → {chunk['records_written']:,}")


def _colour(state: str) -> str:
    return STATE_COLOURS.get(state, "#757575")
