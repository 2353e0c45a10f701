"""The sensor time-series data set, as the control plane sees it (see job_helpers/dataset.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from job_helpers.dataset import DataSet, PolicyContext, RolePolicy, SampleData, SampleOption, SampleRequest

if TYPE_CHECKING:
    from job_helpers.storage import Storage

JOB = "sensor_timeseries_export"


def policy_values(context: PolicyContext) -> Mapping[str, str]:
    """The Timestream table the export may query (``--source timestream``), as the job's arguments name it."""
    arguments = context.job_arguments.get(JOB)
    if arguments is None:
        return {}
    database = arguments.get("--timestream-database", "*")
    table = arguments.get("--timestream-table", "*")
    return {
        "sensors.timestream_table_arn": f"arn:aws:timestream:{context.region}:{context.account}:database/{database}/table/{table}"
    }


def sample(storage: Storage, datasets: Mapping[str, str], request: SampleRequest) -> str:
    """``make sample-data dataset=sensors``: raw readings and the two reference tables."""
    from job_helpers.sensors.sample_data import write_sensor_sample  # imported when called: listing data sets loads no writer

    summary = write_sensor_sample(
        storage,
        dict(datasets),
        request.start,
        request.days,
        request.seed,
        sensors=request.options["sensors"],
        hours_per_day=request.options["hours"],
    )
    return (
        f"Wrote {summary.readings:,} readings of {summary.sensors} sensors in {summary.files} files "
        f"({summary.bytes / 1e6:.1f} MB, {summary.defects} deliberate defects) under {datasets['sensors.raw']}, "
        f"and the sensor_mapping and customer_data tables"
    )


DATASET = DataSet(
    name="sensors",
    title="Sensor time series",
    jobs=(JOB,),
    tables=("sensor_raw", "sensor_mapping", "customer_data", "sensor_timeseries"),
    sample=SampleData(
        sample,
        (
            SampleOption("sensors", 100, "number of sensors (at most 100)"),
            SampleOption("hours", 24, "hours of readings per day (1-24)"),
        ),
    ),
    role=RolePolicy(
        reads=("{sensors.raw.objects_arn}",),
        writes=("{sensors.curated.objects_arn}", "{sensors.rejects.objects_arn}"),
        statements=(
            {
                "Sid": "QuerySensorReadings",
                "Effect": "Allow",
                "Action": ["timestream:Select"],
                "Resource": ["{sensors.timestream_table_arn}"],
            },
            {
                "Sid": "FindTimestreamEndpoint",
                "Effect": "Allow",
                "Action": ["timestream:DescribeEndpoints"],
                "Resource": "*",
            },
        ),
        values=policy_values,
    ),
    services=("s3", "timestream-query"),
    example_buckets=("sensor-timeseries-lake",),
)
