"""Object stores for ingest: a local folder tree and S3, with the metadata, storage classes and restores
that ``job_helpers.storage`` does not need to know about.

Both stores take and return URLs (``file://`` or ``s3://``). The S3 store shares one boto3 transfer
manager, so large files go up and down in parallel parts and many small ones in parallel, with
memory bounded by part size times concurrency.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from job_helpers.ingest.payload import CHUNK, open_payload, sha256_of
from job_helpers.storage import join, local_path, split_s3

OnBytes = Callable[[int], None]
ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
FILE_MODE, FOLDER_MODE = 0o640, 0o750


@dataclass(frozen=True)
class ObjectInfo:
    """What a store says about one object without reading it (locally the checksum is computed)."""

    size: int
    sha256: str | None
    storage_class: str = "STANDARD"
    restore: str | None = None

    @property
    def archived(self) -> bool:
        return self.storage_class in ARCHIVE_CLASSES

    @property
    def restore_state(self) -> str:
        """``none`` (not requested), ``in-progress`` or ``available`` for archived objects; else ``available``."""
        if not self.archived:
            return "available"
        if not self.restore:
            return "none"
        return "in-progress" if 'ongoing-request="true"' in self.restore else "available"


class LocalObjects:
    """``file://`` URLs: atomic writes (temporary file renamed into place), mode 640, no one else writes."""

    def head(self, url: str) -> ObjectInfo | None:
        path = local_path(url)
        if not path.is_file():
            return None
        return ObjectInfo(path.stat().st_size, sha256_of(path))

    def put_file(
        self,
        path: Path,
        patch: bytes | None,
        url: str,
        sha256: str,
        storage_class: str | None = None,
        on_bytes: OnBytes | None = None,
    ) -> None:
        with open_payload(path, patch) as source:
            self._write(local_path(url), source, on_bytes)

    def put_bytes(self, url: str, data: bytes) -> None:
        self._write(local_path(url), io.BytesIO(data), None)

    def read_bytes(self, url: str) -> bytes | None:
        path = local_path(url)
        return path.read_bytes() if path.is_file() else None

    def download(self, url: str, path: Path, on_bytes: OnBytes | None = None) -> None:
        with open(local_path(url), "rb") as source, open(path, "wb") as target:
            _copy(source, target, on_bytes)

    def list(self, prefix_url: str) -> Iterator[str]:
        root = local_path(prefix_url)
        if not root.is_dir():
            return
        for dirpath, _, filenames in sorted(os.walk(root)):
            for name in sorted(filenames):
                if not name.startswith(".tmp-"):
                    yield join(prefix_url, Path(dirpath, name).relative_to(root).as_posix())

    def request_restore(self, url: str, days: int, tier: str) -> None:
        raise ValueError(f"{url}: local archives are always available; nothing to restore")

    @staticmethod
    def _write(target: Path, source: Any, on_bytes: OnBytes | None) -> None:
        for parent in reversed(target.parents):
            if not parent.exists():
                parent.mkdir(mode=FOLDER_MODE, exist_ok=True)
        temp = target.with_name(f".tmp-{secrets.token_hex(8)}-{target.name}")
        try:
            with open(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "wb") as handle:
                _copy(source, handle, on_bytes)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)


def _copy(source: Any, target: Any, on_bytes: OnBytes | None) -> None:
    while chunk := source.read(CHUNK):
        target.write(chunk)
        if on_bytes:
            on_bytes(len(chunk))


class S3Objects:
    """``s3://`` URLs through one shared transfer manager; SSE-KMS on every write when a key is given."""

    def __init__(self, s3: Any, transfer_config: Any = None, kms_key_id: str | None = None) -> None:
        from boto3.s3.transfer import TransferConfig, create_transfer_manager

        self.s3 = s3
        self.kms_key_id = kms_key_id
        self._manager = create_transfer_manager(s3, transfer_config or TransferConfig())

    def close(self) -> None:
        self._manager.shutdown()

    def head(self, url: str) -> ObjectInfo | None:
        bucket, key = split_s3(url)
        try:
            response = self.s3.head_object(Bucket=bucket, Key=key)
        except self.s3.exceptions.ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return ObjectInfo(
            size=response["ContentLength"],
            sha256=response.get("Metadata", {}).get("sha256"),
            storage_class=response.get("StorageClass") or "STANDARD",
            restore=response.get("Restore"),
        )

    def _encryption(self) -> dict[str, str]:
        if not self.kms_key_id:
            return {}
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}

    def put_file(
        self,
        path: Path,
        patch: bytes | None,
        url: str,
        sha256: str,
        storage_class: str | None = None,
        on_bytes: OnBytes | None = None,
    ) -> None:
        bucket, key = split_s3(url)
        extra = {"Metadata": {"sha256": sha256}, **self._encryption()}
        if storage_class:
            extra["StorageClass"] = storage_class
        source: Any = str(path) if patch is None else open_payload(path, patch)
        try:
            self._manager.upload(source, bucket, key, extra_args=extra, subscribers=_subscribers(on_bytes)).result()
        finally:
            if not isinstance(source, str):
                source.close()

    def put_bytes(self, url: str, data: bytes) -> None:
        bucket, key = split_s3(url)
        sha256 = hashlib.sha256(data).hexdigest()
        self.s3.put_object(Bucket=bucket, Key=key, Body=data, Metadata={"sha256": sha256}, **self._encryption())

    def read_bytes(self, url: str) -> bytes | None:
        bucket, key = split_s3(url)
        try:
            return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None

    def download(self, url: str, path: Path, on_bytes: OnBytes | None = None) -> None:
        bucket, key = split_s3(url)
        self._manager.download(bucket, key, str(path), subscribers=_subscribers(on_bytes)).result()

    def list(self, prefix_url: str) -> Iterator[str]:
        bucket, prefix = split_s3(prefix_url)
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield f"s3://{bucket}/{item['Key']}"

    def request_restore(self, url: str, days: int, tier: str) -> None:
        bucket, key = split_s3(url)
        self.s3.restore_object(Bucket=bucket, Key=key, RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": tier}})


def _subscribers(on_bytes: OnBytes | None) -> list[Any]:
    if on_bytes is None:
        return []
    from s3transfer.subscribers import BaseSubscriber

    report = on_bytes

    class Progress(BaseSubscriber):
        def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
            report(bytes_transferred)

    return [Progress()]


def objects_for(
    url: str, s3_client: Callable[[], Any], transfer_config: Any = None, kms_key_id: str | None = None
) -> LocalObjects | S3Objects:
    """The store for a URL's scheme; the S3 client is only made when an ``s3://`` URL needs it."""
    scheme = urlparse(url).scheme
    if scheme == "file":
        return LocalObjects()
    if scheme == "s3":
        return S3Objects(s3_client(), transfer_config, kms_key_id)
    raise ValueError(f"{url}: expected a file:// or s3:// URL")
