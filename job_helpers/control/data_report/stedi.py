"""STEDI: the funnel landing → trusted → curated → machine learning, why rows left it, and readings per day.

Counts come from the tables themselves: landing lines (non-blank lines of the landing folders),
rows of the trusted and curated tables (their DDL in ``sql/stedi/``) and the rejects the jobs
set aside (``stedi.rejects``, ``<job>/<scope>/``). What left between landing and trusted without
being rejected was left out by the job's rule (no consent, no matching customer or device).
The customer tables are not dated, so the funnel covers every row; readings per day follow the
report's dates.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from job_helpers.commit_record import COMMITS, read_record, scope
from job_helpers.control.data_report import charts
from job_helpers.control.data_report.page import Numbers, Picture, as_day, percent
from job_helpers.control.data_report.source import Source
from job_helpers.control.data_report.tables import folder_table
from job_helpers.storage import Storage, join

REJECT_COLUMNS = (("reason", "string"), ("source_file", "string"))
READINGS = {
    "accelerometer_trusted": "accelerometer",
    "step_trainer_trusted": "step trainer",
    "machine_learning_curated": "machine learning",
}


def pictures(source: Source) -> list[Picture]:
    rejected = _rejects(source)
    return [funnel(source, rejected), rejects(source, rejected), readings_per_day(source)]


def _rows(source: Source, name: str) -> int:
    table = source.table(name)
    counted = source.lake.aggregate(table, source.lake.files(table), [], [([], "count_all", "rows")])
    return int(counted["rows"][0].as_py() or 0)


def _rejects(source: Source) -> dict[str, dict[str, int]]:
    """Rejected landing lines per job and reason, from each job's latest published scope. Every run publishes
    all the rejects of the landing it read under its own scope (``all``, ``<from>_<to>``): the latest holds
    the landing's as it is now, and an older one is neither counted again nor kept after the landing was
    mended."""
    url = source.url("stedi.rejects")
    table = folder_table("stedi_rejects", url, "json", REJECT_COLUMNS, template="${job}/${scope}/")
    files = source.lake.files(table)
    written: dict[str, dict[str, float]] = defaultdict(dict)
    for file in files:
        job, folder = file.partition["job"], file.partition["scope"]
        written[job][folder] = max(written[job].get(folder, 0.0), file.modified)
    latest = {job: _latest_scope(source.lake.storage, join(url, job), scopes) for job, scopes in written.items()}
    current = [file for file in files if file.partition["scope"] == latest[file.partition["job"]]]
    grouped = source.lake.aggregate(table, current, ["job", "reason"], [([], "count_all", "rows")])
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for row in grouped.to_pylist():
        found[row["job"]][row["reason"] or "(no reason)"] = row["rows"]
    return found


def _latest_scope(storage: Storage, job_url: str, written: dict[str, float]) -> str:
    """The scope folder of the job's rejects its latest run committed; a scope without a commit record (rejects
    written before there were records) is as recent as its newest file."""
    committed = dict(written)
    records = join(job_url, COMMITS) + "/"
    for stored in storage.list(records):
        file_name = stored.url[len(records) :]
        if file_name.endswith(".json") and "/" not in file_name:  # not the open-claims markers below
            name = file_name.removesuffix(".json")
            committed[name] = read_record(storage, scope(job_url, name)).committed_at
    return max(committed, key=lambda name: (committed[name], name))


def funnel(source: Source, rejected: dict[str, dict[str, int]]) -> Picture:
    title = "Funnel: landing → trusted → curated → machine learning"
    landing = {
        name: source.lake.count_lines(source.url(f"stedi.{name}_landing"))
        for name in ("customer", "accelerometer", "step_trainer")
    }
    rows = {
        name: _rows(source, name)
        for name in (
            "customer_trusted",
            "customer_curated",
            "accelerometer_trusted",
            "step_trainer_trusted",
            "machine_learning_curated",
        )
    }
    if not any(landing.values()) and not any(rows.values()):
        return Picture("stedi-funnel", title, "No STEDI landing line and no published row.", None, Numbers(()))

    def rejects_of(job: str) -> int:
        return sum(rejected.get(job, {}).values())

    stages = [
        (
            "customers: landing → trusted",
            landing["customer"],
            rows["customer_trusted"],
            rejects_of("customer_trusted"),
            "no research consent",
        ),
        (
            "customers: trusted → curated",
            rows["customer_trusted"],
            rows["customer_curated"],
            0,
            "no accelerometer reading, or a repeated email",
        ),
        (
            "accelerometer: landing → trusted",
            landing["accelerometer"],
            rows["accelerometer_trusted"],
            rejects_of("accelerometer_trusted"),
            "no consenting customer with that email",
        ),
        (
            "step trainer: landing → trusted",
            landing["step_trainer"],
            rows["step_trainer_trusted"],
            rejects_of("step_trainer_trusted"),
            "device of no curated customer",
        ),
        (
            "step trainer → machine learning",
            rows["step_trainer_trusted"],
            rows["machine_learning_curated"],
            0,
            "no owner's accelerometer reading at that instant",
        ),
    ]
    table_rows = []
    for stage, read, kept, rejected_rows, why in stages:
        left = max(read - kept - rejected_rows, 0)
        table_rows.append((stage, read, kept, rejected_rows, left, why if left else ""))
    svg = charts.bars(
        [row[0] for row in table_rows],
        {
            "kept": [row[2] for row in table_rows],
            "rejected (bad record)": [row[3] for row in table_rows],
            "left out by the rule": [row[4] for row in table_rows],
        },
        axis_label="rows",
        colours={"kept": "#3949ab", "rejected (bad record)": "#e53935", "left out by the rule": "#fdd835"},
    )
    biggest = max(table_rows, key=lambda row: row[3] + row[4])
    reading = (
        f"{landing['customer']:,} landing customers become {rows['customer_curated']:,} curated and "
        f"{rows['machine_learning_curated']:,} machine-learning rows; the step losing most is {biggest[0]} "
        f"({percent(biggest[3] + biggest[4], biggest[1])} of its rows: {biggest[3]:,} rejected, {biggest[4]:,} {biggest[5] or 'left'})."
    )
    header = ("step", "rows in", "kept", "rejected", "left out by the rule", "why they left")
    return Picture("stedi-funnel", title, reading, svg, Numbers(header, table_rows))


def rejects(source: Source, rejected: dict[str, dict[str, int]]) -> Picture:
    title = "Rejected landing records by job and reason"
    rows = sorted(
        ((job, reason, count) for job, reasons in rejected.items() for reason, count in reasons.items()),
        key=lambda r: (-r[2], r[0], r[1]),
    )
    if not rows:
        return Picture("stedi-rejects", title, "No landing record was rejected.", None, Numbers(()))
    svg = charts.bars(
        [f"{job}: {reason}" for job, reason, _ in rows], {"records": [count for _, _, count in rows]}, axis_label="records"
    )
    reading = (
        f"{sum(row[2] for row in rows):,} landing record(s) rejected; the most: {rows[0][2]:,} by {rows[0][0]} ({rows[0][1]})."
    )
    return Picture("stedi-rejects", title, reading, svg, Numbers(("job", "reason", "records"), rows))


def readings_per_day(source: Source) -> Picture:
    title = "Readings per day"
    counts: dict[date, dict[str, int]] = defaultdict(dict)
    for name, label in READINGS.items():
        table = source.table(name)
        files = source.lake.files(table, lambda partition: source.window.holds(as_day(partition["reading_date"])))
        grouped = source.lake.aggregate(table, files, ["reading_date"], [([], "count_all", "rows")])
        for row in grouped.to_pylist():
            counts[date.fromisoformat(row["reading_date"])][label] = row["rows"]
    if not counts:
        return Picture("stedi-readings", title, f"No readings for {source.window.label}.", None, Numbers(()))
    days = source.window.days(sorted(counts))
    labels = list(READINGS.values())
    series = {label: [counts.get(day, {}).get(label, 0) for day in days] for label in labels}
    svg = charts.bars([day.isoformat() for day in days], series, axis_label="rows", horizontal=False, stacked=False)
    rows = [(day.isoformat(), *(counts.get(day, {}).get(label, 0) for label in labels)) for day in days]
    busiest = max(days, key=lambda day: sum(counts.get(day, {}).values()))
    empty = [day for day in days if day not in counts]
    reading = (
        f"Readings on {len(days) - len(empty)} of {len(days)} day(s); the busiest is {busiest.isoformat()} with "
        f"{counts[busiest].get('accelerometer', 0):,} accelerometer and {counts[busiest].get('step trainer', 0):,} step-trainer readings."
    )
    return Picture("stedi-readings", title, reading, svg, Numbers(("day", *labels), rows))
