"""``python -m job_helpers <command>``: the command line the Makefile wraps.

Each command module registers its own sub-parser and a ``run(args, context)`` handler; this
module holds the options every command shares and the one error boundary: whatever a command
raises becomes one ``error:`` line on standard error (``control.output``) and an exit status, 2 for
bad input or configuration, 1 for a failure (``control.failures``), 130 when interrupted; only
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from job_helpers.control import output
from job_helpers.control.config import ConfigError
from job_helpers.control.context import CliContext
from job_helpers.control.failures import UsageError, describe_failure
from job_helpers.control.local_registry import RegistryError

COMMAND_MODULES = (
    "job_helpers.control.commands.config_cmd",
    "job_helpers.control.commands.build_cmd",
    "job_helpers.control.commands.runs_cmd",
    "job_helpers.control.commands.schedule_cmd",
    "job_helpers.control.commands.sql_cmd",
    "job_helpers.control.commands.sample_cmd",
    "job_helpers.control.commands.new_job_cmd",
    "job_helpers.control.commands.pipeline_cmd",
    "job_helpers.control.commands.query_cmd",
    "job_helpers.control.commands.timestream_cmd",
    "job_helpers.control.commands.ingest_cmd",
    "job_helpers.control.commands.data_report_cmd",
    "job_helpers.control.commands.stack_cmd",
)


class CommandLineParser(argparse.ArgumentParser):
    """argparse whose errors (an unknown option, a bad value, a missing command) reach the one error boundary.

    Stock argparse prints its usage and the raw message (with any escape sequence typed into an
    argument) and exits by itself; here the message is raised as a ``UsageError`` and shown as one
    ``error:`` line with exit status 2. Sub-parsers are made of the same class; ``--help`` still prints
    the usage on standard output and exits 0.
    """

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (`{self.prog} --help` lists the options)")


# Bad input or configuration: exit status 2.
SETUP_ERRORS = (UsageError, ConfigError, RegistryError)


def build_parser() -> CommandLineParser:
    parser = CommandLineParser(
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
        help="show the traceback of an error instead of its one-line summary",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _never_fail_to_encode()
    output.show_log_warnings_as_text()
    args = None
    try:
        args = build_parser().parse_args(argv)
        status = args.handler(args, CliContext(args.config, args.profile, args.overrides))
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        return _reader_left()
    except (Exception, KeyboardInterrupt) as error:
        if args is not None and args.debug_errors:
            raise
        line, status = (str(error), 2) if isinstance(error, SETUP_ERRORS) else describe_failure(error)
        output.error(line)
        return status


def _never_fail_to_encode() -> None:
    """A character the terminal's encoding lacks (LANG=C) is written as an escape, never a UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def _reader_left() -> int:
    """Standard output's reader went away (``| head``): stop quietly, and keep Python from failing to flush it at exit."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass
    return 1
