"""``project.glue_prices``: what Glue bills per DPU-hour in each region, for the cost a batch shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from job_helpers.config_fields import Price
from job_helpers.config_keys import check_keys


@dataclass(frozen=True)
class GluePrices:
    """USD per DPU-hour of Glue jobs in one region; ``memory_optimized`` per M-DPU-hour (R workers), if known."""

    standard: float
    flex: float
    memory_optimized: float | None = None


# Glue's list prices in us-east-1 (https://aws.amazon.com/glue/pricing/), the default table.
DEFAULT_GLUE_PRICES = {"us-east-1": GluePrices(0.44, 0.29)}
PRICE = Price(0.0, example="0.44")
KEYS = ("standard", "flex", "memory_optimized")
WHERE = "project.glue_prices"


def parse(node: Any, problems: list[str]) -> dict[str, GluePrices]:
    """Per region, USD per DPU-hour (standard, flex) and per M-DPU-hour (memory_optimized); the default table when absent."""
    if node is None:
        return dict(DEFAULT_GLUE_PRICES)
    if not isinstance(node, dict):
        problems.append(f"{WHERE}: must map regions to {{standard, flex[, memory_optimized]}}")
        return dict(DEFAULT_GLUE_PRICES)
    prices = {}
    for region, entry in node.items():
        where = f"{WHERE}.{region}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping of {', '.join(KEYS)}")
            continue
        check_keys(entry, KEYS, where, problems)
        found = {name: PRICE.read(entry, name, where, problems) for name in KEYS if name in entry}
        if "standard" not in found or "flex" not in found:
            problems.append(f"{where}: needs standard and flex (USD per DPU-hour), e.g. {{standard: 0.44, flex: 0.29}}")
            continue
        prices[str(region)] = GluePrices(**found)
    return prices
