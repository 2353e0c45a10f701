"""Object storage addressed by URL: ``file://`` folders locally, ``s3://`` buckets on AWS.

Every writer publishes atomically: a reader sees the old object or the whole new one, never a
part. Locally that is a temporary file renamed into place; on S3 a single PUT (or a completed
multipart upload) is already atomic.

``read_versioned`` and ``write_if`` make a compare-and-swap for small commit records that several
runs may update at once: on S3 a conditional PUT (``If-None-Match: *`` to create,
``If-Match: <ETag>`` to replace); locally a lock on the object's folder around compare and rename.

``head`` says what an object is without reading it on S3 (size, the SHA-256 its writer recorded,
storage class, restore state); ``stored_sha256`` the SHA-256 S3 itself checked when the object was written. Uploads and downloads on S3 share one transfer manager, so large files move in parallel parts and memory
stays bounded by part size times concurrency.

A ``file://`` URL is ``file://`` and an absolute path taken literally, as Hadoop (and so Spark) reads
it: ``%``, ``#`` and ``?`` are characters of a name, never escapes, a query or a fragment, just as
in an S3 key. ``file_url`` makes one from a path; ``Path.as_uri()`` percent-encodes and would name
another folder for Spark.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import io
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlparse

from job_helpers.aws import client

TEMP_PREFIX = ".tmp-"
FILE_SCHEME = "file://"
COPY_CHUNK = 1024 * 1024
ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
OnBytes = Callable[[int], None]
# Connections of a Storage's S3 client, and requests its default transfer manager runs at once.
S3_CONNECTIONS = 64
_MANAGER_LOCK = threading.Lock()  # module-level, so a Storage stays picklable


class StorageError(Exception):
    """A location could not be read or written; the message names it."""


class WriteConflict(StorageError):
    """A conditional write found the object changed since it was read: read it again, then retry."""


@dataclass(frozen=True)
class Versioned:
    """An object's bytes and the version token that ``Storage.write_if`` compares against."""

    data: bytes
    version: str


DELETE_BATCH = 1000  # keys per S3 DeleteObjects call, the API's limit


@dataclass(frozen=True)
class StoredObject:
    url: str
    size: int
    modified: float = 0.0  # epoch seconds of the last write


@dataclass(frozen=True)
class ObjectInfo:
    """What ``Storage.head`` says about one object.

    ``sha256``: locally computed from the file; on S3 the ``x-amz-meta-sha256`` its writer recorded
    (``write_bytes`` always, ``upload`` when given one), else None. ``restore``: S3's restore header.
    """

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


def join(base: str, *parts: str) -> str:
    """Join URL path parts with single slashes, keeping a trailing slash on the last part."""
    url = base
    for part in parts:
        url = url.rstrip("/") + "/" + part.lstrip("/")
    return url


def local_path(url: str) -> Path:
    """The file or folder a ``file://`` URL names, its path read literally (see the module's docstring)."""
    path = url.removeprefix(FILE_SCHEME)
    if not url.startswith(FILE_SCHEME) or not path.startswith("/"):
        raise StorageError(f"{url}: not a file:///absolute/path URL")
    return Path(path)


def file_url(path: Path) -> str:
    """The ``file://`` URL of a path, absolute and unescaped, so Spark and this module name the same file."""
    return FILE_SCHEME + path.absolute().as_posix()


def split_s3(url: str) -> tuple[str, str]:
    """Bucket and key; split by hand because S3 keys may hold ``#`` and ``?``, which urlparse would cut."""
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket:
        raise StorageError(f"{url}: not an s3://bucket/key URL")
    return bucket, key


class Storage:
    """Reads and writes ``file://`` and ``s3://`` URLs.

    The S3 client is made on first use from the boto3 session passed in (or a default one), so
    creating a Storage never touches AWS. ``transfer_config`` (a boto3 ``TransferConfig``) sets the
    multipart sizes and concurrency of uploads and downloads; ``kms_key_id`` encrypts every S3 write
    with SSE-KMS. Local files are created with ``file_mode`` and missing folders with ``folder_mode``
    (both before the umask; the defaults are the operating system's).
    """

    def __init__(
        self,
        boto3_session: Any = None,
        s3_client: Any = None,
        *,
        transfer_config: Any = None,
        kms_key_id: str | None = None,
        file_mode: int = 0o666,
        folder_mode: int = 0o777,
    ) -> None:
        self._session = boto3_session
        self._s3 = s3_client
        self._transfer_config = transfer_config
        self._manager: Any = None
        self.kms_key_id = kms_key_id
        self.file_mode, self.folder_mode = file_mode, folder_mode

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = client("s3", self._session, max_pool_connections=S3_CONNECTIONS)
        return self._s3

    @property
    def transfers(self) -> Any:
        """The one transfer manager of this Storage's uploads and downloads, made on first use.

        Without a given config it runs as many requests at once as the client has connections, so
        callers that transfer from many threads (SiteWise's downloads) are not held to boto3's 10.
        """
        with _MANAGER_LOCK:
            if self._manager is None:
                from boto3.s3.transfer import TransferConfig, create_transfer_manager

                config = self._transfer_config or TransferConfig(max_concurrency=S3_CONNECTIONS)
                self._manager = create_transfer_manager(self.s3, config)
            return self._manager

    def close(self) -> None:
        """Stop the transfer manager's threads, if it was made; the Storage makes a new one when used again."""
        with _MANAGER_LOCK:
            manager, self._manager = self._manager, None
        if manager is not None:
            manager.shutdown()

    def _encryption(self) -> dict[str, str]:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id} if self.kms_key_id else {}

    def _temp_beside(self, target: Path) -> _local_temp_beside:
        return _local_temp_beside(target, self.file_mode, self.folder_mode)

    def list(self, prefix_url: str) -> Iterator[StoredObject]:
        """Every object under a prefix, sorted by URL; temporary files of unfinished writes are skipped.

        As on S3, a prefix that does not end in ``/`` also matches names that merely start with it
        (``…/.trash-trusted-`` lists every ``.trash-trusted-<id>/`` folder), unless it is a folder.
        """
        scheme = urlparse(prefix_url).scheme
        if scheme == "file":
            yield from sorted(_local_objects(prefix_url), key=lambda o: o.url)
            return
        bucket, prefix = split_s3(prefix_url)
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield StoredObject(f"s3://{bucket}/{item['Key']}", item["Size"], item["LastModified"].timestamp())

    def exists(self, url: str) -> bool:
        if urlparse(url).scheme == "file":
            return local_path(url).is_file()
        return self.head(url) is not None

    def head(self, url: str) -> ObjectInfo | None:
        """What the object is (see ``ObjectInfo``), or None if there is none; locally this reads the file to hash it."""
        if urlparse(url).scheme == "file":
            path = local_path(url)
            if not path.is_file():
                return None
            with open(path, "rb") as handle:
                return ObjectInfo(os.fstat(handle.fileno()).st_size, hashlib.file_digest(handle, "sha256").hexdigest())
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

    def stored_sha256(self, url: str) -> str | None:
        """The SHA-256 (hex) of the object's bytes as the store itself knows it; None without the object or a checksum.

        Locally the file's hash. On S3 the full-object ``ChecksumSHA256`` that S3 checked against the bytes when they
        were written with it (``write_bytes`` does): unlike the ``x-amz-meta-sha256`` a writer records, it cannot
        differ from the bytes. An object written without one, or in parts, has none.
        """
        if urlparse(url).scheme == "file":
            info = self.head(url)
            return info.sha256 if info else None
        bucket, key = split_s3(url)
        try:
            response = self.s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except self.s3.exceptions.ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        checksum = response.get("ChecksumSHA256")
        if not checksum or "-" in checksum or response.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
            return None
        return base64.b64decode(checksum).hex()

    def open(self, url: str) -> BinaryIO:
        """A seekable binary file to read: the file itself locally, ranged GETs on S3 (only the bytes read move)."""
        try:
            if urlparse(url).scheme == "file":
                return open(local_path(url), "rb")
            return io.BufferedReader(_s3_ranges(self.s3, url), buffer_size=RANGE_BUFFER)
        except FileNotFoundError as error:
            raise StorageError(f"{url}: no such object") from error
        except Exception as error:
            if _is_missing_key(error):
                raise StorageError(f"{url}: no such object") from error
            raise

    def read_bytes(self, url: str) -> bytes:
        try:
            if urlparse(url).scheme == "file":
                return local_path(url).read_bytes()
            bucket, key = split_s3(url)
            return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except FileNotFoundError as error:
            raise StorageError(f"{url}: no such object") from error
        except Exception as error:
            if _is_missing_key(error):
                raise StorageError(f"{url}: no such object") from error
            raise

    def read_text(self, url: str) -> str:
        return self.read_bytes(url).decode("utf-8")

    def download(self, url: str, path: Path) -> None:
        """Copy an object to a local file, streaming rather than holding it in memory."""
        if urlparse(url).scheme == "file":
            shutil.copyfile(local_path(url), path)
            return
        bucket, key = split_s3(url)
        self.transfers.download(bucket, key, str(path)).result()

    def write_bytes(self, url: str, data: bytes) -> None:
        """Publish ``data`` at ``url``; on S3 with its SHA-256 as ``x-amz-meta-sha256`` and as the checksum S3 checks and keeps."""
        if urlparse(url).scheme == "file":
            with self._temp_beside(local_path(url)) as temp:
                temp.write_bytes(data)
            return
        bucket, key = split_s3(url)
        sha256 = hashlib.sha256(data).hexdigest()
        self.s3.put_object(
            Bucket=bucket, Key=key, Body=data, Metadata={"sha256": sha256}, ChecksumAlgorithm="SHA256", **self._encryption()
        )

    def write_text(self, url: str, text: str) -> None:
        self.write_bytes(url, text.encode("utf-8"))

    def read_versioned(self, url: str) -> Versioned | None:
        """The object with its version token (the ETag on S3, a content hash locally); None if absent."""
        if urlparse(url).scheme == "file":
            try:
                data = local_path(url).read_bytes()
            except FileNotFoundError:
                return None
            return Versioned(data, _content_version(data))
        bucket, key = split_s3(url)
        try:
            response = self.s3.get_object(Bucket=bucket, Key=key)
        except Exception as error:
            if _is_missing_key(error):
                return None
            raise
        return Versioned(response["Body"].read(), response["ETag"])

    def write_if(self, url: str, data: bytes, version: str | None) -> str:
        """Write ``data`` only if the object is still at ``version`` (None: only if there is none yet).

        Returns the new version. Raises ``WriteConflict`` if another writer got there first, so the
        caller can read the object again and decide whether to retry.
        """
        if urlparse(url).scheme == "file":
            target = local_path(url)
            _make_folders(target.parent, self.folder_mode)
            with _folder_lock(target.parent):
                current = self.read_versioned(url)
                if (current.version if current else None) != version:
                    raise WriteConflict(f"{url}: changed since it was read (expected version {version})")
                with self._temp_beside(target) as temp:
                    temp.write_bytes(data)
            return _content_version(data)
        bucket, key = split_s3(url)
        condition = {"IfNoneMatch": "*"} if version is None else {"IfMatch": version}
        try:
            response = self.s3.put_object(Bucket=bucket, Key=key, Body=data, **condition, **self._encryption())
        except self.s3.exceptions.ClientError as error:
            code = error.response["Error"]["Code"]
            # 412: the condition failed; 409: a concurrent conditional write won; NoSuchKey: If-Match on a deleted object.
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "412", "409"):
                raise WriteConflict(f"{url}: changed since it was read ({code})") from error
            raise
        return response["ETag"]

    def upload(
        self,
        source: Path | BinaryIO,
        url: str,
        *,
        sha256: str | None = None,
        storage_class: str | None = None,
        on_bytes: OnBytes | None = None,
    ) -> None:
        """Publish a local file, or a seekable stream the caller closes, at a URL atomically.

        On S3 it goes through the shared transfer manager (multipart above its threshold), with
        ``sha256`` recorded as ``x-amz-meta-sha256`` and ``storage_class`` set when given; a local
        folder has no storage classes. ``on_bytes`` is told every chunk of bytes sent.
        """
        if urlparse(url).scheme == "file":
            with self._temp_beside(local_path(url)) as temp:
                if isinstance(source, Path) and on_bytes is None:
                    shutil.copyfile(source, temp)
                elif isinstance(source, Path):
                    with open(source, "rb") as stream:
                        _copy(stream, temp, on_bytes)
                else:
                    _copy(source, temp, on_bytes)
            return
        bucket, key = split_s3(url)
        extra: dict[str, Any] = self._encryption()
        if sha256:
            extra["Metadata"] = {"sha256": sha256}
        if storage_class:
            extra["StorageClass"] = storage_class
        body = str(source) if isinstance(source, Path) else source
        self.transfers.upload(body, bucket, key, extra_args=extra, subscribers=_subscribers(on_bytes)).result()

    def write_with(self, url: str, write: Callable[[Path], None]) -> None:
        """Publish what ``write`` puts in a local file at ``url``, atomically, without holding it in memory."""
        if urlparse(url).scheme == "file":
            with self._temp_beside(local_path(url)) as temp:
                write(temp)
            return
        with tempfile.TemporaryDirectory(prefix="job-helpers-") as scratch:
            path = Path(scratch, url.rsplit("/", 1)[-1] or "object")
            write(path)
            self.upload(path, url)

    def move(self, source: str, target: str) -> None:
        """Move an object within one scheme: a rename locally, a server-side copy and delete on S3."""
        if urlparse(source).scheme == "file":
            destination = local_path(target)
            _make_folders(destination.parent, self.folder_mode)
            os.replace(local_path(source), destination)
            return
        source_bucket, source_key = split_s3(source)
        bucket, key = split_s3(target)
        self.s3.copy({"Bucket": source_bucket, "Key": source_key}, bucket, key, ExtraArgs=self._encryption() or None)
        self.s3.delete_object(Bucket=source_bucket, Key=source_key)

    def delete(self, url: str) -> None:
        if urlparse(url).scheme == "file":
            local_path(url).unlink(missing_ok=True)
            return
        bucket, key = split_s3(url)
        self.s3.delete_object(Bucket=bucket, Key=key)

    def delete_many(self, urls: Iterable[str]) -> None:
        """Delete objects (missing ones are fine): one unlink each locally, 1,000 keys per call on S3."""
        by_bucket: dict[str, list[str]] = {}
        for url in urls:
            if urlparse(url).scheme == "file":
                local_path(url).unlink(missing_ok=True)
                continue
            bucket, key = split_s3(url)
            by_bucket.setdefault(bucket, []).append(key)
        for bucket, keys in by_bucket.items():
            for start in range(0, len(keys), DELETE_BATCH):
                batch = [{"Key": key} for key in keys[start : start + DELETE_BATCH]]
                answer = self.s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
                errors = answer.get("Errors", [])
                if errors:
                    named = ", ".join(f"s3://{bucket}/{e['Key']} ({e.get('Code')}: {e.get('Message')})" for e in errors[:5])
                    raise StorageError(f"{len(errors)} object(s) could not be deleted, e.g. {named}; check delete access")

    def delete_prefix(self, prefix_url: str) -> int:
        """Delete everything under a prefix (see ``list``), and locally the folders it leaves empty; returns the count."""
        found = [stored.url for stored in self.list(prefix_url)]
        self.delete_many(found)
        if urlparse(prefix_url).scheme == "file":
            _remove_empty_folders(local_path(prefix_url), partial=not prefix_url.endswith("/"))
        return len(found)


# What a ranged S3 reader fetches at once: large enough that zip member reads take few GETs.
RANGE_BUFFER = 8 << 20


class RangedReader(io.RawIOBase):
    """A read-only, seekable stream of ``size`` bytes that fetches only the ranges read (``fetch(start, end)``, end excluded)."""

    def __init__(self, size: int, fetch: Callable[[int, int], bytes]) -> None:
        self._size = size
        self._fetch = fetch
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        if self._position >= self._size or len(buffer) == 0:
            return 0
        data = self._fetch(self._position, min(self._size, self._position + len(buffer)))
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


def _s3_ranges(s3: Any, url: str) -> RangedReader:
    bucket, key = split_s3(url)

    def fetch(start: int, end: int) -> bytes:
        return s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end - 1}")["Body"].read()

    return RangedReader(s3.head_object(Bucket=bucket, Key=key)["ContentLength"], fetch)


class _local_temp_beside:
    """A temporary file (created empty with ``file_mode``) in the target's folder, renamed onto the
    target when the block succeeds."""

    def __init__(self, target: Path, file_mode: int, folder_mode: int) -> None:
        self.target, self.file_mode, self.folder_mode = target, file_mode, folder_mode

    def __enter__(self) -> Path:
        _make_folders(self.target.parent, self.folder_mode)
        self.temp = self.target.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex}-{self.target.name}")
        os.close(os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, self.file_mode))
        return self.temp

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            os.replace(self.temp, self.target)
        else:
            self.temp.unlink(missing_ok=True)


class _folder_lock:
    """An exclusive ``flock`` on a folder: the kernel drops it when its holder exits, even when killed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __enter__(self) -> None:
        self.fd = os.open(self.folder, os.O_RDONLY)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *_: Any) -> None:
        os.close(self.fd)


def _make_folders(folder: Path, mode: int) -> None:
    """Create ``folder`` and its missing parents, each with ``mode``."""
    if folder.is_dir():
        return
    _make_folders(folder.parent, mode)
    folder.mkdir(mode=mode, exist_ok=True)


def _copy(source: BinaryIO, target: Path, on_bytes: OnBytes | None) -> None:
    with open(target, "wb") as handle:
        while chunk := source.read(COPY_CHUNK):
            handle.write(chunk)
            if on_bytes:
                on_bytes(len(chunk))


def _subscribers(on_bytes: OnBytes | None) -> list[Any]:
    """A transfer subscriber reporting every chunk sent to ``on_bytes``."""
    if on_bytes is None:
        return []
    from s3transfer.subscribers import BaseSubscriber

    report = on_bytes

    class Progress(BaseSubscriber):
        def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
            report(bytes_transferred)

    return [Progress()]


def _content_version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _local_objects(prefix_url: str) -> Iterator[StoredObject]:
    root = local_path(prefix_url)
    if root.is_dir():
        roots = [(root, prefix_url)]
    elif prefix_url.endswith("/") or not root.parent.is_dir():
        return
    else:
        base = prefix_url[: len(prefix_url) - len(root.name)]
        roots = [(entry, base + entry.name) for entry in root.parent.iterdir() if entry.name.startswith(root.name)]
    for top, top_url in roots:
        if top.is_file():
            if not top.name.startswith(TEMP_PREFIX) and (stat := _stat_if_there(top)) is not None:
                yield StoredObject(top_url, stat.st_size, stat.st_mtime)
            continue
        for dirpath, _, filenames in os.walk(top):
            for name in filenames:
                path = Path(dirpath, name)
                if name.startswith(TEMP_PREFIX) or (stat := _stat_if_there(path)) is None:
                    continue
                yield StoredObject(join(top_url, path.relative_to(top).as_posix()), stat.st_size, stat.st_mtime)


def _stat_if_there(path: Path) -> os.stat_result | None:
    """A file's stat, or None when another process deleted it after the folder was read (S3 lists never fail so)."""
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def _remove_empty_folders(path: Path, partial: bool) -> None:
    """Remove the empty folders at and below ``path`` (or below every folder whose name starts with it)."""
    tops = (
        [entry for entry in path.parent.iterdir() if entry.name.startswith(path.name)]
        if partial and path.parent.is_dir()
        else [path]
    )
    for top in tops:
        if not top.is_dir():
            continue
        for dirpath, _, _ in sorted(os.walk(top), key=lambda walked: -len(walked[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def _is_missing_key(error: Exception) -> bool:
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code") in ("NoSuchKey", "404")
