"""What a data set's pictures read from: the profile's settings, its tables and the report's dates."""

from __future__ import annotations

from dataclasses import dataclass

from job_helpers.control.config import Settings
from job_helpers.control.data_report.lake import Lake
from job_helpers.control.data_report.page import Window
from job_helpers.control.data_report.tables import Catalog, Table


@dataclass(frozen=True)
class Source:
    settings: Settings
    lake: Lake
    catalog: Catalog
    window: Window

    def table(self, name: str) -> Table:
        return self.catalog.table(name)

    def url(self, dataset: str) -> str:
        return self.settings.datasets[dataset]
