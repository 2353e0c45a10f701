"""A ``file://`` URL names its path literally, as Hadoop reads it, so Storage and Spark meet in one folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from job_helpers.control.config import load_settings
from job_helpers.storage import Storage, StorageError, file_url, join, local_path

REPO = Path(__file__).resolve().parents[1]
# Names a laptop's folders really have, and characters a URL parser would read as escapes, a query or a fragment.
ODD_NAMES = ("Jane Doe", "a#b", "what?", "100%", "x%20y", "p%2Fq", "ü ø")


@pytest.mark.parametrize("name", ODD_NAMES)
def test_a_file_url_names_the_path_it_was_made_from(tmp_path: Path, name: str) -> None:
    folder = tmp_path / name / "lake"
    url = file_url(folder)
    assert url == "file://" + str(folder)
    assert local_path(url) == folder
    assert local_path(join(url, "t", "part-0.json")) == folder / "t" / "part-0.json"


@pytest.mark.parametrize("name", ODD_NAMES)
def test_storage_writes_lists_moves_and_deletes_under_odd_names(tmp_path: Path, name: str) -> None:
    storage = Storage()
    base = file_url(tmp_path / name) + "/"
    staged = join(base, f"_staging/{name}.json")
    storage.write_text(staged, "{}\n")
    assert (tmp_path / name / "_staging" / f"{name}.json").read_text() == "{}\n"
    assert [stored.url for stored in storage.list(base)] == [staged]
    target = join(base, f"t/{name}.json")
    storage.move(staged, target)
    assert storage.exists(target) and not storage.exists(staged)
    assert storage.read_text(target) == "{}\n"
    storage.delete(target)
    assert list(storage.list(base)) == []


@pytest.mark.parametrize("url", ["file://relative/path", "file:relative", "file://localhost/tmp/x", "s3://bucket/key"])
def test_a_url_that_is_not_an_absolute_file_path_is_refused(url: str) -> None:
    with pytest.raises(StorageError, match="not a file:///absolute/path URL"):
        local_path(url)


def test_the_local_profile_places_data_sets_under_a_lake_root_with_odd_names(tmp_path: Path) -> None:
    lake = tmp_path / "Jane Doe's #1 lake (100%)"
    settings = load_settings(REPO / "config.yml", "local", [], environ={"LAKE_ROOT": str(lake)})
    for name, url in settings.datasets.items():
        assert url.startswith("file://" + str(lake) + "/"), name
        assert local_path(url).is_relative_to(lake), name
