"""A ``file://`` URL names its path literally, as Hadoop reads it, so Storage and Spark meet in one folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from py4j.protocol import Py4JJavaError
from pyspark.errors import AnalysisException

from job_helpers.control.config import SPARK_PATTERN_CHARACTERS, ConfigError, load_settings
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


def test_spark_reads_a_folder_name_as_a_pattern_where_config_refuses_it(spark, tmp_path: Path) -> None:
    """The characters config refuses in a data set's location are exactly those that make Spark read another
    folder's files or none; the ones it lets through (ODD_NAMES and more) name one folder."""
    neighbour = tmp_path / "glob" / "aXb"
    neighbour.mkdir(parents=True)
    (neighbour / "n.txt").write_text("neighbour\n")
    allowed = "".join(sorted((set("".join(ODD_NAMES)) | set("]}:^,!$&'()=+~@;")) - set(SPARK_PATTERN_CHARACTERS + "/")))
    read_as_written = {}
    for character in SPARK_PATTERN_CHARACTERS + allowed:
        folder = tmp_path / "glob" / f"a{character}b"
        folder.mkdir()
        (folder / "own.txt").write_text("own\n")
        try:
            read_as_written[character] = [row.value for row in spark.read.text(file_url(folder)).collect()] == ["own"]
        except (AnalysisException, Py4JJavaError):  # no such folder; a pattern Hadoop cannot parse
            read_as_written[character] = False
    assert {character for character, ok in read_as_written.items() if not ok} == set(SPARK_PATTERN_CHARACTERS)


@pytest.mark.parametrize(
    "override, lake, key",
    [
        ([], "proj [1]/lake", "profiles.local.lake_root"),
        ([], "{a,b}", "profiles.local.lake_root"),
        ([], "what?", "profiles.local.lake_root"),
        (["buckets.stedi=stedi*"], "", "buckets.stedi"),
        (["datasets.stedi.rejects.prefix=rejects\\[1]/"], "", "datasets.stedi.rejects.prefix"),
    ],
)
def test_config_refuses_a_data_set_location_spark_would_read_as_a_pattern(tmp_path: Path, override, lake, key) -> None:
    with pytest.raises(ConfigError, match=rf"{re.escape(key)}: .* which Spark reads as a file name pattern"):
        load_settings(REPO / "config.yml", "local", override, environ={"LAKE_ROOT": str(tmp_path / lake)})
