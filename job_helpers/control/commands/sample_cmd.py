"""`sample-data` and `inspect`: generated input for demos and tests, and a look at what a job wrote."""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

from job_helpers.control.context import CliContext
from job_helpers.control.failures import UsageError
from job_helpers.embrace.sample_data import write_embrace_sample
from job_helpers.relative_dates import day_option
from job_helpers.sensors.sample_data import write_sensor_sample
from job_helpers.sitewise.avro_blocks import count_records
from job_helpers.sitewise.sample_data import write_cold_tier
from job_helpers.stedi.sample_data import write_stedi_landing
from job_helpers.storage import local_path


def register(subparsers: argparse._SubParsersAction) -> None:
    sample = subparsers.add_parser("sample-data", help="write generated input data into a data set's landing location")
    sample.add_argument("--dataset", required=True, choices=tuple(WRITERS), help="which data set to generate")
    sample.add_argument("--days", type=int, default=7, help="days of data (default 7)")
    sample.add_argument(
        "--start", type=day_option, default=date(2024, 3, 1), help="first day: YYYY-MM-DD, today, yesterday or today-N"
    )
    sample.add_argument("--series", type=int, default=300, help="sitewise: number of time series (default 300)")
    sample.add_argument("--records-per-file", type=int, default=200, help="sitewise: records per raw file")
    sample.add_argument("--customers", type=int, default=500, help="stedi: number of customers (at least 100)")
    sample.add_argument("--sensors", type=int, default=100, help="sensors: number of sensors (at most 100)")
    sample.add_argument("--hours", type=int, default=24, help="sensors: hours of readings per day (1-24)")
    sample.add_argument(
        "--seconds-per-day", type=int, default=600, help="embrace: seconds recorded per day at real rates (up to 86400)"
    )
    sample.add_argument("--seed", type=int, default=7, help="random seed; the same seed writes the same data")
    sample.set_defaults(handler=run_sample)

    inspect = subparsers.add_parser("inspect", help="list a data set's files with sizes and Avro record counts")
    inspect.add_argument("--dataset", required=True, help="dotted data set name, as `paths` prints it")
    inspect.set_defaults(handler=run_inspect)


def run_sample(args: argparse.Namespace, context: CliContext) -> int:
    counts = (args.days, args.series, args.records_per_file, args.customers, args.sensors, args.hours, args.seconds_per_day)
    if min(counts) < 1:
        raise UsageError(
            "--days, --series, --records-per-file, --customers, --sensors, --hours and --seconds-per-day must be positive"
        )
    return WRITERS[args.dataset](args, context)


def _sample_sitewise(args: argparse.Namespace, context: CliContext) -> int:
    url = context.settings.datasets["sitewise.cold_tier"]
    with context.console.status(f"Writing {args.days} day(s) of {args.series} series to {url}"):
        summary = write_cold_tier(context.storage, url, args.start, args.days, args.series, args.records_per_file, seed=args.seed)
    context.console.print(
        f"Wrote {summary.files} raw files, {summary.records:,} records ({summary.bytes / 1e6:.1f} MB) for "
        f"{summary.days[0]}..{summary.days[-1]}: {len(summary.associated)} associated and "
        f"{len(summary.disassociated)} disassociated series, under {url}"
    )
    return 0


def _sample_stedi(args: argparse.Namespace, context: CliContext) -> int:
    datasets = context.settings.datasets
    urls = {name: datasets[f"stedi.{name}_landing"] for name in ("customer", "accelerometer", "step_trainer")}
    try:
        written = write_stedi_landing(context.storage, urls, args.customers, args.seed)
    except ValueError as error:
        raise UsageError(str(error)) from error
    context.console.print(f"Wrote STEDI landing data: {written}")
    for name, url in urls.items():
        context.console.print(f"  {name}: {url}")
    return 0


def _sample_sensors(args: argparse.Namespace, context: CliContext) -> int:
    datasets = context.settings.datasets
    try:
        with context.console.status(f"Writing {args.days} day(s) of {args.sensors} sensors to {datasets['sensors.raw']}"):
            summary = write_sensor_sample(
                context.storage, datasets, args.start, args.days, args.seed, sensors=args.sensors, hours_per_day=args.hours
            )
    except ValueError as error:
        raise UsageError(str(error)) from error
    context.console.print(
        f"Wrote {summary.readings:,} readings of {summary.sensors} sensors in {summary.files} files "
        f"({summary.bytes / 1e6:.1f} MB, {summary.defects} deliberate defects) under {datasets['sensors.raw']}, "
        f"and the sensor_mapping and customer_data tables"
    )
    return 0


def _sample_embrace(args: argparse.Namespace, context: CliContext) -> int:
    url = context.settings.datasets["embrace.landing"]
    try:
        summary = write_embrace_sample(
            context.storage, url, start=args.start, days=args.days, seconds_per_day=args.seconds_per_day, seed=args.seed
        )
    except ValueError as error:
        raise UsageError(str(error)) from error
    context.console.print(
        f"Wrote {summary.url} ({summary.devices} devices; rows per stream {summary.rows}; "
        f"injected perfect duplicates {summary.perfect}, missing values {summary.nan}, unclear {summary.unclear})"
    )
    return 0


WRITERS = {
    "sitewise": _sample_sitewise,
    "stedi": _sample_stedi,
    "sensors": _sample_sensors,
    "embrace": _sample_embrace,
}


def run_inspect(args: argparse.Namespace, context: CliContext) -> int:
    datasets = context.settings.datasets
    if args.dataset not in datasets:
        raise UsageError(f"unknown data set {args.dataset!r}; `python -m job_helpers paths` lists them")
    url = datasets[args.dataset]
    files = size = records = 0
    with tempfile.TemporaryDirectory(prefix="inspect-") as scratch:
        for stored in context.storage.list(url):
            files += 1
            size += stored.size
            if stored.url.endswith(".avro"):
                records += count_records(_local_copy(context, stored.url, Path(scratch)), stored.url)
    context.console.print(f"{args.dataset}: {url}")
    context.console.print(f"  {files} files, {size / 1e6:.1f} MB, {records:,} Avro records")
    return 0


def _local_copy(context: CliContext, url: str, scratch: Path) -> Path:
    if urlparse(url).scheme == "file":
        return local_path(url)
    target = scratch / "object.avro"
    context.storage.download(url, target)
    return target
