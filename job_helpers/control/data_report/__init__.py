"""``make data-report``: what a data set's published tables hold, drawn as one self-contained HTML page.

Each data set has one module here with ``pictures(source) -> list[Picture]``; ``REPORTS`` is
the one list of them (a test checks that every data set ``sample-data`` writes, and ingest, has one).
"""

from __future__ import annotations

from types import ModuleType

from job_helpers.control.data_report import embrace, ingest, sensors, sitewise, stedi
from job_helpers.control.data_report.page import Window, render
from job_helpers.control.data_report.source import Source

REPORTS: dict[str, tuple[str, ModuleType]] = {
    "embrace": ("Embrace wearable exports", embrace),
    "sensors": ("Sensor time series", sensors),
    "sitewise": ("IoT SiteWise cold tier, merged by day", sitewise),
    "stedi": ("STEDI lakehouse", stedi),
    "ingest": ("De-identified ingest", ingest),
}


def report_page(dataset: str, source: Source) -> str:
    """The HTML page of one data set's report."""
    title, module = REPORTS[dataset]
    pictures = module.pictures(source)
    where = f"the published tables of {dataset} on the {source.settings.profile} profile"
    return render(f"{title}: data report", source.window, where, pictures)


__all__ = ["REPORTS", "Source", "Window", "report_page"]
