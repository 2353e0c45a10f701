"""Avro container files merged by copying their compressed blocks, every block checked first.

A container file is a header (magic, a metadata map holding ``avro.schema`` and ``avro.codec``,
a 16-byte sync marker) followed by blocks: record count and byte size as zigzag varints, the
(compressed) data, then the sync marker again. Files that share schema and codec can therefore
be merged by writing one header and re-framing every block with the new file's sync marker;
that is a byte copy, far cheaper than decoding and re-encoding each record. Headers and block
framing are read here, because fastavro has no block copy that keeps the compressed bytes as they
are (fastavro parses the schema); block headers are walked a chunk at a time by a compiled loop
(``jit``), as Python would spend more on each block than on copying it.

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
from typing import Any, BinaryIO, NamedTuple

import cramjam
import fastavro
import numpy as np

from job_helpers.sitewise import jit
from job_helpers.sitewise.avro_records import PROBLEMS, SOUND, RecordProgram, UncheckableSchema, compile_schema, scan

MAGIC = b"Obj\x01"
SYNC_SIZE = 16
MAX_VARINT_SIZE = 10
READ_CHUNK = 1 << 22  # read and framed at once: many blocks, few calls
TABLE_ROWS = 1 << 14  # blocks framed at once at most
MAX_HEADER_VALUE = 1 << 24  # a metadata entry (the schema) larger than 16 MiB is no Avro writer's
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
    first = data[offset] if offset < len(data) else 0x80
    if first < 0x80:  # one byte: the usual case
        return (first >> 1) ^ -(first & 1), offset + 1
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
    """Read a container header, leaving the stream at the first block.

    The metadata map is read here (a file's header is read for every input, and fastavro's reader
    parses the schema each time); the schema is parsed by fastavro, once per distinct schema.
    """
    try:
        if stream.read(len(MAGIC)) != MAGIC:
            raise ValueError("it does not start with the Avro magic bytes")
        meta = {}
        while count := _read_long(stream):
            if count < 0:  # a negative count is followed by the byte size of the entries
                count = -count
                _read_long(stream)
            for _ in range(count):
                key = _read_bytes(stream).decode("utf-8")
                meta[key] = _read_bytes(stream)
        sync = _read_exactly(stream, SYNC_SIZE)
        schema_json = meta["avro.schema"]
        codec = meta.get("avro.codec", b"null").decode("utf-8")
    except (EOFError, ValueError, KeyError) as error:
        raise CorruptAvroFile(f"{label}: not a readable Avro container header ({type(error).__name__}: {error})") from error
    try:
        schema = _parsed_schema(schema_json)
    except Exception as error:  # fastavro raises errors of many kinds for a schema it cannot parse
        raise CorruptAvroFile(f"{label}: not a readable Avro container header, its schema does not parse ({error})") from error
    return AvroHeader(schema=schema, schema_json=schema_json, codec=codec, sync=sync)


@functools.lru_cache(maxsize=16)
def _parsed_schema(schema_json: bytes) -> Any:
    return fastavro.parse_schema(json.loads(schema_json))


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError(f"the file ends {size - len(data)} bytes short")
    return data


def _read_long(stream: BinaryIO) -> int:
    data = b""
    while not data or data[-1] & 0x80:
        if len(data) == MAX_VARINT_SIZE:
            raise ValueError(f"varint longer than {MAX_VARINT_SIZE} bytes")
        data += _read_exactly(stream, 1)
    return decode_long(data)[0]


def _read_bytes(stream: BinaryIO) -> bytes:
    size = _read_long(stream)
    if not 0 <= size <= MAX_HEADER_VALUE:
        raise ValueError(f"a metadata entry of {size} bytes (at most {MAX_HEADER_VALUE})")
    return _read_exactly(stream, size)


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


class Block(NamedTuple):
    """One block as stored: where its header starts in the file, the records it declares, the
    header's bytes (count and size), its data."""

    offset: int
    records: int
    frame: bytes
    data: memoryview


def read_blocks(stream: BinaryIO, header: AvroHeader, label: str) -> Iterator[Block]:
    """The blocks after a header, each checked for its framing (see ``framed_chunks``)."""
    for chunk, start, table in framed_chunks(stream, header, label):
        view = memoryview(chunk)
        for offset, count, data_offset, size in table.tolist():
            yield Block(start + offset, count, chunk[offset:data_offset], view[data_offset : data_offset + size])


def framed_chunks(stream: BinaryIO, header: AvroHeader, label: str) -> Iterator[tuple[bytes, int, np.ndarray]]:
    """The blocks after a header, a chunk of whole blocks at a time: the chunk's bytes, where it
    starts in the file, and per block a row (header offset, count, data offset, size; offsets in
    the chunk). The row table is reused for the next chunk.

    A block header that does not decode, a negative count or size, a block larger than
    ``MAX_BLOCK_BYTES``, a file that ends inside a block, or a sync marker that differs from the
    header's raises ``CorruptAvroFile`` naming ``label``. A chunk holds at least one whole block,
    as its writer held it.
    """
    position = stream.tell()
    file_size = stream.seek(0, os.SEEK_END)
    stream.seek(position)
    sync = np.frombuffer(header.sync, dtype=np.uint8)
    table = np.empty((TABLE_ROWS, 4), dtype=np.int64)
    pending = stream.read(READ_CHUNK)
    while pending:
        blocks, consumed, stop, count, size, need = jit.compiled(_frame)(
            np.frombuffer(pending, dtype=np.uint8), sync, MAX_BLOCK_BYTES, table
        )
        if blocks:
            yield pending, position, table[:blocks]
        position += consumed
        if stop != NEED_MORE and stop != FRAMED:
            problem = _FRAME_PROBLEMS[stop].format(at=position, count=count, size=size, limit=MAX_BLOCK_BYTES)
            raise CorruptAvroFile(f"{label}: {problem}")
        if need and position + need > file_size:
            raise CorruptAvroFile(
                f"{label}: truncated; the block at byte {position} needs {size} data bytes and a sync marker "
                f"but the file ends at byte {file_size}"
            )
        rest = pending[consumed:]
        if stop == FRAMED and rest:  # the table was full
            pending = rest
            continue
        more = stream.read(max(READ_CHUNK, need - len(rest)))
        if not more and rest:
            raise CorruptAvroFile(f"{label}: truncated or corrupt block header at byte {position} (the file ends inside it)")
        pending = rest + more


# Why ``_frame`` stopped: the buffer's whole blocks are framed, it holds the next only in part, or a problem.
FRAMED, NEED_MORE, BAD_HEADER, NEGATIVE, TOO_LARGE, BAD_SYNC = range(6)
_FRAME_PROBLEMS = {
    BAD_HEADER: "truncated or corrupt block header at byte {at} (varint longer than 10 bytes)",
    NEGATIVE: "corrupt block header at byte {at} (count {count}, size {size})",
    TOO_LARGE: "the block at byte {at} declares {size} bytes, more than the {limit} a block may hold here",
    BAD_SYNC: "the sync marker after the block at byte {at} does not match the header's",
}


def _frame(
    buffer: Any, sync: Any, max_size: int, table: Any
) -> tuple[int, int, int, int, int, int]:  # pragma: no cover - runs compiled
    """Frame the whole blocks at the start of ``buffer`` into rows of ``table`` (see ``framed_chunks``).

    Returns the blocks framed, the bytes they take, why it stopped, and for the block it stopped
    at its count, size and (NEED_MORE) the bytes it needs, 0 if its header is not whole yet.
    """
    end = buffer.shape[0]

    def header_long(at: int) -> tuple[Any, int, int]:
        """A zigzag long of a block header at ``at``: its value, where it ends, and FRAMED, or why it cannot be read
        (NEED_MORE: the buffer ends inside it; BAD_HEADER: longer than 10 bytes)."""
        raw = np.uint64(0)
        shift = 0
        while True:
            if at >= end:
                return np.int64(0), at, NEED_MORE
            byte = buffer[at]
            at += 1
            if shift == 63 and byte > 1:
                return np.int64(0), at, BAD_HEADER
            raw |= np.uint64(byte & 0x7F) << np.uint64(shift)
            if byte < 0x80:
                break
            shift += 7
        half = np.int64(raw >> np.uint64(1))
        return (-half - 1 if raw & np.uint64(1) else half), at, FRAMED

    blocks = 0
    position = 0
    while position < end and blocks < table.shape[0]:
        count, at, stop = header_long(position)
        if stop != FRAMED:
            return blocks, position, stop, -1, -1, 0
        size, at, stop = header_long(at)
        if stop != FRAMED:
            return blocks, position, stop, count, -1, 0
        if count < 0 or size < 0:
            return blocks, position, NEGATIVE, count, size, 0
        if size > max_size:
            return blocks, position, TOO_LARGE, count, size, 0
        if at + size + SYNC_SIZE > end:
            return blocks, position, NEED_MORE, count, size, at + size + SYNC_SIZE - position
        for index in range(SYNC_SIZE):
            if buffer[at + size + index] != sync[index]:
                return blocks, position, BAD_SYNC, count, size, 0
        table[blocks, 0] = position
        table[blocks, 1] = count
        table[blocks, 2] = at
        table[blocks, 3] = size
        blocks += 1
        position = at + size + SYNC_SIZE
    return blocks, position, FRAMED, 0, 0, 0


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
    return compile_schema(_parsed_schema(schema_json))


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


def uncompressed(codec: str, data: bytes | memoryview) -> tuple[Any, str | None]:
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


def _snappy_uncompressed(data: bytes | memoryview) -> tuple[Any, str | None]:
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

    def add(self, records: int, data: bytes | memoryview) -> None:
        self._values.extend((records, len(data), zlib.crc32(data)))

    def __len__(self) -> int:
        return len(self._values) // 3

    def table(self) -> np.ndarray:
        """One row per block: records, data bytes, CRC-32."""
        return np.frombuffer(self._values, dtype=np.int64).reshape(-1, 3)


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
                    self._write(block)
                    records += count
        self.stats.files += 1
        self.stats.records += records
        return records

    def _write(self, block: Block) -> None:
        """Copy a checked block, its header as it was, with this file's sync marker."""
        self.out.write(block.frame)
        self.out.write(block.data)
        self.out.write(self.sync)
        self.stats.written.add(block.records, block.data)
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
    expected = stats.written.table()
    records = number = 0
    for chunk, start, table in framed_chunks(stream, header, label):
        if number + len(table) > len(expected):
            raise CorruptAvroFile(f"{label}: read back, it holds more than the {len(expected)} blocks written")
        view = memoryview(chunk)
        crcs = [zlib.crc32(view[offset : offset + size]) for offset, size in table[:, 2:4].tolist()]
        found = np.column_stack((table[:, 1], table[:, 3], crcs))
        differs = np.flatnonzero((found != expected[number : number + len(table)]).any(axis=1))
        if len(differs):
            first = int(differs[0])
            (records_found, size_found, crc_found), (records_written, size_written, crc_written) = (
                found[first].tolist(),
                expected[number + first].tolist(),
            )
            raise CorruptAvroFile(
                f"{label}: read back, block {number + first + 1} (at byte {start + int(table[first, 0])}) differs from the "
                f"block written: {records_found} records, {size_found} bytes, CRC-32 {crc_found:08x} instead of "
                f"{records_written}, {size_written}, {crc_written:08x}"
            )
        records += int(table[:, 1].sum())
        number += len(table)
    if number < len(expected):
        raise CorruptAvroFile(f"{label}: read back, it ends after {number} of the {len(expected)} blocks written")
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
