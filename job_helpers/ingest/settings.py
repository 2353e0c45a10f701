"""The ``ingest:`` section of config.yml, parsed and resolved for one profile into plain values.

The control plane parses it with the rest of config.yml (so ``make config-check`` reports ingest
mistakes with the others) and the ingest commands take the result from the loaded settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from job_helpers.config_fields import KMS_KEY_ARN, Choice, Text, WholeNumber, read_fields, section
from job_helpers.config_keys import ConfigError, SectionContext, check_keys
from job_helpers.ingest.keep import NOTHING_KEPT, Keep, pattern_problem
from job_helpers.storage import file_url

MAP_STORES = ("ssm", "s3")
RESTORE_TIERS = ("Bulk", "Standard")
SSM_NAME = re.compile(r"[A-Za-z0-9/_.-]{1,1011}")
MB = 1024 * 1024
# The keys of ingest:, ingest.subject_map and its s3_object; config-check refuses any other.
KEYS = (
    "archive",
    "depth",
    "max_workers",
    "multipart_threshold_mb",
    "multipart_chunk_mb",
    "restore_days",
    "restore_tier",
    "kms_key_arn",
    "subject_map",
    "keep",
)
KEEP_KEYS = ("folders", "extensions", "annotations")
SUBJECT_MAP_KEYS = ("file", "store", "ssm_parameter", "s3_object", "noncurrent_version_days")
S3_OBJECT_KEYS = ("bucket", "key")


@dataclass(frozen=True)
class IngestSettings:
    """Everything the ingest commands need, as plain values."""

    profile: str
    datasets: dict[str, str]
    archive_url: str
    archive_storage_class: str | None
    depth: int
    max_workers: int
    multipart_threshold: int
    multipart_chunk: int
    restore_days: int
    restore_tier: str
    kms_key_arn: str | None
    map_file: Path | None
    map_store: str
    ssm_parameter: str
    s3_bucket: str
    s3_key: str
    keep: Keep = NOTHING_KEPT
    # Days the stack keeps a replaced or deleted object version in the subject map's bucket (earlier maps: names).
    map_versions_days: int = 90

    def landing_url(self, dataset: str) -> str:
        if dataset not in self.datasets:
            known = ", ".join(sorted(self.datasets)) or "none: add one under datasets.ingest in config.yml"
            raise ConfigError(f"--dataset {dataset!r}: not an ingest data set (known: {known})")
        return self.datasets[dataset]


# S3 takes one upload or one part of at most 5 GiB.
MOST_PART_MB = 5 * 1024
S3_MOST = " (5 GiB, S3's largest single upload and part)"
# The numbers of ingest:, each with its default.
NUMBERS = {
    "depth": WholeNumber(1),
    "max_workers": WholeNumber(8),
    "multipart_threshold_mb": WholeNumber(64, most=MOST_PART_MB, why=S3_MOST),
    "multipart_chunk_mb": WholeNumber(8, most=MOST_PART_MB, why=S3_MOST),
    "restore_days": WholeNumber(7),
}
# S3 takes parts of at least 5 MB (but the last).
LEAST_PART_MB = 5
RESTORE_TIER = Choice(RESTORE_TIERS, "Bulk", " (DEEP_ARCHIVE's tiers)")
MAP_STORE = Choice(MAP_STORES, "s3")
SSM_PARAMETER = Text(SSM_NAME, "is not an SSM parameter name")
MAP_VERSIONS_DAYS = WholeNumber(90)


@dataclass(frozen=True)
class _SubjectMap:
    """Where the subject map is kept: a local file, or an SSM parameter or S3 object on aws."""

    map_file: Path | None = None
    map_store: str = "file"
    ssm_parameter: str = ""
    s3_bucket: str = ""
    s3_key: str = ""


def parse(node: Any, context: SectionContext, problems: list[str]) -> IngestSettings:
    """Validate ``ingest:`` against the resolved data sets, appending each problem."""
    node = section(node, "ingest", "a mapping of ingest options", problems)
    _check_keys(node, problems)
    profile, datasets = context.profile, context.datasets
    archive_name = str(node.get("archive") or "")
    if archive_name not in datasets:
        problems.append(f"ingest.archive: {archive_name!r} is not a data set; declare it under datasets (see `make paths`)")
    numbers = read_fields(node, NUMBERS, "ingest", problems)
    if numbers["multipart_chunk_mb"] < LEAST_PART_MB:
        problems.append(f"ingest.multipart_chunk_mb: S3 parts are at least {LEAST_PART_MB} MB; use {LEAST_PART_MB} or more")
    # On aws the profile's key (profiles.aws.kms_key_arn, checked with the profile) when ingest names none.
    kms = KMS_KEY_ARN.read(node, "kms_key_arn", "ingest", problems) or (context.aws_kms_key_arn if profile == "aws" else None)
    where = "ingest.subject_map"
    subject_map = section(node.get("subject_map"), where, "a mapping: file on local; store and its place on aws", problems)
    return IngestSettings(
        profile=profile,
        datasets={name[len("ingest.") :]: url for name, url in datasets.items() if name.startswith("ingest.")},
        archive_url=datasets.get(archive_name, ""),
        archive_storage_class="DEEP_ARCHIVE" if profile == "aws" else None,
        depth=numbers["depth"],
        max_workers=numbers["max_workers"],
        multipart_threshold=numbers["multipart_threshold_mb"] * MB,
        multipart_chunk=numbers["multipart_chunk_mb"] * MB,
        restore_days=numbers["restore_days"],
        restore_tier=RESTORE_TIER.read(node, "restore_tier", "ingest", problems),
        kms_key_arn=kms,
        keep=_keep(node.get("keep") or {}, problems),
        map_versions_days=MAP_VERSIONS_DAYS.read(subject_map, "noncurrent_version_days", where, problems),
        **asdict(_local_map(subject_map, context, problems) if profile == "local" else _aws_map(subject_map, context, problems)),
    )


def _check_keys(node: dict, problems: list[str]) -> None:
    where = "ingest.subject_map"
    check_keys(node, KEYS, "ingest", problems)
    check_keys(node.get("subject_map"), SUBJECT_MAP_KEYS, where, problems)
    subject_map = node.get("subject_map")
    check_keys(
        subject_map.get("s3_object") if isinstance(subject_map, dict) else None, S3_OBJECT_KEYS, f"{where}.s3_object", problems
    )
    check_keys(node.get("keep"), KEEP_KEYS, "ingest.keep", problems)


def _local_map(subject_map: Mapping[str, Any], context: SectionContext, problems: list[str]) -> _SubjectMap:
    """The local profile keeps the map in a file, outside every data set."""
    map_file = Path(str(subject_map.get("file") or ".secrets/subject_map.json"))
    map_file = (map_file if map_file.is_absolute() else context.base_dir / map_file).resolve()
    if any(file_url(map_file).startswith(url) for url in context.datasets.values()):
        problems.append("ingest.subject_map.file: the map must not lie inside a data set location; keep it in .secrets/")
    return _SubjectMap(map_file=map_file)


def _aws_map(subject_map: Mapping[str, Any], context: SectionContext, problems: list[str]) -> _SubjectMap:
    """The aws profile keeps the map in an SSM parameter or an S3 object of a declared bucket."""
    where = "ingest.subject_map"
    store = MAP_STORE.read(subject_map, "store", where, problems)
    parameter = str(subject_map.get("ssm_parameter") or "")
    if store == "ssm":
        SSM_PARAMETER.read(subject_map, "ssm_parameter", where, problems)
    s3_object = subject_map.get("s3_object")
    s3_object = s3_object if isinstance(s3_object, dict) else {}
    bucket = str(context.buckets.get(str(s3_object.get("bucket") or ""), ""))
    key = str(s3_object.get("key") or "")
    if store == "s3" and (not bucket or not key):
        problems.append(f"{where}.s3_object: give {{bucket: <logical bucket under buckets>, key: <object key>}}")
    return _SubjectMap(None, store, parameter, bucket, key)


def _keep(node: Any, problems: list[str]) -> Keep:
    """``ingest.keep``: lists of regular expressions; each entry must compile."""
    if not isinstance(node, dict):
        problems.append("ingest.keep: expected a mapping with folders, extensions and annotations lists")
        return NOTHING_KEPT
    lists: dict[str, tuple[str, ...]] = {}
    for name in KEEP_KEYS:
        value = node.get(name) or []
        if not isinstance(value, list):
            problems.append(f"ingest.keep.{name}: expected a list of regular expressions, e.g. ['EEG', 'session [0-9]+']")
            value = []
        found = [(index, pattern, pattern_problem(pattern)) for index, pattern in enumerate(value)]
        problems.extend(f"ingest.keep.{name}[{index}]: {problem}" for index, _, problem in found if problem)
        lists[name] = tuple(str(pattern) for _, pattern, problem in found if not problem)
    return Keep(**lists)
