"""Raw file names are read from the right, so series ids with ``_`` survive; other objects are refused."""

from __future__ import annotations

from datetime import date

import pytest

from job_helpers.sitewise.keys import Layout, NotARawFile, day_partition, parse_raw_key
from job_helpers.sitewise.read import list_raw_files
from job_helpers.storage import Storage, join

RAW_DAY = "raw/startYear=2024/startMonth=1/startDay=5/seriesBucket=3f"


def test_series_id_with_underscores_is_kept_whole() -> None:
    url = f"s3://lake/cold/{RAW_DAY}/raw_plant_1_line_2_temp_1704412800_GOOD.avro"

    raw = parse_raw_key(url)

    assert raw.series_id == "plant_1_line_2_temp"
    assert raw.start_timestamp == 1704412800
    assert raw.quality == "GOOD"
    assert raw.series_bucket == "3f"
    assert raw.day == date(2024, 1, 5)
    assert raw.key == f"{RAW_DAY}/raw_plant_1_line_2_temp_1704412800_GOOD.avro"
    assert raw.url == url


def test_asset_and_property_id_pair_is_one_series_id() -> None:
    series_id = "7c1e2a44-5d0b-4bb5-8d4e-0f3a9b2c7d12_e3f4a5b6-c7d8-4e9f-8a1b-2c3d4e5f6a7b"

    raw = parse_raw_key(f"{RAW_DAY}/raw_{series_id}_1704412800_UNCERTAIN.avro")

    assert (raw.series_id, raw.start_timestamp, raw.quality) == (series_id, 1704412800, "UNCERTAIN")


@pytest.mark.parametrize(
    "name",
    [
        "raw/startYear=2024/startMonth=1/startDay=5/seriesBucket=3f/_SUCCESS",
        "raw/startYear=2024/startMonth=1/startDay=5/seriesBucket=3f/raw_series_notatime_GOOD.avro",
        "raw/startYear=2024/startMonth=1/startDay=5/seriesBucket=3f/raw_1704412800_GOOD.avro",
        "raw/startYear=2024/startMonth=1/startDay=5/seriesBucket=3f/raw_series_1704412800_GOOD.json",
        "raw/startYear=2024/startMonth=13/startDay=5/seriesBucket=3f/raw_series_1704412800_GOOD.avro",
        "startYear=2024/startMonth=1/startDay=5/seriesBucket=3f/raw_series_1704412800_GOOD.avro",
        "raw/startYear=2024/startMonth=1/startDay=5/raw_series_1704412800_GOOD.avro",
    ],
)
def test_objects_that_are_not_raw_files_are_refused_by_name(name: str) -> None:
    with pytest.raises(NotARawFile, match="not a SiteWise raw file") as error:
        parse_raw_key(f"s3://lake/cold/{name}")

    assert name in str(error.value)


def test_day_partition_is_not_zero_padded() -> None:
    layout = Layout("s3://lake/cold", "s3://lake/out", "s3://lake/index")

    assert day_partition(date(2024, 1, 5)) == "startYear=2024/startMonth=1/startDay=5/"
    assert layout.raw_day(date(2024, 1, 5)) == "s3://lake/cold/raw/startYear=2024/startMonth=1/startDay=5/"
    assert layout.index_day(date(2024, 12, 25)) == "s3://lake/index/startYear=2024/startMonth=12/startDay=25/"


def test_listing_a_day_leaves_out_objects_that_are_not_raw_files(tmp_path) -> None:
    storage = Storage()
    cold = tmp_path.as_uri() + "/cold"
    storage.write_bytes(join(cold, RAW_DAY, "raw_my_series_1704412800_GOOD.avro"), b"data")
    storage.write_bytes(join(cold, RAW_DAY, "_SUCCESS"), b"")

    found = list_raw_files(storage, Layout(cold, "", "").raw_day(date(2024, 1, 5)))

    assert [raw.series_id for raw in found] == ["my_series"]
