"""Hadoop S3A settings for a local SparkSession, so a job run off Glue reads and writes ``s3://``.

Glue brings its own S3 filesystem; a local Spark has none. When the local runner of the aws
profile (or anyone running a job by hand) names the S3A jars in the environment, ``local_spark``
adds the settings below: the jars on the class path, ``fs.s3.impl`` mapped to S3A so every URL
keeps its ``s3://`` scheme, and the identity boto3 resolves (profile, environment, SSO) handed to
S3A explicitly, with the region and any endpoint override (``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL``).

* ``JOB_HELPERS_S3A_JARS``: comma-separated paths of ``hadoop-aws`` and the AWS SDK bundle;
* ``JOB_HELPERS_S3A_PACKAGES``: Maven coordinates for ``spark.jars.packages`` instead (Spark
  downloads them, with the SDK bundle as a dependency), e.g. ``org.apache.hadoop:hadoop-aws:3.3.4``;
* ``JOB_HELPERS_S3A_PATH_STYLE_BUCKETS``: buckets whose names hold dots, reached path-style (a
  dotted name in the host breaks the TLS certificate check of virtual-hosted requests).

Neither of the first two set: no S3A settings, and nothing is asked of boto3.

The jars ``make setup`` installs are hadoop-aws 3.3.1 with the AWS SDK bundle 1.11.901, beside
PySpark 3.5.6's Hadoop 3.3.4 client: the only hadoop-aws this project can install from PyPI. That
pair is what the suite tests (listing, reading, writing, multipart uploads and deletes through
S3A on moto's server); Maven's hadoop-aws 3.3.4 matches the client exactly where Maven is reachable.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

JARS_ENV = "JOB_HELPERS_S3A_JARS"
PACKAGES_ENV = "JOB_HELPERS_S3A_PACKAGES"
PATH_STYLE_ENV = "JOB_HELPERS_S3A_PATH_STYLE_BUCKETS"
PACKAGES_SETTING = "spark.jars.packages"
CLASS_PATH_SETTING = "spark.driver.extraClassPath"
# The sagemaker-pyspark wheel ships hadoop-aws and the SDK bundle it was built against; only these two are taken.
JARS_WHEEL = "sagemaker_pyspark"
JAR_PREFIXES = ("hadoop-aws-", "aws-java-sdk-bundle-")
S3A_FILESYSTEM = "org.apache.hadoop.fs.s3a.S3AFileSystem"
TEMPORARY_CREDENTIALS = "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
SIMPLE_CREDENTIALS = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"

log = logging.getLogger(__name__)


class S3ASetupError(Exception):
    """The S3A jars named in the environment cannot be used; the message names the path or variable."""


@dataclass(frozen=True)
class AwsIdentity:
    """What S3A needs to act as boto3 would: keys (None: S3A's own chain), region, endpoint override."""

    access_key: str | None = None
    secret_key: str | None = None
    token: str | None = None
    region: str | None = None
    endpoint: str | None = None
    path_style_buckets: tuple[str, ...] = ()


def path_style_buckets(buckets: Iterable[str]) -> tuple[str, ...]:
    """The buckets S3A must reach path-style: those whose names hold a dot."""
    return tuple(sorted({bucket for bucket in buckets if "." in bucket}))


def installed_jars() -> list[str]:
    """The hadoop-aws and SDK bundle jars of the installed wheel (``make setup``), or [] without it."""
    spec = find_spec(JARS_WHEEL)
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(next(iter(spec.submodule_search_locations)), "jars")
    found = [min(folder.glob(f"{prefix}*.jar"), default=None) for prefix in JAR_PREFIXES]
    return [str(path) for path in found] if all(found) else []


def jar_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """The jars on Spark's class path, or ``spark.jars.packages``, from the environment; {} when neither is set."""
    packages = environ.get(PACKAGES_ENV, "").strip()
    if packages:
        return {PACKAGES_SETTING: packages}
    # Each jar once and absolute: the JVM's class path, and the class archive named by it, are then the same
    # from any folder (a relative one named another file, or none, when a later session checked the archive).
    jars = list(dict.fromkeys(os.path.abspath(path.strip()) for path in environ.get(JARS_ENV, "").split(",") if path.strip()))
    if not jars:
        return {}
    missing = [path for path in jars if not Path(path).is_file()]
    if missing:
        raise S3ASetupError(
            f"{JARS_ENV} names {', '.join(missing)}, which is not a file: run `make setup` "
            f"(it installs the jars) or set {PACKAGES_ENV} to Maven coordinates instead"
        )
    # On the class path rather than in spark.jars, which copies them (185 MB) into every application's folder.
    class_path = os.pathsep.join(jars)
    return {CLASS_PATH_SETTING: class_path, "spark.executor.extraClassPath": class_path}


def filesystem_settings(identity: AwsIdentity) -> dict[str, str]:
    """Spark settings mapping ``s3://`` to S3A with the given identity, region and endpoint."""
    settings = {
        "spark.hadoop.fs.s3.impl": S3A_FILESYSTEM,
        "spark.hadoop.fs.AbstractFileSystem.s3.impl": "org.apache.hadoop.fs.s3a.S3A",
    }
    if identity.access_key and identity.secret_key:
        settings["spark.hadoop.fs.s3a.access.key"] = identity.access_key
        settings["spark.hadoop.fs.s3a.secret.key"] = identity.secret_key
        if identity.token:
            settings["spark.hadoop.fs.s3a.session.token"] = identity.token
            settings["spark.hadoop.fs.s3a.aws.credentials.provider"] = TEMPORARY_CREDENTIALS
        else:
            settings["spark.hadoop.fs.s3a.aws.credentials.provider"] = SIMPLE_CREDENTIALS
    if identity.endpoint:
        # An emulator or private endpoint: its own scheme, and buckets in the path rather than the host name.
        settings["spark.hadoop.fs.s3a.endpoint"] = identity.endpoint
        settings["spark.hadoop.fs.s3a.path.style.access"] = "true"
        settings["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(identity.endpoint.startswith("https:")).lower()
    elif identity.region:
        # hadoop-aws 3.3.1 has no region setting: the SDK reads the region from the regional endpoint.
        suffix = "amazonaws.com.cn" if identity.region.startswith("cn-") else "amazonaws.com"
        settings["spark.hadoop.fs.s3a.endpoint"] = f"s3.{identity.region}.{suffix}"
    if identity.region:
        settings["spark.hadoop.fs.s3a.endpoint.region"] = identity.region
    for bucket in identity.path_style_buckets:
        settings[f"spark.hadoop.fs.s3a.bucket.{bucket}.path.style.access"] = "true"
    return settings


def boto3_identity(environ: Mapping[str, str], session: Any = None) -> AwsIdentity:
    """The credentials and region boto3 resolves now (any source it knows), and the endpoint override."""
    if session is None:
        import boto3

        session = boto3.Session()
    credentials = session.get_credentials()
    endpoint = environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL") or None
    dotted = path_style_buckets(environ.get(PATH_STYLE_ENV, "").split(","))
    if credentials is None:
        log.warning("boto3 found no AWS credentials: S3A falls back to its own credential chain")
        return AwsIdentity(region=session.region_name, endpoint=endpoint, path_style_buckets=dotted)
    frozen = credentials.get_frozen_credentials()
    return AwsIdentity(frozen.access_key, frozen.secret_key, frozen.token, session.region_name, endpoint, dotted)


def spark_settings(environ: Mapping[str, str], session: Any = None) -> dict[str, str]:
    """Every S3A setting for a local SparkSession; {} unless the environment names the jars."""
    jars = jar_settings(environ)
    if not jars:
        return {}
    return {**jars, **filesystem_settings(boto3_identity(environ, session))}


def environment(jars: list[str] | None = None, packages: str = "", buckets: Iterable[str] = ()) -> dict[str, str]:
    """The variables that turn S3A on in a job process: Maven packages, given jars, or the installed ones,
    and the ``buckets`` among those the jobs use that S3A must reach path-style."""
    dotted = path_style_buckets(buckets)
    path_style = {PATH_STYLE_ENV: ",".join(dotted)} if dotted else {}
    if packages.strip():
        return {PACKAGES_ENV: packages.strip(), **path_style}
    chosen = jars if jars else installed_jars()
    missing = [path for path in chosen if not Path(path).is_file()]
    if missing:
        raise S3ASetupError(f"S3A jar {', '.join(missing)} is not a file: fix the path or run `make setup`")
    if not chosen:
        raise S3ASetupError(
            "no S3A jars: run `make setup` (it installs hadoop-aws and the AWS SDK bundle from the "
            "sagemaker-pyspark wheel), or name jars or Maven packages in profiles.aws.local_runner"
        )
    return {JARS_ENV: ",".join(str(Path(path).resolve()) for path in chosen), **path_style}
