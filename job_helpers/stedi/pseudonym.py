"""Keyed pseudonyms (HMAC-SHA256) for the curated zone, and where the key comes from.

The key is looked up from a *source* the control plane passes as a job argument, never the key
itself, so it appears in no argument list, log line or query plan:

* the environment variable ``PSEUDONYM_KEY`` always wins;
* ``file:///…/pseudonym.key``: a local key file, created with 32 random bytes (mode 600) on first
  use and reused after;
* ``secretsmanager:<name>``: an AWS Secrets Manager secret (its SecretString).

Pseudonyms are computed on the driver for the distinct values (one per customer) and joined in,
so the key never travels to executors inside a closure or a literal. The value pseudonymised is the
email as a key (trimmed, lower-cased), so a customer's casings share one pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, cast

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, StructField, StructType

from job_helpers.aws import client
from job_helpers.job_failed import JobFailed
from job_helpers.stedi.schemas import IDENTIFIER_COLUMNS, PSEUDONYM_COLUMN
from job_helpers.stedi.transform import email_key
from job_helpers.storage import local_path

log = logging.getLogger(__name__)

KEY_ENV = "PSEUDONYM_KEY"
MIN_KEY_BYTES = 16
SECRETS_PREFIX = "secretsmanager:"
KEY_COLUMN = "_email_key"


class PseudonymKeyError(JobFailed):
    """No usable pseudonymisation key; the message names the source and how to provide one."""


def pseudonym(key: bytes, value: str) -> str:
    """The hex HMAC-SHA256 of ``value`` (UTF-8) under ``key``."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def resolve_key(
    source: str,
    environ: Mapping[str, str] | None = None,
    secrets_client: Callable[[], Any] | None = None,
) -> bytes:
    """The key from ``PSEUDONYM_KEY``, else from ``source`` (a key file URL or a Secrets Manager name)."""
    environ = os.environ if environ is None else environ
    if environ.get(KEY_ENV):
        return _checked(environ[KEY_ENV].encode("utf-8"), f"environment variable {KEY_ENV}")
    if source.startswith("file://"):
        return _checked(_key_file(local_path(source)), source)
    if source.startswith(SECRETS_PREFIX):
        return _checked(_secret(source[len(SECRETS_PREFIX) :], secrets_client), source)
    raise PseudonymKeyError(
        f"--pseudonym-key {source!r}: expected file:///path/to/key or secretsmanager:<secret name> (or set {KEY_ENV})"
    )


def _checked(key: bytes, where: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise PseudonymKeyError(f"the pseudonymisation key from {where} is shorter than {MIN_KEY_BYTES} bytes; use a longer one")
    return key


def _key_file(path: Path) -> bytes:
    """Read the key file, creating it atomically (mode 600) if absent; concurrent first uses agree."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".tmp-{secrets.token_hex(8)}-{path.name}")
        descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        try:
            os.link(temp, path)
            log.info("created a new random pseudonymisation key file at %s", path)
        except FileExistsError:
            pass
        finally:
            temp.unlink()
    if path.stat().st_mode & 0o077:
        raise PseudonymKeyError(f"{path}: the key file is readable by others; run chmod 600 {path}")
    return path.read_text(encoding="utf-8").strip().encode("utf-8")


def _secret(name: str, secrets_client: Callable[[], Any] | None) -> bytes:
    if secrets_client is None:

        def secrets_client() -> Any:
            return client("secretsmanager")

    secrets = secrets_client()
    try:
        value = secrets.get_secret_value(SecretId=name)
    except secrets.exceptions.ResourceNotFoundException as error:
        raise PseudonymKeyError(
            f"Secrets Manager has no secret {name!r}: create it (aws secretsmanager create-secret --name {name} "
            "--secret-string <random text>) or change stedi.pseudonym_secret in config.yml"
        ) from error
    text = value.get("SecretString")
    if not text:
        raise PseudonymKeyError(f"secret {name!r} has no SecretString; store the key as text")
    return text.encode("utf-8")


def pseudonym_table(spark: SparkSession, values: Iterable[str], key: bytes, column: str) -> DataFrame:
    """A small (``column``, customerPseudonym) table for the given distinct values.

    Handed to the JVM as JSON lines in one string, split there into the array of a one-row frame
    and exploded, so it starts no Python worker (a list would start one per task to unpickle it),
    needs no pandas (its import and the setuptools pyspark's Arrow checks load cost half a second)
    and no encoder (Spark's String encoder starts Scala's runtime reflection: 0.3-0.5 s in a fresh
    JVM). The rows are data, not literals of the query plan.
    """
    rows = "\n".join(json.dumps({column: value, PSEUDONYM_COLUMN: pseudonym(key, value)}) for value in sorted(set(values)))
    jvm = cast(Any, spark._jvm)
    # No values make no lines ("" would split into one empty line).
    split = jvm.java.util.regex.Pattern.compile("\n").splitAsStream(rows) if rows else jvm.java.util.stream.Stream.empty()
    cells = cast(Any, spark.sparkContext._gateway).new_array(jvm.java.lang.Object, 1)
    cells[0] = split.collect(jvm.java.util.stream.Collectors.toList())
    one_row = jvm.java.util.Collections.singletonList(jvm.org.apache.spark.sql.RowFactory.create(cells))
    schema = jvm.org.apache.spark.sql.types.DataType.fromJson(StructType([StructField("lines", ArrayType(StringType()))]).json())
    batch = DataFrame(spark._jsparkSession.createDataFrame(one_row, schema), spark)
    exploded = batch.select(F.explode("lines").alias("line"))
    return exploded.select(F.from_json("line", f"`{column}` STRING, `{PSEUDONYM_COLUMN}` STRING").alias("row")).select("row.*")


def pseudonymise(
    spark: SparkSession, frame: DataFrame, column: str, key: bytes, values_from: DataFrame | None = None
) -> DataFrame:
    """Replace ``column`` (an email) by the keyed pseudonym of its key form, and drop direct identifiers.

    Pseudonyms are computed on the driver for the distinct keys and joined in, so nothing is lost
    but rows without an email. ``values_from`` is a cheaper frame holding every email of ``frame`` in
    the same column (the table ``frame`` was filtered from): its keys are collected instead of
    running ``frame``'s plan twice. A row whose email it lacks fails the action that reads the
    result (naming the column, never the email) rather than being left out.
    """
    keyed = frame.withColumn(KEY_COLUMN, email_key(column)).where(F.col(KEY_COLUMN).isNotNull())
    source = keyed if values_from is None else values_from.select(email_key(column).alias(KEY_COLUMN))
    values = [row[0] for row in source.select(KEY_COLUMN).distinct().collect() if row[0] is not None]
    joined = keyed.join(pseudonym_table(spark, values, key, KEY_COLUMN), KEY_COLUMN, "left")
    unknown = F.raise_error(F.lit(f"{column}: a row's value is not among the values pseudonymised (values_from lacks it)"))
    found = F.when(F.col(PSEUDONYM_COLUMN).isNull(), unknown).otherwise(F.col(PSEUDONYM_COLUMN))
    kept = [name for name in frame.columns if name not in IDENTIFIER_COLUMNS]
    return joined.select(found.alias(PSEUDONYM_COLUMN), *kept)
