"""Raw objects that are hard to read, and chunk edges where readings could be lost or emptied."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from job_helpers.sensors import json_lines
from job_helpers.sensors.read import Chunk, folder_hour, list_raw_files, raw_chunk, read_raw_file
from job_helpers.sensors.transform import hour_grids
from job_helpers.sensors.write import NoReadings, export_chunk
from job_helpers.storage import Storage

DAY = date(2024, 3, 1)
HOUR3 = datetime(2024, 3, 1, 3, tzinfo=UTC)


def reading(sensor: str | None, seconds: float, temperature: float = 20.0) -> str:
    fields = {
        "sensor_id": sensor,
        "temperature": temperature,
        "status": "OK",
        "event_time": int((HOUR3.timestamp() + seconds) * 1000),
    }
    return json.dumps({k: v for k, v in fields.items() if v is not None})


def write(root: Path, name: str, body: bytes) -> str:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path.as_uri()


def test_lines_pyarrow_cannot_take_become_rejects_and_the_rest_is_kept(tmp_path):
    lines = [
        reading("s1", 1).encode(),
        (reading("s1", 2) + reading("s1", 3)).encode(),  # two objects on one line
        b'{"sensor_id": "s1", "temperature": 20.0, "status": "OK", "event_time": 100000000000000000000}',
        b'{"sensor_id": "s\xff1", "temperature": 20.0, "status": "OK", "event_time": 1709262000000}',
        reading(None, 4).encode(),
        *[reading("s1", 5 + n).encode() for n in range(60)],
    ]
    url = write(tmp_path, "2024/03/01/03/firehose-1", b"\n".join(lines) + b"\n")
    usable, rejects = read_raw_file(Storage(), url, folder_hour(url))
    assert usable.num_rows == 61
    assert sorted(r.reason for r in rejects) == ["malformed JSON, or a field of the wrong type"] * 3 + [
        "missing field: sensor_id"
    ]
    assert {r.arrival for r in rejects} == {int(HOUR3.timestamp())}


@pytest.mark.parametrize("piece_bytes", [1, 200, 10_000])
def test_an_object_read_in_pieces_gives_the_readings_and_rejects_of_reading_it_whole(tmp_path, monkeypatch, piece_bytes):
    """Pieces end at line ends: a bad line costs a second parse of its piece only, and whatever the piece
    size (a line each, a few lines, the whole object) the same readings in the same order and the same rejects."""
    lines = [reading("s1", n, 20.0 + n).encode() for n in range(40)]
    lines[3] = b'{"sensor_id": "s1", "temperature": "warm", "status": "OK"'
    lines[25] = b"   "
    lines[31] = b"not json at all"
    body = b"\r\n".join(lines[:10]) + b"\n" + b"\n".join(lines[10:])  # no newline at the end
    whole_readings, whole_rejects = json_lines.parse_readings(body, "u", 0)
    monkeypatch.setattr(json_lines, "PIECE_BYTES", piece_bytes)
    readings, rejects = json_lines.parse_readings(body, "u", 0)
    assert readings.to_pylist() == whole_readings.to_pylist() and readings.num_rows == 37
    assert [reading["temperature"] for reading in readings.to_pylist()][:4] == [20.0, 21.0, 22.0, 24.0]
    assert rejects == whole_rejects and [r.record for r in rejects] == [lines[3].decode() + "\r", "not json at all"]


def test_late_readings_of_an_hour_without_its_own_folder_are_kept(tasks, tmp_path):
    raw = tmp_path / "raw"
    write(raw, "2024/03/01/04/firehose-1", (reading("s1", 3590) + "\n" + reading("s1", 3599) + "\n").encode())
    write(raw, "2024/03/01/04/_temporary/part-0", b"not json\n")
    files = list_raw_files(Storage(), raw.as_uri() + "/", DAY, DAY)
    assert [url.rsplit("/", 1)[1] for url in files] == ["firehose-1"]
    chunk = raw_chunk(Storage(), raw.as_uri() + "/", DAY, DAY, tasks=24)
    summary = export_chunk(tasks, Storage(), chunk, hour_grids, (tmp_path / "c").as_uri() + "/", (tmp_path / "r").as_uri() + "/")
    assert (summary.readings_in, summary.rows_out, summary.rejects) == (2, 10, 0)
    assert [p.parent.name for p in (tmp_path / "c").rglob("*.parquet")] == ["hour=03"]


def test_a_chunk_with_nothing_to_read_stops_before_emptying_its_hours(tasks, tmp_path):
    curated = tmp_path / "c" / "dt=2024-03-01" / "hour=05" / "part-00000.parquet"
    curated.parent.mkdir(parents=True)
    curated.write_bytes(b"kept")
    with pytest.raises(NoReadings, match="2024-03-01..2024-03-01"):
        chunk = Chunk((tmp_path / "raw").as_uri() + "/", DAY, DAY, [])
        export_chunk(tasks, Storage(), chunk, hour_grids, (tmp_path / "c").as_uri() + "/", (tmp_path / "r").as_uri() + "/")
    assert curated.read_bytes() == b"kept"


def test_blank_lines_and_a_clean_object_read_the_same(tmp_path):
    lines = [reading("s1", n) for n in range(5)]
    clean = write(tmp_path, "2024/03/01/03/a", ("\n".join(lines) + "\n").encode())
    spaced = write(tmp_path, "2024/03/01/03/b", ("\n\n".join(lines) + "\n\n  \n").encode())
    read = [read_raw_file(Storage(), url, folder_hour(url)) for url in (clean, spaced)]
    assert read[0][0].equals(read[1][0]) and read[0][0].num_rows == 5
    assert read[0][1] == read[1][1] == []
