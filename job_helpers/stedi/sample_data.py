"""Generated STEDI landing data for the demo and the tests, shaped like the shared starter data.

Besides the ordinary cases it injects the ones the pipeline must handle: customers who did not
consent but have readings, consenting customers without readings, readings of unknown users and
devices, a malformed line and a record without its key fields, one customer registered again
under an upper-cased email, another whose phone reports every other reading in upper case, and two
customers with a reading at the same millisecond (which a join on time alone pairs across them).
Same seed, same files.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime

from job_helpers.storage import Storage, join

START_MS = int(datetime(2022, 6, 18, tzinfo=UTC).timestamp() * 1000)
DAY_MS = 86_400_000
DAYS = 2
READINGS_PER_CUSTOMER = 12
FIRST = ("Ana", "Ben", "Chen", "Dara", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo")
LAST = ("Khatib", "Lopez", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Singh", "Wu")


STRANGERS = 3
BAD_LINES = 3


def write_stedi_landing(storage: Storage, urls: dict[str, str], customers: int, seed: int) -> dict:
    """Write the three landing data sets (one file per day, customers in two files) and say what was written.

    ``urls`` maps ``customer``, ``accelerometer`` and ``step_trainer`` to landing folder URLs.
    Returns the number of lines written per data set and of each injected case.
    """
    if customers < 100:
        raise ValueError(f"customers={customers}: give at least 100, so the injected bad lines stay under the 1% reject share")
    rng = random.Random(seed)
    people = _people(rng, customers)
    no_readings = {person["email"] for index, person in enumerate(people) if index % 7 == 3}
    # Customer 1 registered again: same device, its email upper-cased and padded, updated a day later.
    again = {**people[1], "email": f" {people[1]['email'].upper()} ", "lastUpdateDate": people[1]["lastUpdateDate"] + DAY_MS}
    readings = _Readings()
    readings.of_customers(rng, [person for person in people if person["email"] not in no_readings], people)
    readings.of_strangers(rng)
    readings.broken()

    customer_lines = [json.dumps(person) for person in [*people, again]]
    half = len(customer_lines) // 2
    _write(storage, urls["customer"], "customer-1.json", customer_lines[:half])
    _write(storage, urls["customer"], "customer-2.json", customer_lines[half:])
    for day in range(DAYS):
        _write(storage, urls["accelerometer"], f"accelerometer-day{day + 1}.json", readings.accelerometer[day])
        _write(storage, urls["step_trainer"], f"step_trainer-day{day + 1}.json", readings.step_trainer[day])
    return {
        "customer": len(customer_lines),
        "accelerometer": sum(map(len, readings.accelerometer.values())),
        "step_trainer": sum(map(len, readings.step_trainer.values())),
        "non_consenting": sum(1 for person in people if person["shareWithResearchAsOfDate"] is None),
        "without_readings": len(no_readings),
        "unknown_users": STRANGERS,
        "bad_lines": BAD_LINES,
        "case_variants": 2,
        "shared_instants": 1,
    }


def _people(rng: random.Random, customers: int) -> list[dict]:
    """The customers, every fifth without research consent."""
    people = [_customer(rng, index) for index in range(customers)]
    for person in people[::5]:
        person["shareWithResearchAsOfDate"] = None
    return people


class _Readings:
    """The accelerometer and step-trainer landing lines, by day."""

    def __init__(self) -> None:
        self.accelerometer: dict[int, list[str]] = {day: [] for day in range(DAYS)}
        self.step_trainer: dict[int, list[str]] = {day: [] for day in range(DAYS)}

    def add(self, day: int, accelerometer: dict, step_trainer: dict) -> None:
        self.accelerometer[day].append(json.dumps(accelerometer))
        self.step_trainer[day].append(json.dumps(step_trainer))

    def of_customers(self, rng: random.Random, readers: list[dict], people: list[dict]) -> None:
        """``READINGS_PER_CUSTOMER`` of each reader: customer 2's phone reports every other one under the
        email upper-cased, and customer 6's first is at the millisecond of customer 4's first."""
        shouting = people[2]["email"]
        first_instants: dict[str, int] = {}
        for person in readers:
            for number in range(READINGS_PER_CUSTOMER):
                day = rng.randrange(DAYS)
                instant = START_MS + day * DAY_MS + rng.randrange(DAY_MS)
                if person is people[6] and number == 0:
                    instant = first_instants[people[4]["email"]]
                    day = (instant - START_MS) // DAY_MS
                first_instants.setdefault(person["email"], instant)
                axes = {axis: float(rng.choice((-1, 0, 1))) for axis in "xyz"}
                user = person["email"].upper() if person["email"] == shouting and number % 2 else person["email"]
                step = {"sensorReadingTime": instant, "serialNumber": person["serialNumber"]}
                self.add(
                    day, {"user": user, "timestamp": instant, **axes}, {**step, "distanceFromObject": rng.randrange(200, 260)}
                )

    def of_strangers(self, rng: random.Random) -> None:
        """Readings of unknown users and devices on the first day."""
        for number in range(STRANGERS):
            instant = START_MS + rng.randrange(DAY_MS)
            accelerometer = {"user": f"stranger{number}@example.com", "timestamp": instant, "x": 0.0, "y": 1.0, "z": 0.0}
            device = str(uuid.UUID(int=rng.getrandbits(128)))
            self.add(0, accelerometer, {"sensorReadingTime": instant, "serialNumber": device, "distanceFromObject": 230})

    def broken(self) -> None:
        """``BAD_LINES`` on the second day: cut-off JSON, a reading without its key fields, not JSON at all."""
        self.accelerometer[1].append('{"user": "broken@example.com", "timestamp": 16555')
        self.accelerometer[1].append(json.dumps({"x": 1.0, "y": 0.0, "z": 0.0}))
        self.step_trainer[1].append("not json at all")


def _customer(rng: random.Random, index: int) -> dict:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    registered = START_MS - rng.randrange(30) * DAY_MS
    return {
        "customerName": f"{first} {last}",
        "email": f"{first}.{last}{index}@example.com",
        "phone": "8015551212",
        "birthDay": rng.choice(("1399-01-01", "1960-05-02", "1987-11-23", "2001-03-14")),
        "serialNumber": str(uuid.UUID(int=rng.getrandbits(128))),
        "registrationDate": registered,
        "lastUpdateDate": registered,
        "shareWithResearchAsOfDate": registered,
        "shareWithPublicAsOfDate": registered if rng.random() < 0.5 else None,
        "shareWithFriendsAsOfDate": registered if rng.random() < 0.5 else None,
    }


def _write(storage: Storage, folder: str, name: str, lines: list[str]) -> None:
    storage.write_text(join(folder, name), "\n".join(lines) + "\n")
