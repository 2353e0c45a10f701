"""``python -m job_helpers <command>``: the command line the Makefile wraps.

Each command module registers its own sub-parser and a ``run(args, context)`` handler; this
module only holds the options every command shares and turns known errors into one clear line
and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape

from job_helpers.control.aws_errors import describe
from job_helpers.control.aws_region import enter_region
from job_helpers.control.config import ConfigError, Settings, load_settings
from job_helpers.control.local_registry import RegistryError
from job_helpers.storage import Storage

COMMAND_MODULES = (
    "job_helpers.control.commands.config_cmd",
    "job_helpers.control.commands.build_cmd",
    "job_helpers.control.commands.runs_cmd",
    "job_helpers.control.commands.schedule_cmd",
    "job_helpers.control.commands.sql_cmd",
    "job_helpers.control.commands.sample_cmd",
    "job_helpers.control.commands.pipeline_cmd",
    "job_helpers.control.commands.query_cmd",
    "job_helpers.control.commands.timestream_cmd",
    "job_helpers.control.commands.ingest_cmd",
    "job_helpers.control.commands.stack_cmd",
)


# Piped output is as wide as its data: a table cut or folded at 80 columns is no use to a script.
PIPED_WIDTH = 100_000


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit status 2, nothing created."""


def stdout_console() -> Console:
    """Rich output on standard output: the terminal's width, or unlimited when piped (COLUMNS, if set, wins)."""
    piped = not sys.stdout.isatty() and not os.environ.get("COLUMNS")
    return Console(highlight=False, soft_wrap=True, width=PIPED_WIDTH if piped else None)


@dataclass
class CliContext:
    """What every command needs, loaded once and only when asked for."""

    config_path: Path
    profile: str | None
    overrides: list[str]
    console: Console = field(default_factory=stdout_console)
    # Warnings and notes go to standard error, so that standard output carries data only.
    messages: Console = field(default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True))

    @property
    def repo_root(self) -> Path:
        return self.config_path.resolve().parent

    @property
    def build_dir(self) -> Path:
        return self.repo_root / "build"

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.config_path, self.profile, self.overrides)

    @cached_property
    def boto3_session(self) -> Any:
        """The AWS session of the profile (its AWS profile and region); boto3 honours AWS_ENDPOINT_URL."""
        import boto3

        settings = self.settings
        if settings.profile == "aws":
            session = boto3.Session(profile_name=settings.aws_profile, region_name=settings.region)
            enter_region(settings, session, lambda line: self.messages.print(line, markup=False))
            return session
        return boto3.Session()

    @cached_property
    def storage(self) -> Storage:
        return Storage(boto3_session=self.boto3_session)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m job_helpers",
        description="Build, run and clean up the project's Glue jobs, on AWS or on this machine.",
    )
    parser.add_argument("--config", type=Path, default=Path("config.yml"), help="config file (default: ./config.yml)")
    parser.add_argument("--profile", choices=("local", "aws"), help="profile to use (default: config's default_profile)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="DOTTED.KEY=VALUE",
        help="override one config value for this command (repeatable)",
    )
    parser.add_argument(
        "--debug",
        dest="debug_errors",
        action="store_true",
        help="show the traceback of an AWS error instead of its one-line summary",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    context = CliContext(args.config, args.profile, args.overrides)
    try:
        return args.handler(args, context)
    except (UsageError, ConfigError, RegistryError) as error:
        context.console.print("[bold red]error:[/]", escape(str(error)))
        return 2
    except (BotoCoreError, ClientError) as error:
        described = describe(error)
        if args.debug_errors or described is None:
            raise
        line, status = described
        context.console.print("[bold red]error:[/]", escape(line))
        return status
