"""Block-copy merging: records come back unchanged and in file order; damaged inputs are named."""

from __future__ import annotations

import random
from pathlib import Path

import avro.datafile
import avro.io
import fastavro
import pytest

from job_helpers.sitewise.avro_blocks import (
    CorruptAvroFile,
    IncompatibleAvroFile,
    count_records,
    decode_long,
    encode_long,
    merge_avro_files,
)
from job_helpers.sitewise.sample_data import plan_series, raw_records, raw_schema


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
