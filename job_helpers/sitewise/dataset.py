"""The SiteWise cold-tier data set, as the control plane sees it (see job_helpers/dataset.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from job_helpers.dataset import DataSet, RolePolicy, SampleData, SampleOption, SampleRequest
from job_helpers.sitewise.series import SERIES_SOURCES, TIMESERIES_TYPES

if TYPE_CHECKING:
    from job_helpers.storage import Storage


def sample(storage: Storage, datasets: Mapping[str, str], request: SampleRequest) -> str:
    """``make sample-data dataset=sitewise``: the cold tier's raw files and asset metadata."""
    from job_helpers.sitewise.sample_data import write_cold_tier  # imported when called: listing data sets loads no writer

    url = datasets["sitewise.cold_tier"]
    series, per_file = request.options["series"], request.options["records-per-file"]
    summary = write_cold_tier(storage, url, request.start, request.days, series, per_file, seed=request.seed)
    return (
        f"Wrote {summary.files} raw files, {summary.records:,} records ({summary.bytes / 1e6:.1f} MB) for "
        f"{summary.days[0]}..{summary.days[-1]}: {len(summary.associated)} associated and "
        f"{len(summary.disassociated)} disassociated series, under {url}"
    )


DATASET = DataSet(
    name="sitewise",
    title="IoT SiteWise cold tier, merged by day",
    jobs=("sitewise_repartition",),
    tables=("sitewise_repartitioned",),
    argument_choices={"--timeseries-type": TIMESERIES_TYPES, "--series-source": SERIES_SOURCES},
    sample=SampleData(
        sample,
        (
            SampleOption("series", 300, "number of time series"),
            SampleOption("records-per-file", 200, "records per raw file"),
        ),
    ),
    role=RolePolicy(
        reads=("{sitewise.cold_tier.prefix_arn}raw/*", "{sitewise.cold_tier.prefix_arn}asset_metadata/*"),
        writes=("{sitewise.repartitioned.objects_arn}", "{sitewise.index.objects_arn}"),
        statements=(
            {
                "Sid": "ListSiteWiseTimeSeries",
                "Effect": "Allow",
                "Action": ["iotsitewise:ListTimeSeries"],
                "Resource": "*",
            },
        ),
    ),
    services=("s3", "iotsitewise"),
    example_buckets=("sitewise-cold-tier",),
)
