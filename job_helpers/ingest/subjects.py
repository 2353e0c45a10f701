"""The subject map: patient (subject key) to random 8-digit code, kept where only the operator can read it.

Codes are drawn with ``secrets`` so they carry nothing about the patient or the order of arrival,
and are checked against every code already given so two patients never share one. The map itself
is never logged, printed or written next to the data: locally a mode-600 JSON file, on aws an SSM
SecureString parameter or an S3 object encrypted with SSE-KMS.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol

log = logging.getLogger(__name__)

CODE_LOW, CODE_HIGH = 10_000_000, 99_999_999
SSM_STANDARD_LIMIT = 4096


class SubjectMapError(Exception):
    """The subject map cannot be read or written safely; the message says where and how to fix it."""


def draw_code() -> int:
    return CODE_LOW + secrets.randbelow(CODE_HIGH - CODE_LOW + 1)


def assign_codes(keys: Iterable[str], existing: Mapping[str, str],
                 draw: Callable[[], int] = draw_code) -> dict[str, str]:
    """Codes for the keys not yet in ``existing``: new, distinct, never one already given."""
    taken = set(existing.values())
    new: dict[str, str] = {}
    for key in sorted(set(keys) - set(existing)):
        for _ in range(1000):
            code = f"{draw():08d}"
            if code not in taken and len(code) == 8:
                break
        else:
            raise SubjectMapError("could not draw an unused 8-digit code in 1000 tries; the map is nearly full")
        taken.add(code)
        new[key] = code
    return new


def placeholder_codes(keys: Iterable[str], existing: Mapping[str, str]) -> dict[str, str]:
    """Stand-ins (``<new-1>``, ``<new-2>``…) for the keys not yet in ``existing``, for a dry run."""
    return {key: f"<new-{n}>" for n, key in enumerate(sorted(set(keys) - set(existing)), start=1)}


def _decode(text: str, where: str) -> dict[str, str]:
    try:
        document = json.loads(text)
        subjects = document["subjects"]
    except (ValueError, KeyError, TypeError) as error:
        raise SubjectMapError(f"{where}: not a subject map (expected JSON with a 'subjects' object)") from error
    if len(set(subjects.values())) != len(subjects):
        raise SubjectMapError(f"{where}: two subjects share a code; restore the map from its backup")
    return dict(subjects)


def _encode(subjects: Mapping[str, str]) -> str:
    return json.dumps({"version": 1, "subjects": dict(sorted(subjects.items()))}, indent=1)


class SubjectStore(Protocol):
    def load(self) -> dict[str, str]: ...

    def save(self, subjects: Mapping[str, str]) -> None: ...


class FileSubjectStore:
    """A JSON file readable by its owner only (mode 600, in a mode-700 folder), written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        if self.path.stat().st_mode & 0o077:
            raise SubjectMapError(f"{self.path}: the subject map is readable by others; run chmod 600 {self.path}")
        return _decode(self.path.read_text(encoding="utf-8"), str(self.path))

    def save(self, subjects: Mapping[str, str]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = self.path.with_name(f".tmp-{secrets.token_hex(8)}-{self.path.name}")
        descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(_encode(subjects))
            os.replace(temp, self.path)
        finally:
            temp.unlink(missing_ok=True)
        log.info("subject map saved: %d subject(s)", len(subjects))


class SsmSubjectStore:
    """An SSM SecureString parameter, encrypted with the given KMS key (or the account's default)."""

    def __init__(self, ssm: Any, name: str, kms_key_id: str | None = None) -> None:
        self.ssm, self.name, self.kms_key_id = ssm, name, kms_key_id

    def load(self) -> dict[str, str]:
        try:
            value = self.ssm.get_parameter(Name=self.name, WithDecryption=True)["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            return {}
        return _decode(value, f"SSM parameter {self.name}")

    def save(self, subjects: Mapping[str, str]) -> None:
        value = _encode(subjects)
        extra = {"KeyId": self.kms_key_id} if self.kms_key_id else {}
        tier = "Standard" if len(value.encode()) <= SSM_STANDARD_LIMIT else "Advanced"
        self.ssm.put_parameter(Name=self.name, Value=value, Type="SecureString", Overwrite=True, Tier=tier, **extra)
        log.info("subject map saved to SSM parameter %s: %d subject(s)", self.name, len(subjects))


class S3SubjectStore:
    """One S3 object, always written with SSE-KMS."""

    def __init__(self, s3: Any, bucket: str, key: str, kms_key_id: str | None = None) -> None:
        self.s3, self.bucket, self.key, self.kms_key_id = s3, bucket, key, kms_key_id

    def load(self) -> dict[str, str]:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return {}
        return _decode(body.decode("utf-8"), f"s3://{self.bucket}/{self.key}")

    def save(self, subjects: Mapping[str, str]) -> None:
        extra = {"SSEKMSKeyId": self.kms_key_id} if self.kms_key_id else {}
        self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=_encode(subjects).encode("utf-8"),
                           ServerSideEncryption="aws:kms", ContentType="application/json", **extra)
        log.info("subject map saved to s3://%s/%s: %d subject(s)", self.bucket, self.key, len(subjects))
