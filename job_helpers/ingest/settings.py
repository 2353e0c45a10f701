"""The ``ingest:`` section of config.yml, parsed and resolved for one profile into plain values.

The control plane parses it with the rest of config.yml (so ``make config-check`` reports ingest
mistakes with the others) and the ingest commands take the result from the loaded settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from job_helpers.config_keys import ConfigError, SectionContext, check_keys
from job_helpers.ingest.keep import NOTHING_KEPT, Keep, pattern_problem

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


def parse(node: Any, context: SectionContext, problems: list[str]) -> IngestSettings:
    """Validate ``ingest:`` against the resolved data sets, appending each problem."""
    if node is None:
        node = {}
    if not isinstance(node, dict):
        problems.append("ingest: expected a mapping of ingest options")
        node = {}
    profile, datasets = context.profile, context.datasets
    check_keys(node, KEYS, "ingest", problems)
    check_keys(node.get("subject_map"), SUBJECT_MAP_KEYS, "ingest.subject_map", problems)
    check_keys((node.get("subject_map") or {}).get("s3_object"), S3_OBJECT_KEYS, "ingest.subject_map.s3_object", problems)
    check_keys(node.get("keep"), KEEP_KEYS, "ingest.keep", problems)
    landing = {name[len("ingest.") :]: url for name, url in datasets.items() if name.startswith("ingest.")}
    archive_name = str(node.get("archive") or "")
    if archive_name not in datasets:
        problems.append(f"ingest.archive: {archive_name!r} is not a data set; declare it under datasets (see `make paths`)")
    numbers = {
        name: _positive(node, name, default, problems)
        for name, default in (
            ("depth", 1),
            ("max_workers", 8),
            ("multipart_threshold_mb", 64),
            ("multipart_chunk_mb", 8),
            ("restore_days", 7),
        )
    }
    if numbers["multipart_chunk_mb"] < 5:
        problems.append("ingest.multipart_chunk_mb: S3 parts are at least 5 MB; use 5 or more")
    tier = str(node.get("restore_tier") or "Bulk")
    if tier not in RESTORE_TIERS:
        problems.append(f"ingest.restore_tier: {tier!r} is not one of {', '.join(RESTORE_TIERS)} (DEEP_ARCHIVE's tiers)")
    kms = str(node.get("kms_key_arn") or "") or None
    if profile == "aws" and kms is None:
        kms = context.aws_kms_key_arn
    if kms and not kms.startswith("arn:aws"):
        problems.append(f"ingest.kms_key_arn: {kms!r} must be a KMS key ARN or empty")
    subject_map = node.get("subject_map") or {}
    versions_days = _positive(subject_map, "noncurrent_version_days", 90, problems, "ingest.subject_map")
    map_file, store, parameter, bucket, key = None, "file", "", "", ""
    if profile == "local":
        map_file = Path(str(subject_map.get("file") or ".secrets/subject_map.json"))
        map_file = (map_file if map_file.is_absolute() else context.base_dir / map_file).resolve()
        if any(map_file.as_uri().startswith(url) for url in datasets.values()):
            problems.append("ingest.subject_map.file: the map must not lie inside a data set location; keep it in .secrets/")
    else:
        store = str(subject_map.get("store") or "s3")
        if store not in MAP_STORES:
            problems.append(f"ingest.subject_map.store: {store!r} is not one of {', '.join(MAP_STORES)}")
        parameter = str(subject_map.get("ssm_parameter") or "")
        if store == "ssm" and not SSM_NAME.fullmatch(parameter):
            problems.append(f"ingest.subject_map.ssm_parameter: {parameter!r} is not an SSM parameter name")
        s3_object = subject_map.get("s3_object") or {}
        logical = s3_object.get("bucket")
        bucket = str(context.buckets.get(str(logical or ""), ""))
        key = str(s3_object.get("key") or "")
        if store == "s3" and (not bucket or not key):
            problems.append("ingest.subject_map.s3_object: give {bucket: <logical bucket under buckets>, key: <object key>}")
    return IngestSettings(
        profile=profile,
        datasets=landing,
        archive_url=datasets.get(archive_name, ""),
        archive_storage_class="DEEP_ARCHIVE" if profile == "aws" else None,
        depth=numbers["depth"],
        max_workers=numbers["max_workers"],
        multipart_threshold=numbers["multipart_threshold_mb"] * MB,
        multipart_chunk=numbers["multipart_chunk_mb"] * MB,
        restore_days=numbers["restore_days"],
        restore_tier=tier,
        kms_key_arn=kms,
        map_file=map_file,
        map_store=store,
        ssm_parameter=parameter,
        s3_bucket=bucket,
        s3_key=key,
        keep=_keep(node.get("keep") or {}, problems),
        map_versions_days=versions_days,
    )


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


def _positive(node: Mapping[str, Any], name: str, default: int, problems: list[str], section: str = "ingest") -> int:
    value = node.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems.append(f"{section}.{name}: {value!r} must be a positive whole number")
        return default
    return value
