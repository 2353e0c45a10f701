"""The Embrace wearable-export data set, as the control plane sees it (see job_helpers/dataset.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from job_helpers.dataset import DataSet, PolicyContext, RolePolicy, SampleData, SampleOption, SampleRequest
from job_helpers.embrace import settings

if TYPE_CHECKING:
    from job_helpers.storage import Storage


def policy_values(context: PolicyContext) -> Mapping[str, str]:
    """The Timestream database and table the batch loads write to (``embrace.timestream``)."""
    timestream = context.section.timestream if context.section else None
    database, table = (timestream.database, timestream.table) if timestream else ("*", "*")
    prefix = f"arn:aws:timestream:{context.region}:{context.account}:database/{database}"
    return {"embrace.timestream_database_arn": prefix, "embrace.timestream_table_arn": f"{prefix}/table/{table}"}


def sample(storage: Storage, datasets: Mapping[str, str], request: SampleRequest) -> str:
    """``make sample-data dataset=embrace``: one export archive covering the days asked for."""
    from job_helpers.embrace.sample_data import write_embrace_sample  # imported when called: listing data sets loads no writer

    summary = write_embrace_sample(
        storage,
        datasets["embrace.landing"],
        start=request.start,
        days=request.days,
        seconds_per_day=request.options["seconds-per-day"],
        seed=request.seed,
    )
    return (
        f"Wrote {summary.url} ({summary.devices} devices; rows per stream {summary.rows}; "
        f"injected perfect duplicates {summary.perfect}, missing values {summary.nan}, unclear {summary.unclear})"
    )


DATASET = DataSet(
    name="embrace",
    title="Embrace wearable exports",
    jobs=("embrace_dedupe",),
    tables=(
        "embrace_clean",
        "embrace_devices",
        "embrace_duplicate_log",
        "embrace_rejects",
        "embrace_timestream_ready",
        "embrace_wear_time",
    ),
    settings=settings.parse,
    sample=SampleData(
        sample,
        (SampleOption("seconds-per-day", 600, "seconds recorded per day at real rates (up to 86400)", most=86_400),),
    ),
    role=RolePolicy(
        reads=("{embrace.landing.objects_arn}",),
        writes=tuple(
            f"{{embrace.{name}.objects_arn}}"
            for name in (
                "clean",
                "timestream_ready",
                "duplicate_log",
                "wear_time",
                "devices",
                "rejects",
                "reports",
                "load_counts",
            )
        ),
        values=policy_values,
    ),
    services=("s3", "timestream-write"),
    example_buckets=("embrace-wearables",),
)
