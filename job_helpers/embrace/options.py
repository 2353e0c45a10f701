"""Validation of the ``embrace:`` block of config.yml, to be called from the config loader."""

from __future__ import annotations

import re
from dataclasses import dataclass

from job_helpers.config_keys import check_keys

# The keys of embrace: and embrace.timestream; config-check refuses any other.
EMBRACE_KEYS = ("timestream",)
TIMESTREAM_KEYS = ("database", "table", "price_per_write", "slack_webhook_env")


@dataclass(frozen=True)
class TimestreamOptions:
    """Where batch loads go, what a write costs, and which variable may hold a Slack webhook."""

    database: str
    table: str
    price_per_write: float
    slack_webhook_env: str


def timestream_options(document: dict, problems: list[str]) -> TimestreamOptions:
    """Check ``embrace.timestream``; each problem names its key and the fix."""
    check_keys(document.get("embrace"), EMBRACE_KEYS, "embrace", problems)
    node = (document.get("embrace") or {}).get("timestream") or {}
    if not isinstance(node, dict):
        problems.append("embrace.timestream: expected a mapping with database, table and price_per_write")
        node = {}
    check_keys(node, TIMESTREAM_KEYS, "embrace.timestream", problems)
    names = {}
    for key in ("database", "table"):
        value = str(node.get(key) or "")
        if not re.fullmatch(r"[a-zA-Z0-9_.-]{3,256}", value):
            problems.append(f"embrace.timestream.{key}: {value!r} is not a Timestream name (3-256 letters, digits, _ . -)")
        names[key] = value
    price = node.get("price_per_write", 0.0000005)
    if isinstance(price, bool) or not isinstance(price, (int, float)) or price < 0:
        problems.append(f"embrace.timestream.price_per_write: {price!r} must be a number of USD per write, e.g. 0.0000005")
        price = 0.0
    env = str(node.get("slack_webhook_env") or "")
    if env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env):
        problems.append(f"embrace.timestream.slack_webhook_env: {env!r} is not an environment variable name")
    return TimestreamOptions(names["database"], names["table"], float(price), env)
