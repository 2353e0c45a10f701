"""Avro container files built block by block, so a test can make each block declare what it likes."""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass
from typing import Any

import cramjam
import fastavro

from job_helpers.sitewise.avro_blocks import SYNC_SIZE, decode_long, encode_long, read_header, write_header
from job_helpers.sitewise.sample_data import RAW_SCHEMA

SYNC = bytes(range(100, 100 + SYNC_SIZE))


def plain_records(records: list[dict[str, Any]], schema: Any = None) -> bytes:
    """Records encoded one after the other, as a block holds them before compression."""
    parsed = fastavro.parse_schema(schema if schema is not None else RAW_SCHEMA)
    out = io.BytesIO()
    for record in records:
        fastavro.schemaless_writer(out, parsed, record)
    return out.getvalue()


def compress(codec: str, plain: bytes) -> bytes:
    """A block's data as the codec stores it; snappy with its CRC-32 of the uncompressed bytes."""
    if codec == "snappy":
        return bytes(cramjam.snappy.compress_raw(plain)) + zlib.crc32(plain).to_bytes(4, "big")
    if codec == "deflate":
        deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        return deflater.compress(plain) + deflater.flush()
    return plain


@dataclass(frozen=True)
class RawBlock:
    """A block as written: the count its header declares, and its data as stored."""

    count: int
    data: bytes


def block(count: int, plain: bytes, codec: str) -> RawBlock:
    return RawBlock(count, compress(codec, plain))


def container(blocks: list[RawBlock], codec: str = "snappy", schema: Any = None, sync: bytes = SYNC) -> bytes:
    """A container file: header, then each block framed with its declared count and its size."""
    out = io.BytesIO()
    write_header(out, _schema_json(schema), codec, sync)
    for raw in blocks:
        out.write(encode_long(raw.count) + encode_long(len(raw.data)) + raw.data + sync)
    return out.getvalue()


def blocks_of(data: bytes) -> tuple[bytes, list[RawBlock], bytes]:
    """A container file taken apart: its header bytes, its blocks, its sync marker."""
    stream = io.BytesIO(data)
    header = read_header(stream, "test")
    start = position = stream.tell()
    found = []
    while position < len(data):
        count, after = decode_long(data, position)
        size, data_start = decode_long(data, after)
        found.append(RawBlock(count, data[data_start : data_start + size]))
        position = data_start + size + SYNC_SIZE
    return data[:start], found, header.sync


def with_block_count(data: bytes, number: int, count: int) -> bytes:
    """The same file with block ``number`` declaring ``count`` records; its data and CRC untouched."""
    header, found, sync = blocks_of(data)
    found[number] = RawBlock(count, found[number].data)
    return header + b"".join(encode_long(raw.count) + encode_long(len(raw.data)) + raw.data + sync for raw in found)


def _schema_json(schema: Any) -> bytes:
    return json.dumps(schema if schema is not None else RAW_SCHEMA).encode("utf-8")
