"""The ``embrace:`` section of config.yml, parsed: where the Timestream batch loads go and what they cost."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from job_helpers.config_keys import SectionContext, check_keys

# The keys of embrace: and embrace.timestream; config-check refuses any other.
KEYS = ("timestream",)
TIMESTREAM_KEYS = ("database", "table", "price_per_write", "slack_webhook_env")


@dataclass(frozen=True)
class TimestreamSettings:
    """Where batch loads go, what a write costs, and which variable may hold a Slack webhook."""

    database: str
    table: str
    price_per_write: float
    slack_webhook_env: str


@dataclass(frozen=True)
class EmbraceSettings:
    """The ``embrace:`` block, validated."""

    timestream: TimestreamSettings


def parse(node: Any, context: SectionContext, problems: list[str]) -> EmbraceSettings:
    """Check ``embrace.timestream``; each problem names its key and the fix."""
    if node is None:
        node = {}
    if not isinstance(node, dict):
        problems.append("embrace: expected a mapping with timestream")
        node = {}
    check_keys(node, KEYS, "embrace", problems)
    timestream = node.get("timestream") or {}
    if not isinstance(timestream, dict):
        problems.append("embrace.timestream: expected a mapping with database, table and price_per_write")
        timestream = {}
    check_keys(timestream, TIMESTREAM_KEYS, "embrace.timestream", problems)
    names = {}
    for key in ("database", "table"):
        value = str(timestream.get(key) or "")
        if not re.fullmatch(r"[a-zA-Z0-9_.-]{3,256}", value):
            problems.append(f"embrace.timestream.{key}: {value!r} is not a Timestream name (3-256 letters, digits, _ . -)")
        names[key] = value
    price = timestream.get("price_per_write", 0.0000005)
    if isinstance(price, bool) or not isinstance(price, (int, float)) or price < 0:
        problems.append(f"embrace.timestream.price_per_write: {price!r} must be a number of USD per write, e.g. 0.0000005")
        price = 0.0
    env = str(timestream.get("slack_webhook_env") or "")
    if env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env):
        problems.append(f"embrace.timestream.slack_webhook_env: {env!r} is not an environment variable name")
    return EmbraceSettings(TimestreamSettings(names["database"], names["table"], float(price), env))
