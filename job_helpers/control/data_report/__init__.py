"""``make data-report``: what a data set's published tables hold, drawn as one self-contained HTML page.

A data set's report is one module here, named after it, with ``pictures(source) -> list[Picture]``;
``REPORTS`` lists the registered data sets that have one (a test checks that every data set the
project ships has one; a data set ``make new-job`` made has none until you write it). A module is
imported when its report is drawn, so the CLI's other commands never load Arrow's engine or
matplotlib.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from job_helpers.datasets import registered

if TYPE_CHECKING:
    from job_helpers.control.data_report.source import Source

# Each registered data set that has its module here, by name → its title (job_helpers/<name>/dataset.py).
REPORTS: dict[str, str] = {
    dataset.name: dataset.title for dataset in registered() if (Path(__file__).parent / f"{dataset.name}.py").is_file()
}


def report_page(dataset: str, source: Source) -> str:
    """The HTML page of one data set's report."""
    from job_helpers.control.data_report.page import render

    pictures = importlib.import_module(f"{__name__}.{dataset}").pictures(source)
    where = f"the published tables of {dataset} on the {source.settings.profile} profile"
    return render(f"{REPORTS[dataset]}: data report", source.window, where, pictures)
