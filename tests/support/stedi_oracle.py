"""What the STEDI pipeline should publish from a landing folder, counted in plain Python from the JSON lines.

Shared by the pipeline's local tests and the aws end-to-end run, which check the same counts.
"""

from __future__ import annotations

import json
from collections import Counter

from job_helpers.storage import local_path

WHITESPACE = " \t\n\r\f\v"  # a blank line and the ends of an email key: ASCII whitespace only


def landing_urls(settings) -> dict[str, str]:
    return {name: settings.datasets[f"stedi.{name}_landing"] for name in ("customer", "accelerometer", "step_trainer")}


def parse_folder(url: str) -> tuple[list[dict], int]:
    """Records with their key fields, and the count of every other non-blank line."""
    records, bad = [], 0
    for path in sorted(local_path(url).glob("*.json")):
        for line in path.read_text().splitlines():
            if not line.strip(WHITESPACE):
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            records.append(record)
    return records, bad


def key(email: str) -> str:
    return email.strip(WHITESPACE).lower()


def with_keys(records: list[dict], keys: tuple[str, ...]) -> tuple[list[dict], int]:
    """The records with every key field, and the count of those without (null, absent, or text of only whitespace)."""
    kept = [r for r in records if all(_present(r.get(name)) for name in keys)]
    return kept, len(records) - len(kept)


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip(WHITESPACE))


def latest_per_key(consenting: list[dict]) -> dict[str, dict]:
    """Each consenting customer's latest record, by email key."""
    latest: dict[str, dict] = {}
    for record in sorted(consenting, key=lambda c: c["lastUpdateDate"]):
        latest[key(record["email"])] = record
    return latest


def expected_counts(settings) -> dict[str, int]:
    urls = landing_urls(settings)
    customers, bad_customers = parse_folder(urls["customer"])
    accel, bad_accel = parse_folder(urls["accelerometer"])
    steps, bad_steps = parse_folder(urls["step_trainer"])
    customers, customers_without_keys = with_keys(customers, ("email", "serialNumber"))
    accel, accel_without_keys = with_keys(accel, ("user", "timestamp"))
    steps, steps_without_keys = with_keys(steps, ("sensorReadingTime", "serialNumber"))
    bad_customers += customers_without_keys
    bad_accel += accel_without_keys
    bad_steps += steps_without_keys
    consenting = [c for c in customers if c.get("shareWithResearchAsOfDate") is not None]
    latest = latest_per_key(consenting)
    accel_trusted = [r for r in accel if key(r["user"]) in latest]
    curated = {key(r["user"]) for r in accel_trusted}
    devices = {latest[email]["serialNumber"]: email for email in curated}
    steps_trusted = [r for r in steps if r["serialNumber"] in devices]
    readings = {(key(r["user"]), r["timestamp"]) for r in accel_trusted}
    ml = [r for r in steps_trusted if (devices[r["serialNumber"]], r["sensorReadingTime"]) in readings]
    at_instant = Counter(r["timestamp"] for r in accel_trusted)
    time_only = sum(at_instant[r["sensorReadingTime"]] for r in steps_trusted)
    return {
        "stedi.customer_landing": len(customers) + bad_customers,
        "stedi.accelerometer_landing": len(accel) + bad_accel,
        "stedi.step_trainer_landing": len(steps) + bad_steps,
        "stedi.customer_trusted": len(consenting),
        "stedi.accelerometer_trusted": len(accel_trusted),
        "stedi.customer_curated": len(curated),
        "stedi.step_trainer_trusted": len(steps_trusted),
        "stedi.machine_learning_curated": len(ml),
        "rejected": bad_customers + bad_accel + bad_steps,
        "time_only": time_only,
    }
