"""The aws profile's region, chosen as boto3 chooses it, and the check that the buckets live there.

``profiles.aws.region`` wins when it is set (config.yml fills it from ``AWS_REGION``); otherwise
boto3's own chain decides: ``AWS_DEFAULT_REGION``, then the ``region`` of the AWS profile in
~/.aws/config (botocore's configprovider). Every aws command says which region it uses and why, and
refuses to go on while a configured bucket lives in another one: jobs, queries and batch loads would
be created in one region and read their data across regions (slower, billed as transfer, and refused
outright by Timestream batch loads, which need the bucket in the table's region), unless
``profiles.aws.cross_region_buckets`` says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, ProfileNotFound

from job_helpers.aws import client
from job_helpers.config_keys import ConfigError

if TYPE_CHECKING:
    from job_helpers.control.config import Settings

# GetBucketLocation's LocationConstraint for the two oldest regions: null for us-east-1, and EU,
# the old name of eu-west-1 (S3 API reference, GetBucketLocation response elements).
LEGACY_CONSTRAINTS = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}


@dataclass(frozen=True)
class Region:
    """A region and where it came from, in words the user can act on."""

    name: str
    source: str


def resolve(configured: str, aws_profile: str | None, environ: Mapping[str, str]) -> Region | None:
    """The region boto3 would use for this profile, config.yml's value first; None when nothing names one.

    Raises ``ProfileNotFound`` when the AWS profile is not in the AWS config files.
    """
    if configured:
        from_env = environ.get("AWS_REGION") == configured
        return Region(configured, "AWS_REGION, through profiles.aws.region" if from_env else "profiles.aws.region in config.yml")
    import botocore.session

    session = botocore.session.Session(profile=aws_profile or None)
    from_env = session.get_config_variable("region", methods=("env",))
    if from_env:
        return Region(from_env, "AWS_DEFAULT_REGION")
    from_profile = session.get_config_variable("region", methods=("config",))
    if from_profile:
        name = session.profile or "default"
        return Region(from_profile, f"the region of AWS profile {name} in {session.get_config_variable('config_file')}")
    return None


def region_problem(configured: str, aws_profile: str | None, environ: Mapping[str, str]) -> tuple[Region | None, str | None]:
    """``resolve`` for config.yml's validation: the region, or the line saying how to give one."""
    try:
        region = resolve(configured, aws_profile, environ)
    except ProfileNotFound:
        return (
            None,
            f"profiles.aws.aws_profile: AWS profile {aws_profile!r} is not in ~/.aws/config; set AWS_PROFILE to one that is",
        )
    if region is None:
        return None, (
            "profiles.aws.region: no AWS region: set AWS_REGION (or profiles.aws.region), AWS_DEFAULT_REGION, "
            "or region in your AWS profile (aws configure set region <region>)"
        )
    return region, None


def bucket_region(s3: Any, bucket: str) -> str | None:
    """The region ``bucket`` lives in, or None when there is no such bucket yet."""
    try:
        constraint = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchBucket":
            return None
        raise
    return LEGACY_CONSTRAINTS.get(constraint, constraint)


def check_buckets(buckets: Mapping[str, str], region: Region, s3: Any) -> None:
    """Refuse (``ConfigError``) when a bucket of ``buckets`` (logical name → bucket) lives outside ``region``.

    A bucket that does not exist yet passes: ``make stack`` creates it in the region.
    """
    elsewhere, unreadable = [], []
    for bucket in sorted(set(buckets.values())):
        names = ", ".join(f"buckets.{logical}" for logical, name in sorted(buckets.items()) if name == bucket)
        try:
            found = bucket_region(s3, bucket)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "AccessDenied":
                raise
            unreadable.append(f"{names}: {bucket}")
            continue
        if found is not None and found != region.name:
            elsewhere.append(f"{names}: {bucket} is in {found}")
    if unreadable:
        raise ConfigError(
            "S3 refuses to say where these buckets are (GetBucketLocation: AccessDenied):\n  "
            + "\n  ".join(unreadable)
            + "\nbucket names are global: another account may own one (choose another name), or your identity lacks "
            "s3:GetBucketLocation on it (make policy who=operator grants it)"
        )
    if elsewhere:
        raise ConfigError(
            f"the aws profile works in {region.name} ({region.source}) but these buckets live elsewhere:\n  "
            + "\n  ".join(elsewhere)
            + "\nset AWS_REGION (or profiles.aws.region) to the buckets' region, or set profiles.aws.cross_region_buckets: "
            "true to work across regions (requests cross regions and are billed as data transfer)"
        )


def enter_region(settings: Settings, session: Any, say: Callable[[str], None]) -> None:
    """What every aws command does first: say the region and where it came from, then check the buckets."""
    region = Region(settings.region or "", settings.region_source or "")
    if settings.cross_region_buckets:
        say(f"AWS region {region.name} ({region.source}); buckets in other regions allowed (profiles.aws.cross_region_buckets)")
        return
    say(f"AWS region {region.name} ({region.source})")
    buckets = {str(logical): str(bucket) for logical, bucket in (settings.resolved.get("buckets") or {}).items()}
    check_buckets(buckets, region, client("s3", session))
