"""Streaming archive members out of zips inside Spark executors, without unpacking them anywhere.

The driver only lists the landing location. Executors then (1) read each archive's central
directory and (2) stream each selected member through ``zipfile``, one task per group of members,
handing Spark blocks of whole CSV lines that the JVM splits and casts. Python never builds a row
object per reading, so the expensive part (parsing tens of millions of lines) runs in Spark's own
code, and no machine ever holds more than one block of one member in memory. On S3 an archive is
read through ranged GETs (``RangeFile``), so only the bytes of the members a task needs move.

Failures never stop the stage: a corrupt archive, a bad CRC or a header that does not match its
stream becomes an ``error`` row naming the archive and member, and the driver drops that archive.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import zipfile
from typing import Any, BinaryIO, Iterable, Iterator

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import LongType, StringType, StructField, StructType

from job_helpers.embrace.archives import HEADERS, METADATA, Archive, Member, Selection, parse_member
from job_helpers.storage import Storage, local_path, split_s3

log = logging.getLogger(__name__)

BLOCK_BYTES = 4 << 20
RANGE_BUFFER = 8 << 20
PARTITION_BYTES = 64 << 20
BLOCK_SCHEMA = StructType(
    [
        StructField("kind", StringType(), False),
        StructField("export", StringType(), False),
        StructField("ppt_id", StringType(), True),
        StructField("dev_id", StringType(), True),
        StructField("stream", StringType(), True),
        StructField("member", StringType(), True),
        StructField("first_line", LongType(), True),
        StructField("text", StringType(), True),
    ]
)
BLOCK, DEVICE, ERROR = "block", "device", "error"


class RangeFile(io.RawIOBase):
    """A read-only, seekable view of one S3 object that fetches only the byte ranges asked for."""

    def __init__(self, s3: Any, url: str) -> None:
        self._s3 = s3
        self._bucket, self._key = split_s3(url)
        self._size = s3.head_object(Bucket=self._bucket, Key=self._key)["ContentLength"]
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
        end = min(self._size, self._position + len(buffer)) - 1
        body = self._s3.get_object(Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-{end}")["Body"]
        data = body.read()
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


def open_archive(storage: Storage, url: str) -> BinaryIO:
    """A seekable binary file for ``zipfile``: the file itself locally, ranged GETs on S3."""
    if url.startswith("file:"):
        return open(local_path(url), "rb")
    return io.BufferedReader(RangeFile(storage.s3, url), buffer_size=RANGE_BUFFER)


def list_members(archive: Archive, selection: Selection, storage: Storage | None = None) -> Iterator[tuple]:
    """``(archive, member name, uncompressed size)`` for each selected member, or one error row."""
    storage = storage or Storage()
    try:
        with open_archive(storage, archive.url) as handle, zipfile.ZipFile(handle) as archive_zip:
            infos = archive_zip.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        yield (archive, None, 0, f"{archive.url}: not a readable zip archive ({error}); replace the file and rerun")
        return
    for info in infos:
        member = parse_member(info.filename)
        if member is not None and selection.wants(member):
            yield (archive, info.filename, info.file_size, None)


def stream_members(tasks: Iterable[tuple[Archive, str]], storage: Storage | None = None) -> Iterator[tuple]:
    """Rows of ``BLOCK_SCHEMA`` for a partition of ``(archive, member name)`` pairs."""
    storage = storage or Storage()
    by_archive: dict[str, list[tuple[Archive, str]]] = {}
    for archive, name in tasks:
        by_archive.setdefault(archive.url, []).append((archive, name))
    for pairs in by_archive.values():
        archive = pairs[0][0]
        try:
            with open_archive(storage, archive.url) as handle, zipfile.ZipFile(handle) as archive_zip:
                for _, name in pairs:
                    member = parse_member(name)
                    if member is not None:
                        yield from _member_rows(archive, archive_zip, member)
        except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError, HeaderMismatch) as error:
            yield (ERROR, archive.export, None, None, None, None, None, f"{archive.url}: {error}")


class HeaderMismatch(ValueError):
    """A member's header is not its stream's header."""


def _member_rows(archive: Archive, archive_zip: zipfile.ZipFile, member: Member) -> Iterator[tuple]:
    where = member.name
    with archive_zip.open(member.name) as raw:
        header = raw.readline().decode("utf-8-sig").strip()
        if member.kind == METADATA:
            yield _device_row(archive, member, header, raw.read().decode("utf-8-sig"))
            return
        expected = ",".join(HEADERS[member.kind])
        if header != expected:
            raise HeaderMismatch(
                f"{where}: header {header!r} is not the {member.kind} header {expected!r}; "
                "fix or remove the file and rerun"
            )
        line = 2
        pending = b""
        while True:
            data = raw.read(BLOCK_BYTES)
            if not data:
                break
            data = pending + data
            cut = data.rfind(b"\n") + 1
            pending, data = data[cut:], data[:cut]
            if data:
                yield (BLOCK, archive.export, member.ppt_id, member.dev_id, member.kind, where, line, data.decode("utf-8", errors="replace"))
                line += data.count(b"\n")
        if pending:
            yield (BLOCK, archive.export, member.ppt_id, member.dev_id, member.kind, where, line, pending.decode("utf-8", errors="replace"))


def _device_row(archive: Archive, member: Member, header: str, body: str) -> tuple:
    columns = next(csv.reader([header]))
    records = [dict(zip(columns, values)) for values in csv.reader(io.StringIO(body)) if values]
    return (DEVICE, archive.export, member.ppt_id, member.dev_id, METADATA, member.name, 2, json.dumps(records))


def read_blocks(spark: SparkSession, archives: list[Archive], selection: Selection) -> DataFrame:
    """Every selected member of ``archives`` as blocks of lines (plus device and error rows).

    Members are listed in one small stage, then spread over tasks, largest first, so a month of
    32 Hz accelerometer data is not stuck behind the archive it came in.
    """
    context = spark.sparkContext
    if not archives:
        return spark.createDataFrame([], BLOCK_SCHEMA)
    listed = (
        context.parallelize(archives, len(archives))
        .flatMap(lambda archive: list_members(archive, selection))
        .collect()
    )
    errors = [(ERROR, archive.export, None, None, None, None, None, message) for archive, _, _, message in listed if message]
    members = sorted(((a, name, size) for a, name, size, message in listed if not message), key=lambda m: -m[2])
    log.info("%d member(s) selected in %d archive(s)", len(members), len(archives))
    frames = [spark.createDataFrame(errors, BLOCK_SCHEMA)] if errors else []
    if members:
        total = sum(m[2] for m in members)
        slices = min(len(members), max(context.defaultParallelism, total // (256 << 20)))
        # parallelize slices a list into contiguous runs: deal the members out round-robin so each
        # task gets a share of the big ones.
        pairs = [(members[i][0], members[i][1]) for start in range(slices) for i in range(start, len(members), slices)]
        rows = context.parallelize(pairs, slices).mapPartitions(stream_members)
        frames.append(spark.createDataFrame(rows, BLOCK_SCHEMA))
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    # Deal the blocks out again: one member's blocks would otherwise stay in one partition, and a
    # month of 32 Hz readings is far more than one task should parse or cache.
    partitions = max(context.defaultParallelism, sum(m[2] for m in members) // PARTITION_BYTES)
    return result.repartition(partitions)
