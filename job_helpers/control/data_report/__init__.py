"""``make data-report``: what a data set's published tables hold, drawn as one self-contained HTML page.

Each data set has one module here, named after it, with ``pictures(source) -> list[Picture]``;
``REPORTS`` is the one list of them (a test checks that every data set ``sample-data`` writes, and
ingest, has one). A module is imported when its report is drawn, so the CLI's other commands never
load Arrow's engine or matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from job_helpers.control.data_report.source import Source

REPORTS: dict[str, str] = {
    "embrace": "Embrace wearable exports",
    "sensors": "Sensor time series",
    "sitewise": "IoT SiteWise cold tier, merged by day",
    "stedi": "STEDI lakehouse",
    "ingest": "De-identified ingest",
}


def report_page(dataset: str, source: Source) -> str:
    """The HTML page of one data set's report."""
    from job_helpers.control.data_report.page import render

    pictures = importlib.import_module(f"{__name__}.{dataset}").pictures(source)
    where = f"the published tables of {dataset} on the {source.settings.profile} profile"
    return render(f"{REPORTS[dataset]}: data report", source.window, where, pictures)
