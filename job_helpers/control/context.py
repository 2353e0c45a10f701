"""What every command needs: the config file, the profile, the ``--set`` overrides, and what they load.

Settings, the AWS session and the object storage are loaded once, and only when a command asks,
so ``--help`` and ``--dry-run`` need neither credentials nor a network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from job_helpers.control.aws_region import enter_region
from job_helpers.control.config import Settings, load_settings
from job_helpers.control.output import TextConsole
from job_helpers.storage import Storage


@dataclass
class CliContext:
    """What every command needs, loaded once and only when asked for."""

    config_path: Path
    profile: str | None
    overrides: list[str]
    console: TextConsole = field(default_factory=TextConsole)
    # Warnings and notes go to standard error, so that standard output carries data only.
    messages: TextConsole = field(default_factory=lambda: TextConsole(stderr=True))

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
        # Locally the profile's session is boto3's default one, which Storage makes itself if an s3:// URL is
        # ever touched: a local command does not import boto3 (a fifth of a second) to read files.
        return Storage(boto3_session=self.boto3_session if self.settings.profile == "aws" else None)
