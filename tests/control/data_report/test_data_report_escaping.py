"""Text from data (ids, reasons, statuses) reaches the page as text: escaped, control characters made visible.

The tables are written here by hand, since the jobs refuse most of these strings upstream; the
report must not rely on that.
"""

from __future__ import annotations

import json

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from job_helpers.control.data_report.charts import shown
from job_helpers.sitewise.sample_data import raw_schema
from job_helpers.storage import local_path
from tests.support.data_report_pages import fetches, new_project, opened, written

HOSTILE = (
    "<script>alert(1)</script>",
    "</svg><img src=x onerror=alert(2)>",
    "\"quoted\" & 'single' <!-- -->",
    "bell\x07 nul\x00 line\nbreak tab\t \u202eevil",
    "$x^2$ _under",
)
EXPORT = "Sensors_U02_ALLSITES_20240301_20240302"


def write_parquet(url: str, folder: str, table: pa.Table, name: str = "part-0.parquet") -> None:
    target = local_path(url) / folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, target)


def write_json(url: str, folder: str, rows: list[dict]) -> None:
    target = local_path(url) / folder / "part-0.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(json.dumps(row) + "\n" for row in rows))


@pytest.mark.subprocess
def test_hostile_ids_reasons_and_statuses_are_escaped_in_every_report(tmp_path, capsys):
    project = new_project(tmp_path / "repo")
    datasets = project.settings().datasets
    ids = list(HOSTILE)
    count = len(ids)
    write_parquet(
        datasets["embrace.wear_time"],
        "month=2024-03",
        pa.table(
            {
                "ppt_id": ids,
                "dev_id": ids,
                "day": ["2024-03-01"] * count,
                "minutes_worn": [600.0] * count,
                "share_worn": [600 / 1440] * count,
            }
        ),
    )
    write_parquet(
        datasets["embrace.duplicate_log"],
        "stream=eda/month=2024-03",
        pa.table(
            {"ppt_id": ids, "dev_id": ids, "day": ["2024-03-01"] * count, "total_rows": [100] * count}
            | {name: [1] * count for name in ("total_dupes", "perfect", "nan", "unclear")}
        ),
    )
    write_parquet(datasets["embrace.clean"], "stream=eda/date=2024-03-01", pa.table({"ppt_id": ids, "dev_id": ids}))
    write_json(datasets["embrace.rejects"], f"export={EXPORT}/stream=eda", [{"ppt_id": text, "reason": text} for text in ids])
    write_parquet(
        datasets["sensors.curated"],
        "dt=2024-03-01/hour=00",
        pa.table({"sensor_id": ids, "status": ids, "temperature": [1.0] * count}),
    )
    write_json(datasets["sensors.rejects"], "dt=2024-03-01/hour=00", [{"reason": text, "source": text} for text in ids])
    write_json(datasets["stedi.rejects"], "customer_trusted/all", [{"reason": text, "source_file": text} for text in ids])
    merged = local_path(datasets["sitewise.repartitioned"]) / "startYear=2024" / "startMonth=3" / "startDay=1" / "merged_x.avro"
    merged.parent.mkdir(parents=True)
    with merged.open("wb") as handle:
        fastavro.writer(
            handle,
            raw_schema(),
            [{"seriesId": text, "timeInSeconds": 1709251200, "offsetInNanos": 0, "quality": "GOOD"} for text in ids],
        )

    # Values and folders that name no day are left out (as Athena's date projection leaves them), not a crash.
    not_a_day = pa.table({"ppt_id": ["x"], "dev_id": ["x"], "day": ["not a day"], "minutes_worn": [1.0]})
    write_parquet(datasets["embrace.wear_time"], "month=2024-03", not_a_day, name="part-1.parquet")
    write_parquet(datasets["embrace.clean"], "stream=eda/date=someday", pa.table({"ppt_id": ["x"], "dev_id": ["x"]}))
    write_parquet(datasets["sensors.curated"], "dt=2024-13-45/hour=00", pa.table({"sensor_id": ["x"], "status": ["OK"]}))
    write_parquet(datasets["sensors.curated"], "dt=2024-03-01/hour=xx", pa.table({"sensor_id": ["x"], "status": ["OK"]}))
    stray_day = merged.parent.parent.parent.with_name("startYear=twenty") / "startMonth=3" / "startDay=1"
    stray_day.mkdir(parents=True)
    (stray_day / "merged_y.avro").write_bytes(merged.read_bytes())

    for dataset, pictures in (("embrace", 4), ("sensors", 3), ("stedi", 1), ("sitewise", 1)):
        page = written(project, capsys, "--dataset", dataset)
        html = page.read_text(encoding="utf-8")
        dom, found = opened(page, tmp_path / "chromium")
        for text in (html, dom):
            assert "<script" not in text and "<img" not in text and "</svg><" not in text
            assert "\x07" not in text and "\x00" not in text and "\u202e" not in text
        assert html.count("<svg") == html.count("</svg>"), "every picture closes its own SVG only"
        assert not [text for text in ("not a day", "someday", "2024-13-45", "twenty") if text in html]
        assert fetches(html) == [], "the page runs and fetches nothing"
        cells = {cell for section in found.values() for row in (section.rows or []) for cell in row}
        drawn = [key for key, section in found.items() if section.pictures]
        assert len(drawn) >= pictures, (dataset, drawn)
        for text in HOSTILE:
            assert shown(text) in cells, (dataset, text)
