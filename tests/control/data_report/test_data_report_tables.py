"""Tables are read as their DDL lays them out: a changed location template changes what the report reads."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from job_helpers.control.data_report.lake import Lake
from job_helpers.control.data_report.tables import Catalog, TableError, from_definition, layout_pattern
from job_helpers.control.table_definition import from_ddl
from job_helpers.storage import Storage, local_path
from tests.support.data_report_pages import REPO, new_project


def test_folders_bind_partition_keys_hive_style_or_as_the_template_names_them():
    keys = (("export", "string"), ("stream", "string"))
    assert layout_pattern("", keys).match("export=E/stream=eda/part.parquet").groupdict() == {"export": "E", "stream": "eda"}
    bare = layout_pattern("${export}/${stream}/", keys)
    assert bare.match("E/eda/part.csv").groupdict() == {"export": "E", "stream": "eda"}
    assert layout_pattern("", keys).match("E/eda/part.parquet") is None
    assert layout_pattern("x.y=${export}/", keys[:1]).match("xzy=E/") is None, "literal parts are matched literally"


def test_a_template_outside_the_location_is_refused():
    ddl = (
        "CREATE EXTERNAL TABLE `d`.`t` (`a` string) PARTITIONED BY (`p` string) STORED AS PARQUET "
        "LOCATION 's3://b/t/' TBLPROPERTIES ('storage.location.template'='s3://b/other/p=${p}/')"
    )
    with pytest.raises(TableError, match="not under its location"):
        from_definition(from_ddl(ddl))


def test_a_changed_layout_in_the_ddl_is_what_the_report_reads(tmp_path):
    project = new_project(tmp_path / "repo")
    sql = tmp_path / "sql"
    shutil.copytree(REPO / "sql", sql)
    ddl = sql / "embrace" / "embrace_wear_time.sql"
    ddl.write_text(
        ddl.read_text()
        .replace("PARTITIONED BY (`month` string)", "PARTITIONED BY (`site` string, `month` string)")
        .replace("'{embrace.wear_time}month=${month}/'", "'{embrace.wear_time}by-site/${site}/${month}/'")
    )
    settings = project.settings()
    table = Catalog(settings, sql).table("embrace_wear_time")
    root = local_path(settings.datasets["embrace.wear_time"])
    for site, minutes in (("fc", 10.0), ("mgh", 20.0)):
        (root / "by-site" / site / "2024-03").mkdir(parents=True)
        pq.write_table(
            pa.table({"ppt_id": [f"{site}1"], "day": ["2024-03-01"], "minutes_worn": [minutes]}),
            root / "by-site" / site / "2024-03" / "f.parquet",
        )
    (root / "month=2024-03").mkdir()
    pq.write_table(
        pa.table({"ppt_id": ["old"], "day": ["2024-03-01"], "minutes_worn": [1.0]}), root / "month=2024-03" / "f.parquet"
    )

    lake = Lake(Storage())
    files = lake.files(table)
    assert sorted(file.partition["site"] for file in files) == ["fc", "mgh"]
    summed = lake.aggregate(table, files, ["site", "month"], [("minutes_worn", "sum", "minutes")]).sort_by("site").to_pylist()
    assert summed == [{"site": "fc", "month": "2024-03", "minutes": 10.0}, {"site": "mgh", "month": "2024-03", "minutes": 20.0}]


def test_a_file_that_is_not_what_its_ddl_says_fails_naming_the_table_and_the_file(tmp_path, capsys):
    project = new_project(tmp_path / "repo")
    folder = local_path(project.settings().datasets["embrace.wear_time"]) / "month=2024-03"
    folder.mkdir(parents=True)
    (folder / "part-0.parquet").write_bytes(b"not parquet at all")
    assert project.cli("data-report", "--dataset", "embrace") == 1
    printed = capsys.readouterr().err.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith("error: embrace_wear_time under file://")
    assert "month=2024-03/part-0.parquet" in printed[0]
    assert not (project.root / "build" / "reports" / "data-embrace.html").exists()
