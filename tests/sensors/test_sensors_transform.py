"""The second grid against values worked out by hand: gaps, single readings, busy seconds, boundaries."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from job_helpers.sensors.transform import READING_SCHEMA, second_grid

T0 = datetime(2024, 3, 1, 10, 0, 0, tzinfo=UTC)
MIDNIGHT = datetime(2024, 3, 2, tzinfo=UTC)


def ms(moment: datetime, seconds: float = 0.0) -> int:
    return int(moment.timestamp() * 1000 + round(seconds * 1000))


def grid(readings: list[tuple]) -> list[tuple]:
    """Run the transform and return (sensor, 'HH:MM:SS', temperature, status, dt, hour) sorted by sensor and time."""
    table = second_grid(pa.Table.from_pylist([dict(zip(READING_SCHEMA.names, r)) for r in readings], schema=READING_SCHEMA))
    return sorted(
        (r["sensor_id"], f"{r['time']:%H:%M:%S}", r["temperature"], r["status"], r["time"].date().isoformat(), f"{r['time']:%H}")
        for r in table.to_pylist()
    )


def test_gap_is_interpolated_linearly_and_status_carried_forward():
    rows = grid([("s1", 10.0, "OK", ms(T0, 0.2)), ("s1", 20.0, "WARNING", ms(T0, 4.7))])
    assert rows == [
        ("s1", "10:00:00", 10.0, "OK", "2024-03-01", "10"),
        ("s1", "10:00:01", 12.5, "OK", "2024-03-01", "10"),
        ("s1", "10:00:02", 15.0, "OK", "2024-03-01", "10"),
        ("s1", "10:00:03", 17.5, "OK", "2024-03-01", "10"),
        ("s1", "10:00:04", 20.0, "WARNING", "2024-03-01", "10"),
    ]


def test_error_is_carried_through_a_gap_until_the_next_bucket():
    rows = grid(
        [("s1", 150.0, "ERROR", ms(T0)), ("s1", 120.0, "OK", ms(T0, 3)), ("s1", 90.0, "WARNING", ms(T0, 4))],
    )
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("10:00:00", 150.0, "ERROR"),
        ("10:00:01", 140.0, "ERROR"),
        ("10:00:02", 130.0, "ERROR"),
        ("10:00:03", 120.0, "OK"),
        ("10:00:04", 90.0, "WARNING"),
    ]


def test_a_single_reading_gives_one_row_with_its_own_values():
    rows = grid([("s1", 42.125, "WARNING", ms(T0, 7.999))])
    assert rows == [("s1", "10:00:07", 42.125, "WARNING", "2024-03-01", "10")]


def test_readings_in_one_second_are_averaged_and_the_worst_status_kept():
    rows = grid(
        [
            ("s1", 10.0, "OK", ms(T0, 0.1)),
            ("s1", 14.0, "ERROR", ms(T0, 0.9)),
            ("s1", 12.0, "WARNING", ms(T0, 0.5)),
            ("s1", 18.0, "OK", ms(T0, 2.0)),
            ("s1", 17.0, "OK", ms(T0, 2.3)),
        ],
    )
    # Second 0: mean 12.0, ERROR; second 2: mean 17.5, OK; second 1 halfway between.
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("10:00:00", 12.0, "ERROR"),
        ("10:00:01", 14.75, "ERROR"),
        ("10:00:02", 17.5, "OK"),
    ]


def test_windows_end_at_hour_and_day_boundaries_without_bridging_them():
    rows = grid(
        [
            ("s1", 30.0, "OK", ms(MIDNIGHT, -3600 - 1)),  # 22:59:59, alone in hour 22
            ("s1", 10.0, "OK", ms(MIDNIGHT, -2.5)),  # 23:59:57.5
            ("s1", 16.0, "WARNING", ms(MIDNIGHT, -0.001)),  # 23:59:59.999
            ("s1", 40.0, "OK", ms(MIDNIGHT, 1)),  # 00:00:01 the next day
            ("s1", 50.0, "ERROR", ms(MIDNIGHT, 3)),
        ],
    )
    assert rows == [
        ("s1", "00:00:01", 40.0, "OK", "2024-03-02", "00"),
        ("s1", "00:00:02", 45.0, "OK", "2024-03-02", "00"),
        ("s1", "00:00:03", 50.0, "ERROR", "2024-03-02", "00"),
        ("s1", "22:59:59", 30.0, "OK", "2024-03-01", "22"),
        ("s1", "23:59:57", 10.0, "OK", "2024-03-01", "23"),
        ("s1", "23:59:58", 13.0, "OK", "2024-03-01", "23"),
        ("s1", "23:59:59", 16.0, "WARNING", "2024-03-01", "23"),
    ]


def test_sensors_are_gridded_independently_and_input_order_does_not_matter():
    readings = [
        ("a", 10.0, "OK", ms(T0)),
        ("b", 100.0, "OK", ms(T0, 1)),
        ("a", 20.0, "OK", ms(T0, 2)),
        ("b", 70.0, "ERROR", ms(T0, 4)),
        ("a", 20.0, "OK", ms(T0, 2.5)),
    ]
    forward = grid(readings)
    assert grid(list(reversed(readings))) == forward
    assert [(r[0], r[1], r[2], r[3]) for r in forward] == [
        ("a", "10:00:00", 10.0, "OK"),
        ("a", "10:00:01", 15.0, "OK"),
        ("a", "10:00:02", 20.0, "OK"),
        ("b", "10:00:01", 100.0, "OK"),
        ("b", "10:00:02", 90.0, "OK"),
        ("b", "10:00:03", 80.0, "OK"),
        ("b", "10:00:04", 70.0, "ERROR"),
    ]


@pytest.mark.parametrize("temperatures", [(0.1, 0.2, 0.3), (1e-3, 1e3, 7.77)])
def test_the_mean_of_a_busy_second_does_not_depend_on_row_order(temperatures):
    first = grid([("s", t, "OK", ms(T0, 0.1 * n)) for n, t in enumerate(temperatures)])
    last = grid([("s", t, "OK", ms(T0, 0.1 * n)) for n, t in enumerate(reversed(temperatures))])
    assert first == last
    assert first[0][2] == pytest.approx(sum(temperatures) / 3, rel=1e-12)
