"""`sample-data` and `inspect`: generated input for demos and tests, and a look at what a job wrote."""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

from job_helpers.control.context import CliContext
from job_helpers.control.failures import UsageError
from job_helpers.control.number_options import whole_number
from job_helpers.dataset import SampleData, SampleOption, SampleRequest
from job_helpers.datasets import registered
from job_helpers.relative_dates import LAST_DAY, day_option
from job_helpers.storage import local_path


def register(subparsers: argparse._SubParsersAction) -> None:
    sample = subparsers.add_parser("sample-data", help="write generated input data into a data set's landing location")
    sample.add_argument("--dataset", required=True, choices=tuple(_samples()), help="which data set to generate")
    sample.add_argument(
        "--days", type=whole_number(1, (LAST_DAY - date.min).days + 1), default=7, help="days of data (default 7)"
    )
    sample.add_argument(
        "--start", type=day_option, default=date(2024, 3, 1), help="first day: YYYY-MM-DD, today, yesterday or today-N"
    )
    for name, option in sample_options().items():
        owners = "/".join(dataset for dataset, sample_data in _samples().items() if option in sample_data.options)
        sample.add_argument(
            f"--{name}",
            type=whole_number(1, option.most),
            default=option.default,
            help=f"{owners}: {option.help} (default {option.default})",
        )
    sample.add_argument("--seed", type=int, default=7, help="random seed; the same seed writes the same data")
    sample.set_defaults(handler=run_sample)

    inspect = subparsers.add_parser("inspect", help="list a data set's files with sizes and Avro record counts")
    inspect.add_argument("--dataset", required=True, help="dotted data set name, as `paths` prints it")
    inspect.set_defaults(handler=run_inspect)


def _samples() -> dict[str, SampleData]:
    """The registered data sets that have sample data, by name."""
    return {dataset.name: dataset.sample for dataset in registered() if dataset.sample}


def sample_options() -> dict[str, SampleOption]:
    """The options of every registered writer, by name; two data sets may share one (the same option, the same default)."""
    return {option.name: option for sample in _samples().values() for option in sample.options}


def run_sample(args: argparse.Namespace, context: CliContext) -> int:
    sample = _samples()[args.dataset]
    if (LAST_DAY - args.start).days + 1 < args.days:
        raise UsageError(f"--start {args.start} and --days {args.days} end after {LAST_DAY}, the last day a job can cover")
    own = {option.name: getattr(args, option.name.replace("-", "_")) for option in sample.options}
    request = SampleRequest(start=args.start, days=args.days, seed=args.seed, options=own)
    try:
        with context.console.status(f"Writing {args.dataset} sample data"):
            written = sample.writer(context.storage, context.settings.datasets, request)
    except ValueError as error:
        raise UsageError(str(error)) from error
    for line in written.splitlines():
        context.console.print(line)
    return 0


def run_inspect(args: argparse.Namespace, context: CliContext) -> int:
    from job_helpers.sitewise.avro_blocks import count_records  # numpy and fastavro: only inspect needs them

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
