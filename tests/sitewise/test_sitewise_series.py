"""Series selection from asset metadata and from the ListTimeSeries API."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from job_helpers.aws import client
from job_helpers.sitewise.keys import Layout
from job_helpers.sitewise.series import (
    SeriesSelectionError,
    from_asset_metadata,
    from_list_time_series,
    load_series_filter,
)
from job_helpers.storage import Storage, join


def write_metadata(storage: Storage, cold: str, asset: str, series_ids: list[str]) -> None:
    lines = [
        json.dumps({"assetId": asset, "propertyId": f"p{number}", "dataType": "DOUBLE", "timeSeriesId": series_id})
        for number, series_id in enumerate(series_ids)
    ]
    storage.write_text(join(cold, f"asset_metadata/asset_{asset}.ndjson"), "\n".join(lines) + "\n")


def test_asset_metadata_lists_the_associated_series(tmp_path) -> None:
    storage, cold = Storage(), tmp_path.as_uri() + "/cold"
    write_metadata(storage, cold, "a1", ["s1", "line_2_temp"])
    write_metadata(storage, cold, "a2", ["s3"])
    layout = Layout(cold, "", "")

    associated = from_asset_metadata(storage, layout, "ASSOCIATED")
    disassociated = from_asset_metadata(storage, layout, "DISASSOCIATED")

    assert associated.listed == {"s1", "line_2_temp", "s3"}
    assert [s for s in ["s1", "line_2_temp", "s3", "orphan"] if associated.keeps(s)] == ["s1", "line_2_temp", "s3"]
    assert [s for s in ["s1", "line_2_temp", "s3", "orphan"] if disassociated.keeps(s)] == ["orphan"]


def test_asset_metadata_line_without_series_id_is_named(tmp_path) -> None:
    storage, cold = Storage(), tmp_path.as_uri() + "/cold"
    storage.write_text(join(cold, "asset_metadata/asset_x.ndjson"), '{"timeSeriesId": "s1"}\n{"assetId": "x"}\n')

    with pytest.raises(SeriesSelectionError, match=r"asset_x.ndjson line 2: no timeSeriesId"):
        from_asset_metadata(storage, Layout(cold, "", ""), "ASSOCIATED")


@pytest.mark.parametrize("blank", ["", "  ", "\t", "\r\n"])
def test_asset_metadata_line_with_a_blank_series_id_is_named(tmp_path, blank) -> None:
    """A blank id matches no raw file: listed, it would make an associated run take nothing without a word."""
    storage, cold = Storage(), tmp_path.as_uri() + "/cold"
    storage.write_text(join(cold, "asset_metadata/asset_x.ndjson"), json.dumps({"timeSeriesId": blank}) + "\n")

    with pytest.raises(SeriesSelectionError, match=r"asset_x.ndjson line 1: no timeSeriesId"):
        from_asset_metadata(storage, Layout(cold, "", ""), "ASSOCIATED")


def test_associated_with_no_asset_metadata_is_an_error_not_an_empty_run(tmp_path) -> None:
    layout = Layout(tmp_path.as_uri() + "/cold", "", "")

    with pytest.raises(SeriesSelectionError, match=r"no associated series: .*asset_metadata.* check --cold-tier"):
        from_asset_metadata(Storage(), layout, "ASSOCIATED")
    assert from_asset_metadata(Storage(), layout, "DISASSOCIATED").keeps("any-series")


def test_unknown_type_and_source_are_refused(tmp_path) -> None:
    layout = Layout(tmp_path.as_uri(), "", "")
    with pytest.raises(SeriesSelectionError, match="'BOTH'"):
        from_asset_metadata(Storage(), layout, "BOTH")
    with pytest.raises(SeriesSelectionError, match="'catalog'"):
        load_series_filter("catalog", "ASSOCIATED", storage=Storage(), layout=layout)


def summary(series_id: str) -> dict:
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    return {
        "timeSeriesId": series_id,
        "dataType": "DOUBLE",
        "timeSeriesCreationDate": moment,
        "timeSeriesLastUpdateDate": moment,
        "timeSeriesArn": f"arn:aws:iotsitewise:us-east-1:123456789012:time-series/{series_id}",
    }


D1 = "0b7d6bb8-2f5e-4a8f-9a43-39e4f5a1c001"
D2 = "7c1e2a44-5d0b-4bb5-8d4e-0f3a9b2c7d12_e3f4a5b6-c7d8-4e9f-8a1b-2c3d4e5f6a7b"
D3 = "f0e1d2c3-b4a5-4968-8776-655443322110"


def test_list_time_series_reads_every_page() -> None:
    sitewise = client("iotsitewise", boto3.Session(region_name="us-east-1"))
    with Stubber(sitewise) as stubber:
        stubber.add_response(
            "list_time_series",
            {"TimeSeriesSummaries": [summary(D1), summary(D2)], "nextToken": "cGFnZS0y"},
            {"timeSeriesType": "DISASSOCIATED"},
        )
        stubber.add_response(
            "list_time_series",
            {"TimeSeriesSummaries": [summary(D3)]},
            {"timeSeriesType": "DISASSOCIATED", "nextToken": "cGFnZS0y"},
        )

        chosen = from_list_time_series(sitewise, "DISASSOCIATED")

        stubber.assert_no_pending_responses()
    assert chosen.listed == {D1, D2, D3}
    assert chosen.keeps(D2) and not chosen.keeps("other")


def test_sitewise_client_backs_off_adaptively() -> None:
    sitewise = client("iotsitewise", boto3.Session(region_name="us-east-1"))

    assert sitewise.meta.config.retries["mode"] == "adaptive"
