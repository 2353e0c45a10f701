"""Avro container files merged by copying their compressed blocks, never decoding a record.

A container file is a header (magic, a metadata map holding ``avro.schema`` and ``avro.codec``,
a 16-byte sync marker) followed by blocks: record count and byte size as zigzag varints, the
(compressed) data, then the sync marker again. Files that share schema and codec can therefore
be merged by writing one header and re-framing every block with the new file's sync marker;
that is a byte copy, far cheaper than decoding and re-encoding each record. fastavro reads the
headers; the block framing is done here because fastavro has no block copy that keeps the
compressed bytes as they are.

A snappy block ends with the big-endian CRC-32 of its uncompressed data. Readers such as
fastavro do not check it, so a flipped byte would be copied and only break a query later;
every snappy block is therefore decompressed (with cramjam, the library fastavro itself uses
for snappy) and its checksum compared while it is copied. Other codecs carry no checksum.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import cramjam
import fastavro

MAGIC = b"Obj\x01"
SYNC_SIZE = 16
MAX_VARINT_SIZE = 10
COPY_CHUNK = 1 << 20
CRC_SIZE = 4


class CorruptAvroFile(Exception):
    """An input is not a valid, complete Avro container file; the message names it and says where."""


class IncompatibleAvroFile(Exception):
    """An input's schema or codec differs from the first input's, so its blocks cannot be copied."""


def encode_long(value: int) -> bytes:
    """Avro's long encoding: zigzag (sign into the low bit), then 7 bits a byte, low bits first."""
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while zigzag > 0x7F:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def decode_long(data: bytes, offset: int = 0) -> tuple[int, int]:
    """Decode the Avro long starting at ``data[offset]``; return it and the offset just after it.

    ``EOFError`` if the bytes end inside the varint, ``ValueError`` if it runs past 10 bytes.
    """
    zigzag = shift = 0
    for index in range(offset, min(len(data), offset + MAX_VARINT_SIZE)):
        byte = data[index]
        zigzag |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (zigzag >> 1) ^ -(zigzag & 1), index + 1
        shift += 7
    if len(data) - offset < MAX_VARINT_SIZE:
        raise EOFError("the bytes end inside a varint")
    raise ValueError(f"varint longer than {MAX_VARINT_SIZE} bytes")


@dataclass(frozen=True)
class AvroHeader:
    schema: Any
    schema_json: bytes
    codec: str
    sync: bytes


def read_header(stream: BinaryIO, label: str) -> AvroHeader:
    """Read a container header with fastavro, leaving the stream at the first block."""
    try:
        reader = fastavro.reader(stream)
        meta = reader._header["meta"]
        sync = reader._header["sync"]
        schema_json = meta["avro.schema"]
        schema = reader.writer_schema
    except Exception as error:
        raise CorruptAvroFile(f"{label}: not a readable Avro container header ({error})") from error
    codec = meta.get("avro.codec", b"null").decode("utf-8")
    return AvroHeader(schema=schema, schema_json=schema_json, codec=codec, sync=sync)


def write_header(out: BinaryIO, schema_json: bytes, codec: str, sync: bytes) -> None:
    """Write a container header: magic, the metadata map (schema and codec), the sync marker."""
    entries = {"avro.schema": schema_json, "avro.codec": codec.encode("utf-8")}
    out.write(MAGIC)
    out.write(encode_long(len(entries)))
    for key, value in entries.items():
        encoded_key = key.encode("utf-8")
        out.write(encode_long(len(encoded_key)) + encoded_key)
        out.write(encode_long(len(value)) + value)
    out.write(encode_long(0))
    out.write(sync)


BlockCheck = Callable[[bytes], str | None]
"""Given a block's data, the reason it is corrupt, or None if it is sound."""


def snappy_block_problem(data: bytes) -> str | None:
    """Why a snappy block is corrupt (its data does not decompress, or fails its CRC-32), or None."""
    if len(data) < CRC_SIZE:
        return f"is shorter than its {CRC_SIZE}-byte CRC-32"
    view = memoryview(data)
    try:
        plain = cramjam.snappy.decompress_raw(view[:-CRC_SIZE])
    except cramjam.DecompressionError as error:
        return f"is not valid snappy data ({error})"
    expected = int.from_bytes(view[-CRC_SIZE:], "big")
    actual = zlib.crc32(plain)
    if actual != expected:
        return f"fails its CRC-32 check (stored {expected:08x}, computed {actual:08x} over the uncompressed data)"
    return None


def block_check(codec: str) -> BlockCheck | None:
    """The check for a codec's blocks; None for codecs that store no checksum."""
    return snappy_block_problem if codec == "snappy" else None


@dataclass
class MergeStats:
    files: int = 0
    blocks: int = 0
    records: int = 0


class BlockMerger:
    """Writes one container file from the blocks of others, appended one input file at a time.

    The first input sets schema and codec and the header is written then; every later input must
    match them. Appending file by file lets a caller delete each input once it is copied, so a
    day never needs twice its size on disk.
    """

    def __init__(self, out: BinaryIO, sync: bytes | None = None) -> None:
        self.out = out
        self.sync = sync if sync is not None else os.urandom(SYNC_SIZE)
        if len(self.sync) != SYNC_SIZE:
            raise ValueError(f"sync marker must be {SYNC_SIZE} bytes, got {len(self.sync)}")
        self.first: AvroHeader | None = None
        self.first_label = ""
        self.stats = MergeStats()

    def append(self, path: Path, label: str) -> int:
        """Copy every block of one input file; return its record count. ``label`` names it in errors."""
        with open(path, "rb") as stream:
            header = read_header(stream, label)
            self._check_compatible(header, label)
            records, blocks = walk_blocks(stream, header.sync, label, self.out, self.sync, check=block_check(header.codec))
        self.stats.files += 1
        self.stats.blocks += blocks
        self.stats.records += records
        return records

    def _check_compatible(self, header: AvroHeader, label: str) -> None:
        if self.first is None:
            self.first, self.first_label = header, label
            write_header(self.out, header.schema_json, header.codec, self.sync)
            return
        if header.codec != self.first.codec:
            raise IncompatibleAvroFile(
                f"{label}: codec {header.codec!r} differs from {self.first.codec!r} of {self.first_label}; "
                "rewrite it with the same codec or merge it separately"
            )
        if header.schema_json != self.first.schema_json and header.schema != self.first.schema:
            raise IncompatibleAvroFile(
                f"{label}: schema differs from that of {self.first_label}; merge files of one schema together"
            )

    def finish(self) -> MergeStats:
        if self.first is None:
            raise ValueError("no input files were appended, so there is no schema to write")
        return self.stats


def merge_avro_files(sources: Iterable[tuple[str, Path]], output: Path, sync: bytes | None = None) -> MergeStats:
    """Merge ``(label, path)`` inputs, in the given order, into one container file at ``output``.

    Each input is taken from ``sources`` only once the one before it is copied, so the caller
    may delete an input as soon as the next is asked for.
    """
    with open(output, "wb", buffering=COPY_CHUNK) as out:
        merger = BlockMerger(out, sync)
        for label, path in sources:
            merger.append(path, label)
        return merger.finish()


def count_records(path: Path, label: str) -> int:
    """Count a file's records from its block headers, checking its framing without decompressing."""
    with open(path, "rb") as stream:
        header = read_header(stream, label)
        records, _ = walk_blocks(stream, header.sync, label)
        return records


def walk_blocks(
    stream: BinaryIO,
    sync: bytes,
    label: str,
    out: BinaryIO | None = None,
    out_sync: bytes = b"",
    check: BlockCheck | None = None,
) -> tuple[int, int]:
    """Walk the blocks after a header, checking each one's framing; return records and blocks.

    With ``out`` every block is written there, re-framed with ``out_sync``; without, block data
    is skipped unread unless ``check`` needs it. A sync marker that differs from the header's, a
    file that ends inside a block, or a block ``check`` finds corrupt raises ``CorruptAvroFile``
    naming ``label``. A checked block is held in memory whole, as its writer held it.
    """
    file_size = os.fstat(stream.fileno()).st_size
    records = blocks = 0
    block_start = stream.tell()
    while True:
        # A block header is two varints; read enough for both, then step back to the data.
        head = stream.read(2 * MAX_VARINT_SIZE)
        if not head:
            return records, blocks
        try:
            count, after_count = decode_long(head)
            size, data_offset = decode_long(head, after_count)
        except (EOFError, ValueError) as error:
            raise CorruptAvroFile(f"{label}: truncated or corrupt block header at byte {block_start} ({error})") from error
        if count < 0 or size < 0:
            raise CorruptAvroFile(f"{label}: corrupt block header at byte {block_start} (count {count}, size {size})")
        stream.seek(data_offset - len(head), os.SEEK_CUR)
        data_start = block_start + data_offset
        if data_start + size + SYNC_SIZE > file_size:
            raise CorruptAvroFile(
                f"{label}: truncated; the block at byte {block_start} needs {size} data bytes and a sync marker "
                f"but the file ends at byte {file_size}"
            )
        # Checked and small blocks are read whole and go out in one write once their sync marker is
        # checked; large unchecked ones stream.
        frame, data = head[:data_offset], b""
        if check is not None or (out is not None and size <= COPY_CHUNK):
            data = stream.read(size)
            problem = check(data) if check is not None else None
            if problem is not None:
                raise CorruptAvroFile(f"{label}: the block at byte {block_start} {problem}")
        elif out is None:
            stream.seek(size, os.SEEK_CUR)
        else:
            out.write(frame)
            frame = b""
            _copy_exact(stream, out, size)
        if stream.read(SYNC_SIZE) != sync:
            raise CorruptAvroFile(f"{label}: the sync marker after the block at byte {block_start} does not match the header's")
        if out is not None:
            out.write(b"".join((frame, data, out_sync)))
        records += count
        blocks += 1
        block_start = data_start + size + SYNC_SIZE


def _copy_exact(source: BinaryIO, target: BinaryIO, size: int) -> None:
    remaining = size
    while remaining:
        chunk = source.read(min(remaining, COPY_CHUNK))
        if not chunk:
            raise EOFError("stream ended early")
        target.write(chunk)
        remaining -= len(chunk)
