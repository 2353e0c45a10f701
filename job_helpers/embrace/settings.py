"""The ``embrace:`` section of config.yml, parsed: how much the job takes out of an archive, and where the
Timestream batch loads go and what they cost.

The job never reads it: the limits reach it as job arguments through ``{embrace.limits.<name>}``
references (``EmbraceSettings.references``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from job_helpers.config_fields import VARIABLE_NAME, Price, Text, WholeNumber
from job_helpers.config_keys import SectionContext, check_keys
from job_helpers.embrace.limits import MINIMUMS, ArchiveLimits

# The keys of embrace:, embrace.limits and embrace.timestream; config-check refuses any other.
KEYS = ("limits", "timestream")
LIMIT_KEYS = tuple(f.name for f in fields(ArchiveLimits))
TIMESTREAM_KEYS = ("database", "table", "price_per_write", "slack_webhook_env")
TIMESTREAM_NAME = Text(re.compile(r"[a-zA-Z0-9_.-]{3,256}"), "is not a Timestream name (3-256 letters, digits, _ . -)")
PRICE_PER_WRITE = Price(0.0000005, example="0.0000005", per=" per write")
SLACK_WEBHOOK_ENV = Text(VARIABLE_NAME, "is not an environment variable name", optional=True)


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
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)

    def references(self) -> dict[str, str]:
        """The ``{embrace.limits.<name>}`` values job arguments may use."""
        return {f"embrace.limits.{name}": str(getattr(self.limits, name)) for name in LIMIT_KEYS}


def parse(node: Any, context: SectionContext, problems: list[str]) -> EmbraceSettings:
    """Check ``embrace.limits`` and ``embrace.timestream``; each problem names its key and the fix."""
    if node is None:
        node = {}
    if not isinstance(node, dict):
        problems.append("embrace: expected a mapping with limits and timestream")
        node = {}
    check_keys(node, KEYS, "embrace", problems)
    limits = _limits(node.get("limits"), problems)
    timestream = node.get("timestream") or {}
    if not isinstance(timestream, dict):
        problems.append("embrace.timestream: expected a mapping with database, table and price_per_write")
        timestream = {}
    check_keys(timestream, TIMESTREAM_KEYS, "embrace.timestream", problems)
    names = {key: TIMESTREAM_NAME.read(timestream, key, "embrace.timestream", problems) for key in ("database", "table")}
    price = PRICE_PER_WRITE.read(timestream, "price_per_write", "embrace.timestream", problems)
    env = SLACK_WEBHOOK_ENV.read(timestream, "slack_webhook_env", "embrace.timestream", problems)
    return EmbraceSettings(TimestreamSettings(names["database"], names["table"], float(price), env), limits)


def _limits(node: Any, problems: list[str]) -> ArchiveLimits:
    """``embrace.limits``: whole numbers, each at least its ``MINIMUMS``; absent keys keep their default."""
    if node is None:
        return ArchiveLimits()
    if not isinstance(node, dict):
        problems.append(f"embrace.limits: expected a mapping with {', '.join(LIMIT_KEYS)}")
        return ArchiveLimits()
    check_keys(node, LIMIT_KEYS, "embrace.limits", problems)
    defaults = ArchiveLimits()
    values = {
        name: WholeNumber(getattr(defaults, name), MINIMUMS[name]).read(node, name, "embrace.limits", problems)
        for name in LIMIT_KEYS
    }
    return ArchiveLimits(**values)
