"""Avro container files merged by copying their compressed blocks, every block checked first.

A container file is a header (magic, a metadata map holding ``avro.schema`` and ``avro.codec``,
a 16-byte sync marker) followed by blocks: record count and byte size as zigzag varints, the
(compressed) data, then the sync marker again. Files that share schema and codec can therefore
be merged by writing one header and re-framing every block with the new file's sync marker;
that is a byte copy, far cheaper than decoding and re-encoding each record. fastavro reads the
headers; the block framing is done here because fastavro has no block copy that keeps the
compressed bytes as they are.

Readers trust what a block declares, so nothing is copied on trust: every block is decompressed
(a snappy block's CRC-32 of its uncompressed data checked; cramjam is the library fastavro itself
uses for snappy) and its records walked against the schema (``avro_records``), so a count that
is larger or smaller than what the data holds fails the merge naming the file. Blocks of no
records are left out. The codecs accepted are those whose blocks can be checked so: null,
deflate and snappy. The merged file is then read back (``read_back``) and every block compared
with what was written before it may be committed.
"""

from __future__ import annotations

import functools
import json
import os
import zlib
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import cramjam
import fastavro

from job_helpers.sitewise.avro_records import PROBLEMS, SOUND, RecordProgram, UncheckableSchema, compile_schema, scan

MAGIC = b"Obj\x01"
SYNC_SIZE = 16
MAX_VARINT_SIZE = 10
COPY_CHUNK = 1 << 20
CRC_SIZE = 4
CODECS = ("null", "deflate", "snappy")
# The most a block may hold, compressed or not: far above what Avro writers put in one block
# (tens of kilobytes to a few megabytes), low enough that a hostile block cannot exhaust memory.
MAX_BLOCK_BYTES = 1 << 28
UNLIMITED = (1 << 63) - 1


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


@dataclass(frozen=True)
class Block:
    """One block as stored: where its header starts in the file, the records it declares, its data."""

    offset: int
    records: int
    data: bytes


def read_blocks(stream: BinaryIO, header: AvroHeader, label: str) -> Iterator[Block]:
    """The blocks after a header, each checked for its framing before it is handed on.

    A block header that does not decode, a block larger than ``MAX_BLOCK_BYTES``, a file that
    ends inside a block, or a sync marker that differs from the header's raises
    ``CorruptAvroFile`` naming ``label``. Each block is read whole into memory, as its writer held it.
    """
    position = stream.tell()
    file_size = stream.seek(0, os.SEEK_END)
    stream.seek(position)
    while True:
        head = stream.read(2 * MAX_VARINT_SIZE)
        if not head:
            return
        try:
            count, after_count = decode_long(head)
            size, data_offset = decode_long(head, after_count)
        except (EOFError, ValueError) as error:
            raise CorruptAvroFile(f"{label}: truncated or corrupt block header at byte {position} ({error})") from error
        if count < 0 or size < 0:
            raise CorruptAvroFile(f"{label}: corrupt block header at byte {position} (count {count}, size {size})")
        if size > MAX_BLOCK_BYTES:
            raise CorruptAvroFile(
                f"{label}: the block at byte {position} declares {size} bytes, more than the {MAX_BLOCK_BYTES} a block may hold here"
            )
        data_start = position + data_offset
        if data_start + size + SYNC_SIZE > file_size:
            raise CorruptAvroFile(
                f"{label}: truncated; the block at byte {position} needs {size} data bytes and a sync marker "
                f"but the file ends at byte {file_size}"
            )
        stream.seek(data_start)
        data = stream.read(size)
        if stream.read(SYNC_SIZE) != header.sync:
            raise CorruptAvroFile(f"{label}: the sync marker after the block at byte {position} does not match the header's")
        yield Block(position, count, data)
        position = data_start + size + SYNC_SIZE


def record_program(header: AvroHeader, label: str) -> RecordProgram:
    """How the file's records are walked to check block counts; ``IncompatibleAvroFile`` if they cannot be."""
    if header.codec not in CODECS:
        raise IncompatibleAvroFile(
            f"{label}: codec {header.codec!r} is not one whose blocks this job can check ({', '.join(CODECS)}); "
            "rewrite the file with one of those"
        )
    try:
        return _program(header.schema_json)
    except (UncheckableSchema, ValueError) as error:
        raise IncompatibleAvroFile(f"{label}: the record counts of this schema cannot be checked: {error}") from error


@functools.lru_cache(maxsize=16)
def _program(schema_json: bytes) -> RecordProgram:
    return compile_schema(fastavro.parse_schema(json.loads(schema_json)))


def checked_records(block: Block, codec: str, program: RecordProgram, label: str) -> int:
    """The block's record count, once its data is found to hold exactly that many records.

    The data is decompressed (a snappy block's CRC-32 checked) and its records walked: a count
    that is larger or smaller than the records the data holds, data left after the last record,
    or a record that does not decode raises ``CorruptAvroFile`` naming ``label`` and the block.
    A block of no records and no data is legal and holds 0.
    """
    where = f"{label}: the block at byte {block.offset}"
    if not block.data:
        if block.records:
            raise CorruptAvroFile(f"{where} declares {block.records} records but holds no data")
        return 0
    plain, problem = uncompressed(codec, block.data)
    if problem is not None:
        raise CorruptAvroFile(f"{where} {problem}")
    walked = scan(program, plain, block.records)
    if walked.records == block.records and walked.end == len(plain) and walked.problem == SOUND:
        return block.records
    if walked.problem != SOUND:
        raise CorruptAvroFile(
            f"{where} declares {block.records} records, but record {walked.records + 1} does not decode "
            f"({PROBLEMS[walked.problem]}, at byte {walked.at} of its {len(plain)} uncompressed bytes)"
        )
    if walked.records < block.records:
        raise CorruptAvroFile(f"{where} declares {block.records} records, but its data holds {walked.records}")
    everything = scan(program, plain, UNLIMITED)
    if everything.problem == SOUND:
        raise CorruptAvroFile(f"{where} declares {block.records} records, but its data holds {everything.records}")
    raise CorruptAvroFile(
        f"{where} declares {block.records} records, but {len(plain) - walked.end} bytes that are not whole "
        "records follow them in its data"
    )


def uncompressed(codec: str, data: bytes) -> tuple[Any, str | None]:
    """A block's data decompressed, and why it is corrupt (None if it is not)."""
    if codec == "deflate":
        inflater = zlib.decompressobj(-15)
        try:
            plain = inflater.decompress(data, MAX_BLOCK_BYTES)
        except zlib.error as error:
            return b"", f"is not valid deflate data ({error})"
        if inflater.unconsumed_tail:
            return b"", f"decompresses to more than the {MAX_BLOCK_BYTES} bytes a block may hold here"
        if not inflater.eof or inflater.unused_data:
            return b"", "is not one complete deflate stream"
        return plain, None
    if codec == "snappy":
        return _snappy_uncompressed(data)
    return data, None


def _snappy_uncompressed(data: bytes) -> tuple[Any, str | None]:
    """A snappy block's data and its checksum: the big-endian CRC-32 of the uncompressed data."""
    if len(data) < CRC_SIZE:
        return b"", f"is shorter than its {CRC_SIZE}-byte CRC-32"
    view = memoryview(data)
    try:
        if cramjam.snappy.decompress_raw_len(view[:-CRC_SIZE]) > MAX_BLOCK_BYTES:
            return b"", f"decompresses to more than the {MAX_BLOCK_BYTES} bytes a block may hold here"
        plain = cramjam.snappy.decompress_raw(view[:-CRC_SIZE])
    except cramjam.DecompressionError as error:
        return b"", f"is not valid snappy data ({error})"
    expected = int.from_bytes(view[-CRC_SIZE:], "big")
    actual = zlib.crc32(plain)
    if actual != expected:
        return b"", f"fails its CRC-32 check (stored {expected:08x}, computed {actual:08x} over the uncompressed data)"
    return plain, None


class WrittenBlocks:
    """What was written of each block of a merged file (records, data bytes, CRC-32 of the data as
    stored), so that reading the file back can compare every block with what was written."""

    def __init__(self) -> None:
        self._values = array("q")

    def add(self, records: int, data: bytes) -> None:
        self._values.extend((records, len(data), zlib.crc32(data)))

    def __len__(self) -> int:
        return len(self._values) // 3

    def __getitem__(self, number: int) -> tuple[int, int, int]:
        records, size, crc = self._values[3 * number : 3 * number + 3]
        return records, size, crc


@dataclass
class MergeStats:
    """What a merge wrote: counts, the output's header, and every block it wrote, in order."""

    files: int = 0
    blocks: int = 0
    records: int = 0
    header: AvroHeader | None = None
    written: WrittenBlocks = field(default_factory=WrittenBlocks)


class BlockMerger:
    """Writes one container file from the blocks of others, appended one input file at a time.

    The first input sets schema and codec and the header is written then; every later input must
    match them. Every block's count is checked against its data before it is copied, and blocks
    of no records are left out. Appending file by file lets a caller delete each input once it is
    copied, so a day never needs twice its size on disk.
    """

    def __init__(self, out: BinaryIO, sync: bytes | None = None) -> None:
        self.out = out
        self.sync = sync if sync is not None else os.urandom(SYNC_SIZE)
        if len(self.sync) != SYNC_SIZE:
            raise ValueError(f"sync marker must be {SYNC_SIZE} bytes, got {len(self.sync)}")
        self.first_label = ""
        self.stats = MergeStats()

    def append(self, path: Path, label: str) -> int:
        """Copy every block of one input file; return its record count. ``label`` names it in errors."""
        records = 0
        with open(path, "rb") as stream:
            header = read_header(stream, label)
            program = record_program(header, label)
            self._check_compatible(header, label)
            for block in read_blocks(stream, header, label):
                count = checked_records(block, header.codec, program, label)
                if count:
                    self._write(count, block.data)
                    records += count
        self.stats.files += 1
        self.stats.records += records
        return records

    def _write(self, records: int, data: bytes) -> None:
        self.out.write(encode_long(records) + encode_long(len(data)))
        self.out.write(data)
        self.out.write(self.sync)
        self.stats.written.add(records, data)
        self.stats.blocks += 1

    def _check_compatible(self, header: AvroHeader, label: str) -> None:
        first = self.stats.header
        if first is None:
            self.first_label = label
            self.stats.header = AvroHeader(header.schema, header.schema_json, header.codec, self.sync)
            write_header(self.out, header.schema_json, header.codec, self.sync)
            return
        if header.codec != first.codec:
            raise IncompatibleAvroFile(
                f"{label}: codec {header.codec!r} differs from {first.codec!r} of {self.first_label}; "
                "rewrite it with the same codec or merge it separately"
            )
        if header.schema_json != first.schema_json and header.schema != first.schema:
            raise IncompatibleAvroFile(
                f"{label}: schema differs from that of {self.first_label}; merge files of one schema together"
            )

    def finish(self) -> MergeStats:
        if self.stats.header is None:
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


def read_back(stream: BinaryIO, label: str, stats: MergeStats) -> int:
    """Read a merged file back and compare it with what the merge wrote; return the records it holds.

    Its header must be the one written, and each block, in order, must declare the records
    written, be as long, and have the same CRC-32: then every block holds exactly the data whose
    count was checked, and a reader gets every record. ``CorruptAvroFile`` names ``label`` and
    the first difference.
    """
    written = stats.header
    header = read_header(stream, label)
    if written is None or (header.schema_json, header.codec, header.sync) != (written.schema_json, written.codec, written.sync):
        raise CorruptAvroFile(f"{label}: read back, its header (schema, codec or sync marker) is not the one written")
    records = number = 0
    for number, block in enumerate(read_blocks(stream, header, label), start=1):
        if number > len(stats.written):
            raise CorruptAvroFile(f"{label}: read back, it holds more than the {len(stats.written)} blocks written")
        found = (block.records, len(block.data), zlib.crc32(block.data))
        if found != stats.written[number - 1]:
            expected = stats.written[number - 1]
            raise CorruptAvroFile(
                f"{label}: read back, block {number} (at byte {block.offset}) differs from the block written: "
                f"{found[0]} records, {found[1]} bytes, CRC-32 {found[2]:08x} instead of "
                f"{expected[0]}, {expected[1]}, {expected[2]:08x}"
            )
        records += block.records
    if number < len(stats.written):
        raise CorruptAvroFile(f"{label}: read back, it ends after {number} of the {len(stats.written)} blocks written")
    return records


def checked_file_records(stream: BinaryIO, label: str) -> int:
    """A container file's records, once every block's count is checked against its data."""
    header = read_header(stream, label)
    program = record_program(header, label)
    return sum(checked_records(block, header.codec, program, label) for block in read_blocks(stream, header, label))


def count_records(path: Path, label: str) -> int:
    """A local file's records (see ``checked_file_records``)."""
    with open(path, "rb") as stream:
        return checked_file_records(stream, label)
