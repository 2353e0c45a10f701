"""Every AWS request the suite makes, checked against the full botocore service model.

botocore validates types and required members before sending, but not lengths, patterns or enum
values; AWS does, so a request that moto accepts can still be refused by the real service. The
suite's autouse fixture (tests/conftest.py) hooks ``before-parameter-build`` on every client and
fails the test whose request breaks the model, naming the operation and the member path. It also
records ``service:Operation`` per call, with whether the project's code or the test made it.
"""

from __future__ import annotations

import datetime
import functools
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import regex

PROJECT_DIRS = tuple(
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), name) + os.sep for name in ("job_helpers", "jobs")
)


@dataclass
class Recorder:
    """Violations since the last reset, and every operation called, by whom."""

    violations: list[str] = field(default_factory=list)
    calls: set[tuple[str, str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> list[str]:
        with self.lock:
            found, self.violations = self.violations, []
        return found

    def on_call(self, params: Any, model: Any, **_: Any) -> None:
        service = model.service_model
        problems = [f"{service.service_name}:{model.name} {problem}" for problem in violations(model.input_shape, params)]
        origin = "code" if _called_from_project() else "test"
        with self.lock:
            self.calls.add((service.signing_name or service.endpoint_prefix, model.name, origin))
            self.violations.extend(problems)


def _called_from_project() -> bool:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.startswith(PROJECT_DIRS):
            return True
        frame = frame.f_back
    return False


SURROGATE_PAIR = regex.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", regex.IGNORECASE)


@functools.cache
def _pattern(pattern: str) -> Any:
    """A model's pattern, to match the whole value as AWS's services do.

    The models write Java regexes: the regex module reads their \\p{…} classes; a UTF-16
    surrogate pair (``\\uD800\\uDC00``) becomes the code point it stands for."""

    def code_point(pair: Any) -> str:
        high, low = int(pair[1], 16), int(pair[2], 16)
        return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"

    return regex.compile(SURROGATE_PAIR.sub(code_point, pattern))


def violations(shape: Any, value: Any, path: str = "") -> Iterator[str]:
    """Each way ``value`` breaks ``shape``: required members, types, lengths, ranges, patterns, enums."""
    if shape is None or getattr(shape, "is_document_type", False):
        return
    kind = shape.type_name
    where = path or "(input)"
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            yield f"{where}: expected a structure, got {type(value).__name__}"
            return
        for name in shape.required_members:
            if name not in value:
                yield f"{_join(path, name)}: required member missing"
        for name, member_value in value.items():
            if name not in shape.members:
                yield f"{_join(path, name)}: not a member of {shape.name}"
                continue
            yield from violations(shape.members[name], member_value, _join(path, name))
    elif kind == "list":
        if not isinstance(value, (list, tuple)):
            yield f"{where}: expected a list, got {type(value).__name__}"
            return
        yield from _length(where, len(value), meta, "items")
        for index, item in enumerate(value):
            yield from violations(shape.member, item, f"{path}[{index}]")
    elif kind == "map":
        if not isinstance(value, dict):
            yield f"{where}: expected a map, got {type(value).__name__}"
            return
        yield from _length(where, len(value), meta, "entries")
        for key, item in value.items():
            yield from violations(shape.key, key, f"{path}(key {key!r})")
            yield from violations(shape.value, item, f"{path}[{key!r}]")
    elif kind == "string":
        if not isinstance(value, str):
            yield f"{where}: expected a string, got {type(value).__name__}"
            return
        yield from _length(where, len(value), meta, "characters")
        if shape.enum and value not in shape.enum:
            yield f"{where}: {value!r} is not one of {sorted(shape.enum)}"
        if "pattern" in meta and _pattern(meta["pattern"]).fullmatch(value) is None:
            yield f"{where}: {value!r} does not match the pattern {meta['pattern']}"
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            yield f"{where}: expected an integer, got {type(value).__name__}"
            return
        yield from _range(where, value, meta)
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            yield f"{where}: expected a number, got {type(value).__name__}"
            return
        yield from _range(where, value, meta)
    elif kind == "boolean":
        if not isinstance(value, bool):
            yield f"{where}: expected a boolean, got {type(value).__name__}"
    elif kind == "blob":
        if isinstance(value, (bytes, bytearray, str)):
            size = len(value.encode("utf-8") if isinstance(value, str) else value)
            yield from _length(where, size, meta, "bytes")
        elif not hasattr(value, "read"):
            yield f"{where}: expected bytes or a file, got {type(value).__name__}"
    elif kind == "timestamp":
        if not isinstance(value, (datetime.datetime, datetime.date, str, int, float)):
            yield f"{where}: expected a timestamp, got {type(value).__name__}"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _length(where: str, size: int, meta: dict, unit: str) -> Iterator[str]:
    if "min" in meta and size < meta["min"]:
        yield f"{where}: {size} {unit}, fewer than the minimum {meta['min']}"
    if "max" in meta and size > meta["max"]:
        yield f"{where}: {size} {unit}, more than the maximum {meta['max']}"


def _range(where: str, value: float, meta: dict) -> Iterator[str]:
    if "min" in meta and value < meta["min"]:
        yield f"{where}: {value} is below the minimum {meta['min']}"
    if "max" in meta and value > meta["max"]:
        yield f"{where}: {value} is above the maximum {meta['max']}"
