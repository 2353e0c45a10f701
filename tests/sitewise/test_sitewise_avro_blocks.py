"""Block-copy merging: records come back unchanged and in file order; damaged inputs are named."""

from __future__ import annotations

import random
import re
from pathlib import Path

import avro.datafile
import avro.io
import fastavro
import pytest
from avro_builders import RawBlock, block, blocks_of, compress, container, plain_records, with_block_count

from job_helpers.sitewise import avro_blocks
from job_helpers.sitewise.avro_blocks import (
    CorruptAvroFile,
    IncompatibleAvroFile,
    MergeStats,
    count_records,
    decode_long,
    encode_long,
    merge_avro_files,
    read_back,
)
from job_helpers.sitewise.sample_data import RAW_SCHEMA, plan_series, raw_records, raw_schema


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(0, b"\x00"), (-1, b"\x01"), (1, b"\x02"), (-64, b"\x7f"), (64, b"\x80\x01"), (300, b"\xd8\x04")],
)
def test_long_encoding_matches_the_avro_specification(value: int, encoded: bytes) -> None:
    assert encode_long(value) == encoded
    assert decode_long(encoded + b"\xff") == (value, len(encoded))


@pytest.mark.parametrize("value", [2**63 - 1, -(2**63), 2**31, -(2**31) - 1, 123456789012])
def test_long_encoding_round_trips_at_the_limits(value: int) -> None:
    assert decode_long(encode_long(value)) == (value, len(encode_long(value)))


def test_decoding_starts_at_an_offset_and_refuses_bad_varints() -> None:
    data = encode_long(5) + encode_long(-300) + encode_long(7)

    assert decode_long(data, 1) == (-300, 3)
    with pytest.raises(EOFError):
        decode_long(b"\x80\x80")
    with pytest.raises(ValueError, match="longer than 10 bytes"):
        decode_long(b"\xff" * 11)


def write_raw_file(path: Path, series_number: int, count: int, codec: str = "snappy", sync_interval: int = 2000) -> list[dict]:
    """Raw records of one sample series, written with a small sync interval to get several blocks."""
    spec = plan_series(series_number + 1, seed=7)[series_number]
    records = raw_records(spec, 1_704_412_800 + 3600 * series_number, "GOOD", count, random.Random(series_number))
    with open(path, "wb") as out:
        fastavro.writer(out, raw_schema(), records, codec=codec, sync_interval=sync_interval)
    return records


def test_merged_file_holds_every_record_in_file_order(tmp_path: Path) -> None:
    inputs, expected = [], []
    for number, count in enumerate([250, 1, 0, 600]):
        path = tmp_path / f"in{number}.avro"
        expected += write_raw_file(path, number, count)
        inputs.append((f"key-{number}", path))
    output = tmp_path / "merged.avro"

    stats = merge_avro_files(inputs, output)

    with open(output, "rb") as stream:
        reader = fastavro.reader(stream)
        assert reader.codec == "snappy"
        assert list(reader) == expected
    assert stats.files == 4
    assert stats.records == len(expected) == count_records(output, "merged")
    assert stats.blocks > 4, "small sync interval should give several blocks per file"


def test_blocks_larger_than_the_copy_chunk_are_streamed(tmp_path: Path) -> None:
    rng = random.Random(5)
    big = {
        **write_raw_file(tmp_path / "small.avro", 0, 1)[0],
        "stringValue": "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(1_500_000)),
    }
    with open(tmp_path / "big.avro", "wb") as out:
        fastavro.writer(out, raw_schema(), [big, big], codec="snappy", sync_interval=4_000_000)
    output = tmp_path / "merged.avro"

    stats = merge_avro_files([("small", tmp_path / "small.avro"), ("big", tmp_path / "big.avro")], output)

    with open(output, "rb") as stream:
        records = list(fastavro.reader(stream))
    assert records[1:] == [big, big]
    assert stats.records == 3 and output.stat().st_size > 2_000_000


def test_merged_file_is_readable_by_the_avro_reference_library(tmp_path: Path) -> None:
    expected = write_raw_file(tmp_path / "a.avro", 0, 300) + write_raw_file(tmp_path / "b.avro", 1, 300)
    output = tmp_path / "merged.avro"
    merge_avro_files([("a", tmp_path / "a.avro"), ("b", tmp_path / "b.avro")], output)

    with avro.datafile.DataFileReader(open(output, "rb"), avro.io.DatumReader()) as reader:
        assert list(reader) == expected


def test_same_inputs_and_sync_give_the_same_bytes(tmp_path: Path) -> None:
    write_raw_file(tmp_path / "a.avro", 0, 100)
    sync = bytes(range(16))

    merge_avro_files([("a", tmp_path / "a.avro")], tmp_path / "one.avro", sync)
    merge_avro_files([("a", tmp_path / "a.avro")], tmp_path / "two.avro", sync)

    assert (tmp_path / "one.avro").read_bytes() == (tmp_path / "two.avro").read_bytes()


def test_truncated_input_is_named(tmp_path: Path) -> None:
    write_raw_file(tmp_path / "good.avro", 0, 100)
    write_raw_file(tmp_path / "cut.avro", 1, 500)
    data = (tmp_path / "cut.avro").read_bytes()
    (tmp_path / "cut.avro").write_bytes(data[: len(data) - 40])

    with pytest.raises(CorruptAvroFile, match="raw/day/cut-key.avro: truncated"):
        merge_avro_files(
            [("good", tmp_path / "good.avro"), ("raw/day/cut-key.avro", tmp_path / "cut.avro")], tmp_path / "out.avro"
        )


def test_file_cut_inside_its_header_is_named(tmp_path: Path) -> None:
    write_raw_file(tmp_path / "cut.avro", 0, 10)
    (tmp_path / "cut.avro").write_bytes((tmp_path / "cut.avro").read_bytes()[:30])

    with pytest.raises(CorruptAvroFile, match="cut-key: not a readable Avro container header"):
        merge_avro_files([("cut-key", tmp_path / "cut.avro")], tmp_path / "out.avro")


def test_wrong_sync_marker_is_named(tmp_path: Path) -> None:
    write_raw_file(tmp_path / "bad.avro", 0, 100, sync_interval=100_000)
    data = bytearray((tmp_path / "bad.avro").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "bad.avro").write_bytes(bytes(data))

    with pytest.raises(CorruptAvroFile, match="bad-key: the sync marker after the block at byte"):
        count_records(tmp_path / "bad.avro", "bad-key")


def test_codec_mismatch_is_named(tmp_path: Path) -> None:
    write_raw_file(tmp_path / "snappy.avro", 0, 10)
    write_raw_file(tmp_path / "plain.avro", 1, 10, codec="null")

    with pytest.raises(IncompatibleAvroFile, match="plain-key: codec 'null' differs from 'snappy' of snappy-key"):
        merge_avro_files(
            [("snappy-key", tmp_path / "snappy.avro"), ("plain-key", tmp_path / "plain.avro")], tmp_path / "out.avro"
        )


def test_schema_mismatch_is_named(tmp_path: Path) -> None:
    write_raw_file(tmp_path / "raw.avro", 0, 10)
    other = fastavro.parse_schema({"type": "record", "name": "Other", "fields": [{"name": "x", "type": "long"}]})
    with open(tmp_path / "other.avro", "wb") as out:
        fastavro.writer(out, other, [{"x": 1}], codec="snappy")

    with pytest.raises(IncompatibleAvroFile, match="other-key: schema differs from that of raw-key"):
        merge_avro_files([("raw-key", tmp_path / "raw.avro"), ("other-key", tmp_path / "other.avro")], tmp_path / "out.avro")


def first_block(path: Path) -> tuple[int, int]:
    """Where the first block's data starts in a container file, and its size (checksum included)."""
    with open(path, "rb") as stream:
        fastavro.reader(stream)
        header_end = stream.tell()
    data = path.read_bytes()
    _, after_count = decode_long(data, header_end)
    size, data_start = decode_long(data, after_count)
    return data_start, size


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_flipped_checksum_byte_of_a_snappy_block_is_named(tmp_path: Path) -> None:
    write_raw_file(tmp_path / "good.avro", 0, 100)
    write_raw_file(tmp_path / "bad.avro", 1, 300)
    data_start, size = first_block(tmp_path / "bad.avro")
    flip_byte(tmp_path / "bad.avro", data_start + size - 1)

    with pytest.raises(CorruptAvroFile, match=r"raw/day/bad-key.avro: the block at byte \d+ fails its CRC-32 check"):
        merge_avro_files(
            [("good", tmp_path / "good.avro"), ("raw/day/bad-key.avro", tmp_path / "bad.avro")], tmp_path / "out.avro"
        )


def test_flipped_data_byte_of_a_snappy_block_is_named(tmp_path: Path) -> None:
    records = write_raw_file(tmp_path / "bad.avro", 1, 300)
    data_start, size = first_block(tmp_path / "bad.avro")
    flip_byte(tmp_path / "bad.avro", data_start + size // 2)
    with open(tmp_path / "bad.avro", "rb") as stream:
        assert list(fastavro.reader(stream)) != records, "the flipped byte should change what a reader sees"

    with pytest.raises(CorruptAvroFile, match=r"bad-key: the block at byte \d+ (fails its CRC-32 check|is not valid snappy)"):
        merge_avro_files([("bad-key", tmp_path / "bad.avro")], tmp_path / "out.avro")


def test_checksums_of_large_snappy_blocks_are_checked(tmp_path: Path) -> None:
    rng = random.Random(6)
    big = {
        **write_raw_file(tmp_path / "small.avro", 0, 1)[0],
        "stringValue": "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(1_500_000)),
    }
    with open(tmp_path / "big.avro", "wb") as out:
        fastavro.writer(out, raw_schema(), [big], codec="snappy", sync_interval=4_000_000)
    data_start, size = first_block(tmp_path / "big.avro")
    assert size > 1 << 20, "the block should be larger than the copy chunk"
    flip_byte(tmp_path / "big.avro", data_start + size - 2)

    with pytest.raises(CorruptAvroFile, match="big-key: the block at byte .* fails its CRC-32 check"):
        merge_avro_files([("big-key", tmp_path / "big.avro")], tmp_path / "out.avro")


# Block counts are checked against what the data decodes to, for every codec the merge accepts.

CODECS = ["null", "deflate", "snappy"]


def series_records(count: int, series_number: int = 0) -> list[dict]:
    spec = plan_series(series_number + 1, seed=7)[series_number]
    return raw_records(spec, 1_704_412_800 + 3600 * series_number, "GOOD", count, random.Random(series_number))


def write_blocks(path: Path, blocks: list[RawBlock], codec: str, schema: dict | None = None) -> None:
    path.write_bytes(container(blocks, codec, schema))


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize(
    ("declared", "holds"),
    [(2**31, "177"), (2**63 - 1, "177"), (178, "177"), (176, "177"), (1, "177"), (0, "177")],
    ids=["2^31", "2^63-1", "one-more", "one-less", "one", "zero"],
)
def test_a_block_count_other_than_its_records_is_named(tmp_path: Path, codec: str, declared: int, holds: str) -> None:
    records = series_records(200)
    blocks = [block(23, plain_records(records[:23]), codec), block(declared, plain_records(records[23:]), codec)]
    write_blocks(tmp_path / "lying.avro", blocks, codec)

    with pytest.raises(
        CorruptAvroFile,
        match=rf"raw/day/lying-key: the block at byte \d+ declares {declared} records, but its data holds {holds}$",
    ):
        merge_avro_files([("raw/day/lying-key", tmp_path / "lying.avro")], tmp_path / "out.avro")
    with pytest.raises(CorruptAvroFile, match="declares"):
        count_records(tmp_path / "lying.avro", "lying-key")


@pytest.mark.parametrize("codec", CODECS)
def test_bytes_after_the_last_record_of_a_block_are_named(tmp_path: Path, codec: str) -> None:
    records = series_records(30)
    write_blocks(tmp_path / "tail.avro", [block(30, plain_records(records) + b"\x00", codec)], codec)

    with pytest.raises(
        CorruptAvroFile,
        match=r"tail-key: the block at byte \d+ declares 30 records, but 1 bytes that are not whole records follow",
    ):
        merge_avro_files([("tail-key", tmp_path / "tail.avro")], tmp_path / "out.avro")


@pytest.mark.parametrize("codec", CODECS)
def test_a_record_that_does_not_decode_is_named(tmp_path: Path, codec: str) -> None:
    plain = bytearray(plain_records(series_records(5)))
    plain[-1] = 0x04  # the last field, recordVersion, is a union of two branches: index 2 does not exist
    write_blocks(tmp_path / "bad.avro", [block(5, bytes(plain), codec)], codec)

    with pytest.raises(CorruptAvroFile, match=r"bad-key: .* record 5 does not decode \(a union index is out of range"):
        merge_avro_files([("bad-key", tmp_path / "bad.avro")], tmp_path / "out.avro")


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("count", [-1, -177, -(2**62)])
def test_a_negative_block_count_is_named(tmp_path: Path, codec: str, count: int) -> None:
    write_blocks(tmp_path / "negative.avro", [block(count, plain_records(series_records(177)), codec)], codec)

    with pytest.raises(CorruptAvroFile, match=rf"negative-key: corrupt block header at byte \d+ \(count {count}, size \d+\)"):
        merge_avro_files([("negative-key", tmp_path / "negative.avro")], tmp_path / "out.avro")


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("change", [1, -1, 1000])
def test_a_block_size_that_lies_is_named(tmp_path: Path, codec: str, change: int) -> None:
    records = series_records(60)
    good = container([block(30, plain_records(records[:30]), codec), block(30, plain_records(records[30:]), codec)], codec)
    header, blocks, sync = blocks_of(good)
    first = blocks[0]
    lying = (
        header
        + encode_long(first.count)
        + encode_long(len(first.data) + change)
        + first.data
        + sync
        + encode_long(30)
        + encode_long(len(blocks[1].data))
        + blocks[1].data
        + sync
    )
    (tmp_path / "size.avro").write_bytes(lying)

    with pytest.raises(
        CorruptAvroFile, match=r"size-key: (the sync marker after the block at byte \d+ does not match|truncated)"
    ):
        merge_avro_files([("size-key", tmp_path / "size.avro")], tmp_path / "out.avro")


@pytest.mark.parametrize("codec", CODECS)
def test_a_truncated_last_block_is_named(tmp_path: Path, codec: str) -> None:
    records = series_records(60)
    data = container([block(30, plain_records(records[:30]), codec), block(30, plain_records(records[30:]), codec)], codec)
    (tmp_path / "cut.avro").write_bytes(data[:-20])

    with pytest.raises(CorruptAvroFile, match=r"cut-key: truncated; the block at byte \d+ needs"):
        merge_avro_files([("cut-key", tmp_path / "cut.avro")], tmp_path / "out.avro")


@pytest.mark.parametrize("codec", CODECS)
def test_empty_blocks_and_files_without_blocks_are_legal_and_copy_nothing(tmp_path: Path, codec: str) -> None:
    records = series_records(40)
    write_blocks(
        tmp_path / "empty-first.avro", [RawBlock(0, b""), block(40, plain_records(records), codec), RawBlock(0, b"")], codec
    )
    write_blocks(tmp_path / "no-blocks.avro", [], codec)
    write_blocks(tmp_path / "empty-data.avro", [block(0, b"", codec)], codec)

    stats = merge_avro_files(
        [
            ("no-blocks", tmp_path / "no-blocks.avro"),
            ("empty", tmp_path / "empty-first.avro"),
            ("data", tmp_path / "empty-data.avro"),
        ],
        tmp_path / "out.avro",
    )

    with open(tmp_path / "out.avro", "rb") as stream:
        assert list(fastavro.reader(stream)) == records
    assert (stats.files, stats.blocks, stats.records) == (3, 1, 40)
    assert count_records(tmp_path / "no-blocks.avro", "no-blocks") == 0


@pytest.mark.parametrize("codec", CODECS)
def test_a_block_declaring_records_without_data_is_named(tmp_path: Path, codec: str) -> None:
    write_blocks(tmp_path / "hollow.avro", [RawBlock(5, b"")], codec)

    with pytest.raises(CorruptAvroFile, match=r"hollow-key: the block at byte \d+ declares 5 records but holds no data"):
        merge_avro_files([("hollow-key", tmp_path / "hollow.avro")], tmp_path / "out.avro")


@pytest.mark.parametrize(
    ("codec", "data", "problem"),
    [
        ("deflate", b"\x00\x01\x02garbage", "is not valid deflate data"),
        ("deflate", compress("deflate", b"x" * 100)[:-2], "is not one complete deflate stream"),
        ("deflate", compress("deflate", b"x" * 100) + b"extra", "is not one complete deflate stream"),
        ("snappy", b"\x01\x02", "is shorter than its 4-byte CRC-32"),
        ("snappy", b"\xff\xff\xff\xff\xff\xff" + b"\x00" * 4, "is not valid snappy data"),
    ],
)
def test_data_that_does_not_decompress_is_named(tmp_path: Path, codec: str, data: bytes, problem: str) -> None:
    write_blocks(tmp_path / "bad.avro", [RawBlock(3, data)], codec)

    with pytest.raises(CorruptAvroFile, match=rf"bad-key: the block at byte \d+ {problem}"):
        merge_avro_files([("bad-key", tmp_path / "bad.avro")], tmp_path / "out.avro")


@pytest.mark.parametrize("codec", ["deflate", "snappy"])
def test_a_block_that_decompresses_past_the_limit_is_named(tmp_path: Path, codec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(avro_blocks, "MAX_BLOCK_BYTES", 1000)
    write_blocks(tmp_path / "bomb.avro", [block(1, b"\x00" * 5000, codec)], codec)

    with pytest.raises(CorruptAvroFile, match=r"bomb-key: the block at byte \d+ decompresses to more than the 1000 bytes"):
        merge_avro_files([("bomb-key", tmp_path / "bomb.avro")], tmp_path / "out.avro")


def test_a_block_declaring_more_bytes_than_the_limit_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(avro_blocks, "MAX_BLOCK_BYTES", 1000)
    write_blocks(tmp_path / "big.avro", [block(1, b"\x00" * 5000, "null")], "null")

    with pytest.raises(CorruptAvroFile, match=r"big-key: the block at byte \d+ declares \d+ bytes, more than the 1000"):
        merge_avro_files([("big-key", tmp_path / "big.avro")], tmp_path / "out.avro")


@pytest.mark.parametrize("codec", ["bzip2", "xz", "zstandard", "lz4"])
def test_codecs_whose_blocks_cannot_be_checked_are_refused(tmp_path: Path, codec: str) -> None:
    write_blocks(tmp_path / "other.avro", [], codec)

    with pytest.raises(IncompatibleAvroFile, match=rf"other-key: codec '{codec}' is not one whose blocks this job can check"):
        merge_avro_files([("other-key", tmp_path / "other.avro")], tmp_path / "out.avro")


@pytest.mark.parametrize(
    "field",
    [
        {"name": "timeInSeconds", "type": "int"},
        {"name": "timeInSeconds", "type": ["null", "long"]},
        {"name": "timeInSecondz", "type": "long"},
    ],
)
def test_a_schema_that_differs_between_files_is_named(tmp_path: Path, field: dict) -> None:
    write_raw_file(tmp_path / "raw.avro", 0, 10)
    other = {**RAW_SCHEMA, "fields": [field if f["name"] == "timeInSeconds" else f for f in RAW_SCHEMA["fields"]]}
    write_blocks(tmp_path / "other.avro", [], "snappy", other)

    with pytest.raises(IncompatibleAvroFile, match="other-key: schema differs from that of raw-key"):
        merge_avro_files([("raw-key", tmp_path / "raw.avro"), ("other-key", tmp_path / "other.avro")], tmp_path / "out.avro")


# The merged file is read back, and each block compared with what was written.


def merged(tmp_path: Path) -> tuple[Path, MergeStats]:
    write_raw_file(tmp_path / "a.avro", 0, 600)
    write_raw_file(tmp_path / "b.avro", 1, 400)
    output = tmp_path / "merged.avro"
    return output, merge_avro_files([("a", tmp_path / "a.avro"), ("b", tmp_path / "b.avro")], output)


def read_back_of(path: Path, stats: MergeStats) -> int:
    with open(path, "rb") as stream:
        return read_back(stream, "staged/merged.avro", stats)


def test_a_merged_file_reads_back_as_written(tmp_path: Path) -> None:
    output, stats = merged(tmp_path)

    assert read_back_of(output, stats) == stats.records == 1000
    assert len(stats.written) == stats.blocks > 2


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda data, blocks: data[: len(data) - 10], "truncated"),
        (lambda data, blocks: data + data[-len(blocks[-1]) :], "it holds more than the"),
        (lambda data, blocks: data[: len(data) - len(blocks[-1])], r"it ends after \d+ of the \d+ blocks written"),
        (
            lambda data, blocks: data[:-40] + bytes([data[-40] ^ 1]) + data[-39:],
            r"block \d+ \(at byte \d+\) differs from the block written",
        ),
        (lambda data, blocks: data[:-16] + bytes(16), "the sync marker after the block"),
    ],
    ids=["truncated", "extra-block", "missing-block", "flipped-byte", "sync"],
)
def test_a_merged_file_that_does_not_read_back_as_written_is_named(tmp_path: Path, damage, problem: str) -> None:
    output, stats = merged(tmp_path)
    data = output.read_bytes()
    _, blocks, sync = blocks_of(data)
    framed = [encode_long(raw.count) + encode_long(len(raw.data)) + raw.data + sync for raw in blocks]
    output.write_bytes(damage(data, framed))

    with pytest.raises(CorruptAvroFile, match=rf"staged/merged.avro: .*{problem}"):
        read_back_of(output, stats)


def test_a_merged_file_with_another_header_is_named(tmp_path: Path) -> None:
    output, stats = merged(tmp_path)
    merge_avro_files([("a", tmp_path / "a.avro")], tmp_path / "other.avro", sync=bytes(16))

    with pytest.raises(CorruptAvroFile, match="read back, its header .* is not the one written"):
        read_back_of(tmp_path / "other.avro", stats)


def test_a_block_whose_count_was_changed_after_the_merge_is_named(tmp_path: Path) -> None:
    output, stats = merged(tmp_path)
    output.write_bytes(with_block_count(output.read_bytes(), 1, 2**31))

    with pytest.raises(CorruptAvroFile, match=r"block 2 \(at byte \d+\) differs from the block written: 2147483648 records"):
        read_back_of(output, stats)


@pytest.mark.parametrize(("chunk", "rows"), [(64, 1), (1000, 2), (5000, 3)])
def test_blocks_framed_across_small_reads_and_tables_merge_and_read_back_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, rows: int
) -> None:
    monkeypatch.setattr(avro_blocks, "READ_CHUNK", chunk)
    monkeypatch.setattr(avro_blocks, "TABLE_ROWS", rows)
    expected = write_raw_file(tmp_path / "a.avro", 0, 700) + write_raw_file(tmp_path / "b.avro", 1, 300)
    output = tmp_path / "merged.avro"

    stats = merge_avro_files([("a", tmp_path / "a.avro"), ("b", tmp_path / "b.avro")], output)

    with open(output, "rb") as stream:
        assert list(fastavro.reader(stream)) == expected
    assert read_back_of(output, stats) == count_records(output, "merged") == 1000 and stats.blocks > 4
    output.write_bytes(output.read_bytes()[:-5])
    with pytest.raises(CorruptAvroFile, match=r"staged/merged.avro: truncated; the block at byte \d+ needs"):
        read_back_of(output, stats)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"Obj\x02" + bytes(40), "it does not start with the Avro magic bytes"),
        (
            b"Obj\x01" + encode_long(1) + encode_long(11) + b"avro.schema" + encode_long(2**40),
            "a metadata entry of 1099511627776 bytes",
        ),
        (
            b"Obj\x01" + encode_long(1) + encode_long(10) + b"avro.codec" + encode_long(4) + b"null" + encode_long(0) + bytes(16),
            "avro.schema",
        ),
        (
            b"Obj\x01"
            + encode_long(1)
            + encode_long(11)
            + b"avro.schema"
            + encode_long(7)
            + b'"nope!"'
            + encode_long(0)
            + bytes(16),
            "its schema does not parse",
        ),
        (
            b"Obj\x01"
            + encode_long(1)
            + encode_long(11)
            + b"avro.schema"
            + encode_long(5)
            + b"{oops"
            + encode_long(0)
            + bytes(16),
            "its schema does not parse (Expecting property name",
        ),
        (b"Obj\x01" + b"\xff" * 11, "varint longer than 10 bytes"),
        (b"Obj\x01" + encode_long(0) + bytes(5), "the file ends 11 bytes short"),
    ],
    ids=["magic", "huge-entry", "no-schema", "unknown-type", "not-json", "long-varint", "short-sync"],
)
def test_a_header_that_does_not_read_is_named(tmp_path: Path, data: bytes, problem: str) -> None:
    (tmp_path / "bad.avro").write_bytes(data)

    with pytest.raises(CorruptAvroFile, match=rf"bad-key: not a readable Avro container header.*{re.escape(problem)}"):
        count_records(tmp_path / "bad.avro", "bad-key")
