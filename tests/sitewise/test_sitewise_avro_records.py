"""The record walk that checks block counts: every Avro type, every way a count or a record can lie."""

from __future__ import annotations

import random
from typing import Any

import fastavro
import pytest
from avro_builders import plain_records

from job_helpers.sitewise.avro_blocks import encode_long
from job_helpers.sitewise.avro_records import (
    BAD_BOOLEAN,
    BAD_ENUM,
    BAD_INT,
    BAD_ITEM_BYTES,
    BAD_UNION,
    BAD_VARINT,
    ENDS_INSIDE,
    NEGATIVE_LENGTH,
    SOUND,
    Scan,
    UncheckableSchema,
    compile_schema,
    scan,
)
from job_helpers.sitewise.sample_data import RAW_SCHEMA, plan_series, raw_records

EVERY_TYPE = {
    "type": "record",
    "name": "Everything",
    "namespace": "test",
    "fields": [
        {"name": "flag", "type": "boolean"},
        {"name": "small", "type": "int"},
        {"name": "big", "type": "long"},
        {"name": "ratio", "type": "float"},
        {"name": "value", "type": "double"},
        {"name": "blob", "type": "bytes"},
        {"name": "text", "type": "string"},
        {"name": "digest", "type": {"type": "fixed", "name": "Digest", "size": 3}},
        {"name": "state", "type": {"type": "enum", "name": "State", "symbols": ["ON", "OFF", "IDLE"]}},
        {"name": "choice", "type": ["null", "string", "test.Digest", "long"]},
        {
            "name": "parts",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Part",
                    "fields": [
                        {"name": "state", "type": "test.State"},
                        {"name": "tags", "type": {"type": "map", "values": {"type": "array", "items": "long"}}},
                    ],
                },
            },
        },
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    ],
}


def everything(rng: random.Random) -> dict[str, Any]:
    return {
        "flag": rng.random() < 0.5,
        "small": rng.randint(-(2**31), 2**31 - 1),
        "big": rng.randint(-(2**63), 2**63 - 1),
        "ratio": 0.5,
        "value": rng.random(),
        "blob": rng.randbytes(rng.randint(0, 300)),
        "text": "é" * rng.randint(0, 100),
        "digest": b"abc",
        "state": rng.choice(["ON", "OFF", "IDLE"]),
        "choice": rng.choice([None, "x" * rng.randint(0, 80), b"xyz", rng.randint(-(10**12), 10**12)]),
        "parts": [
            {
                "state": "OFF",
                "tags": {str(k): [rng.randint(-9, 9) for _ in range(rng.randint(0, 4))] for k in range(rng.randint(0, 3))},
            }
            for _ in range(rng.randint(0, 4))
        ],
        "at": rng.randint(0, 2**40),
    }


def program(schema: Any) -> Any:
    return compile_schema(fastavro.parse_schema(schema))


def sitewise_records(count: int) -> list[dict[str, Any]]:
    spec = plan_series(2, seed=4)[1]
    return raw_records(spec, 1_704_412_800, "GOOD", count, random.Random(4))


def sitewise_data(count: int) -> bytes:
    return plain_records(sitewise_records(count))


@pytest.mark.parametrize("count", [1, 2, 177, 1000])
def test_records_of_every_type_are_counted_exactly(count: int) -> None:
    rng = random.Random(count)
    data = plain_records([everything(rng) for _ in range(count)], EVERY_TYPE)

    assert scan(program(EVERY_TYPE), data, count) == Scan(count, len(data))
    assert scan(program(EVERY_TYPE), data, (1 << 63) - 1) == Scan(count, len(data)), "the data ends after the last record"


@pytest.mark.parametrize("claimed", [2**31, 2**63 - 1, 178])
def test_a_count_larger_than_the_data_holds_stops_at_its_end(claimed: int) -> None:
    data = sitewise_data(177)

    assert scan(program(RAW_SCHEMA), data, claimed) == Scan(177, len(data))


@pytest.mark.parametrize("claimed", [0, 1, 176])
def test_a_count_smaller_than_the_data_holds_leaves_data_after_it(claimed: int) -> None:
    data = sitewise_data(177)

    walked = scan(program(RAW_SCHEMA), data, claimed)

    assert walked.records == claimed and walked.problem == SOUND and walked.end < len(data)


def test_data_cut_inside_a_record_ends_inside_it() -> None:
    records = sitewise_records(10)
    data = plain_records(records)

    walked = scan(program(RAW_SCHEMA), data[:-3], 10)

    assert (walked.records, walked.problem) == (9, ENDS_INSIDE)
    assert walked.end == len(plain_records(records[:9]))


def longs(*values: int) -> bytes:
    return b"".join(encode_long(value) for value in values)


ARRAY_OF_LONGS = {"type": "array", "items": "long"}


@pytest.mark.parametrize(
    ("schema", "data", "expected"),
    [
        # A negative block count is followed by the block's byte size: both forms are legal.
        (ARRAY_OF_LONGS, longs(2, 7, 8, 0), Scan(1, 4)),
        (ARRAY_OF_LONGS, longs(-2, 2, 7, 8, 1, 5, 0), Scan(1, 7)),
        (ARRAY_OF_LONGS, longs(-2, 3, 7, 8, 0), Scan(0, 0, BAD_ITEM_BYTES, 4)),
        (ARRAY_OF_LONGS, longs(-2, -2, 7, 8, 0), Scan(0, 0, NEGATIVE_LENGTH, 2)),
        (ARRAY_OF_LONGS, longs(2**40, 7, 0), Scan(0, 0, ENDS_INSIDE, 6)),
        ({"type": "map", "values": "int"}, longs(1) + longs(2) + b"ab" + longs(5, 0), Scan(1, 6)),
        ({"type": "map", "values": "int"}, longs(1) + longs(-2) + b"ab", Scan(0, 0, NEGATIVE_LENGTH, 2)),
        ("string", longs(5) + b"abc", Scan(0, 0, ENDS_INSIDE, 1)),
        ("boolean", b"\x02", Scan(0, 0, BAD_BOOLEAN, 0)),
        ("int", b"\xff\xff\xff\xff\x7f", Scan(0, 0, BAD_INT, 5)),
        ("int", b"\x80\x80\x80\x80\x80\x00", Scan(0, 0, BAD_INT, 6)),
        ("long", b"\xff" * 9 + b"\x02", Scan(0, 0, BAD_VARINT, 10)),
        ("long", b"\xff" * 9 + b"\x01", Scan(1, 10)),
        ({"type": "enum", "name": "E", "symbols": ["A", "B"]}, longs(2), Scan(0, 0, BAD_ENUM, 1)),
        ({"type": "enum", "name": "E", "symbols": ["A", "B"]}, longs(-1), Scan(0, 0, BAD_ENUM, 1)),
        (["null", "long"], longs(2), Scan(0, 0, BAD_UNION, 1)),
        (["null", "long"], longs(1, 5, 0), Scan(2, 3)),
        (["long", "null"], longs(1, 0, 5), Scan(2, 3)),
        (["long", "null"], longs(-1), Scan(0, 0, BAD_UNION, 1)),
        # An index written with needless continuation bytes is still the index.
        (["null", "long"], b"\x82\x80\x00" + longs(5), Scan(1, 4)),
        (["null", "long"], b"\x80\x01", Scan(0, 0, BAD_UNION, 1)),
        (["null", "long"], b"\x80\x80", Scan(0, 0, ENDS_INSIDE, 2)),
        (["null", "long", "string"], longs(3), Scan(0, 0, BAD_UNION, 1)),
        (["null", "long", "string"], longs(2, 2) + b"ab" + longs(0), Scan(2, 5)),
        ({"type": "fixed", "name": "F", "size": 4}, b"abcdefg", Scan(1, 4, ENDS_INSIDE, 4)),
        ("double", b"\x00" * 12, Scan(1, 8, ENDS_INSIDE, 8)),
    ],
)
def test_each_way_a_record_can_fail_to_decode_is_found(schema: Any, data: bytes, expected: Scan) -> None:
    assert scan(program(schema), data, (1 << 63) - 1) == expected


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"type": "record", "name": "Nothing", "fields": [{"name": "n", "type": "null"}]}, "encoded in 0 bytes"),
        ({"type": "record", "name": "Empty", "fields": []}, "encoded in 0 bytes"),
        ({"type": "fixed", "name": "Zero", "size": 0}, "encoded in 0 bytes"),
        (
            {
                "type": "record",
                "name": "Node",
                "fields": [{"name": "x", "type": "long"}, {"name": "next", "type": ["null", "Node"]}],
            },
            "record 'Node' contains itself",
        ),
        ({"type": "array", "items": "null"}, "an array's items can be encoded in 0 bytes"),
    ],
)
def test_schemas_whose_counts_could_not_be_checked_are_refused(schema: Any, reason: str) -> None:
    with pytest.raises(UncheckableSchema, match=reason):
        program(schema)
