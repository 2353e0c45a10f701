"""How many records a block's decompressed data holds, decoded against the writer's schema.

A container block declares its record count in its header, and readers trust it: a count that
is too large makes them read past the data (the file is unreadable), one that is too small makes
them skip records silently. The count is therefore checked against the data itself: the records
are walked field by field, as a reader would decode them but without building any value, and
the block is sound only if exactly the declared number of records ends exactly at the end of its
data.

The schema becomes a small program (``compile_schema``) that one loop interprets per record.
The loop is compiled with numba (``jit``), so walking a record costs tens of nanoseconds, not
the microseconds of decoding it in Python; its steps (a varint, an optional, a block count…) are
closures that numba inlines into the loop, so naming them costs nothing per record. Every record must take at least one byte, so the walk
is bounded by the data whatever the count claims; schemas whose records (or array items) can be
empty, or that refer to themselves, are refused, as their counts could not be checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from job_helpers.sitewise.jit import compiled

# Operations of a program; an operand, where there is one, follows its operation.
# The first six start with a zigzag varint.
INT, LONG, BYTES, ENUM, UNION, REPEAT, JUMP, AGAIN, BOOLEAN, FLOAT, DOUBLE, FIXED, OPTIONAL = range(1, 14)
# BYTES: a length, then that many bytes (strings too). FIXED n, ENUM n (symbols). UNION k, then the
# k program counters of its branches, each branch ending with JUMP to after the last. REPEAT end:
# the block counts of an array or map (its items follow); AGAIN start: the next item or block.
# OPTIONAL end null: a union of null and one other type, the commonest (``null`` is the index byte,
# 0 or 2, that selects null: then on to ``end``, else into the other type's code that follows).

PRIMITIVE_OPS = {"boolean": BOOLEAN, "int": INT, "long": LONG, "float": FLOAT, "double": DOUBLE, "bytes": BYTES, "string": BYTES}
PRIMITIVE_MIN_BYTES = {"null": 0, "boolean": 1, "int": 1, "long": 1, "float": 4, "double": 8, "bytes": 1, "string": 1}
MAX_PROGRAM = 1 << 16

# Why a record does not decode (``Scan.problem``).
SOUND, ENDS_INSIDE, BAD_VARINT, BAD_INT, NEGATIVE_LENGTH, BAD_BOOLEAN, BAD_ENUM, BAD_UNION, BAD_ITEM_BYTES = range(9)
PROBLEMS = {
    ENDS_INSIDE: "the data ends inside it",
    BAD_VARINT: "a variable-length number runs past 10 bytes or 64 bits",
    BAD_INT: "an int does not fit in 32 bits",
    NEGATIVE_LENGTH: "a length or byte size is negative",
    BAD_BOOLEAN: "a boolean is neither 0 nor 1",
    BAD_ENUM: "an enum index is out of range",
    BAD_UNION: "a union index is out of range",
    BAD_ITEM_BYTES: "an array or map block's byte size differs from its items'",
}


class UncheckableSchema(ValueError):
    """A schema whose records' counts could not be checked against their bytes; says why."""


@dataclass(frozen=True)
class RecordProgram:
    """A schema compiled for ``scan``: its operations and how deeply arrays and maps nest."""

    ops: np.ndarray
    depth: int


class Scan(NamedTuple):
    """What a walk found: ``records`` whole records ending at byte ``end``; if ``problem`` is not
    SOUND, the next record (starting at ``end``) fails to decode at byte ``at``."""

    records: int
    end: int
    problem: int = SOUND
    at: int = 0


def compile_schema(schema: Any) -> RecordProgram:
    """The program that walks one record of a parsed schema (``fastavro.parse_schema``)."""
    compiler = _Compiler()
    if compiler.min_bytes(schema) == 0:
        raise UncheckableSchema("a record of this schema can be encoded in 0 bytes")
    compiler.emit(schema)
    return RecordProgram(np.array(compiler.ops, dtype=np.int32), compiler.max_depth)


class _Compiler:
    def __init__(self) -> None:
        self.ops: list[int] = []
        self.named: dict[str, Any] = {}
        self.open: set[str] = set()
        self.depth = self.max_depth = 0

    def resolve(self, schema: Any) -> Any:
        """The definition a named reference stands for; definitions met on the way are remembered."""
        if isinstance(schema, str) and schema not in PRIMITIVE_MIN_BYTES:
            if schema not in self.named:
                raise UncheckableSchema(f"type {schema!r} is not defined")
            return self.named[schema]
        if isinstance(schema, dict) and schema.get("type") in ("record", "error", "enum", "fixed"):
            self.named.setdefault(schema["name"], schema)
        return schema

    def min_bytes(self, schema: Any) -> int:
        schema = self.resolve(schema)
        if isinstance(schema, list):
            return 1 + min(self.min_bytes(branch) for branch in schema)
        if isinstance(schema, str):
            return PRIMITIVE_MIN_BYTES[schema]
        kind = schema["type"]
        if kind in ("record", "error"):
            return self._inside(schema["name"], lambda: sum(self.min_bytes(f["type"]) for f in schema["fields"]))
        if kind == "fixed":
            return int(schema["size"])
        if kind == "array" and self.min_bytes(schema["items"]) == 0:
            raise UncheckableSchema("an array's items can be encoded in 0 bytes")
        if kind == "map":
            self.min_bytes(schema["values"])
        return 1 if kind in ("enum", "array", "map") else self.min_bytes(kind)

    def _inside(self, name: str, work: Callable[[], int]) -> int:
        if name in self.open:
            raise UncheckableSchema(f"record {name!r} contains itself")
        self.open.add(name)
        try:
            return work()
        finally:
            self.open.discard(name)

    def emit(self, schema: Any) -> None:
        if len(self.ops) > MAX_PROGRAM:
            raise UncheckableSchema(f"the schema needs more than {MAX_PROGRAM} operations to check")
        schema = self.resolve(schema)
        if isinstance(schema, list):
            self._emit_union(schema)
        elif isinstance(schema, str):
            if schema != "null":
                self.ops.append(PRIMITIVE_OPS[schema])
        elif schema["type"] in ("record", "error"):
            for field in schema["fields"]:
                self.emit(field["type"])
        elif schema["type"] == "fixed":
            self.ops += [FIXED, int(schema["size"])]
        elif schema["type"] == "enum":
            self.ops += [ENUM, len(schema["symbols"])]
        elif schema["type"] in ("array", "map"):
            self._emit_repeat(schema)
        else:
            self.emit(schema["type"])  # a primitive with a logical type

    def _emit_union(self, branches: list[Any]) -> None:
        """Branches that encode nothing (null) go straight to the end; the last one falls through to it."""
        if len(branches) == 2 and "null" in branches:
            start = len(self.ops)
            null = branches.index("null")
            self.ops += [OPTIONAL, 0, 2 * null]
            self.emit(branches[1 - null])
            self.ops[start + 1] = len(self.ops)
            return
        start = len(self.ops)
        self.ops += [UNION, len(branches)] + [0] * len(branches)
        to_end = []
        for number, branch in enumerate(branches):
            before = len(self.ops)
            self.emit(branch)
            if len(self.ops) == before:
                to_end.append(start + 2 + number)
                continue
            self.ops[start + 2 + number] = before
            if number < len(branches) - 1:
                to_end.append(len(self.ops) + 1)
                self.ops += [JUMP, 0]
        for slot in to_end:
            self.ops[slot] = len(self.ops)

    def _emit_repeat(self, schema: dict[str, Any]) -> None:
        start = len(self.ops)
        self.ops += [REPEAT, 0]
        self.depth += 1
        self.max_depth = max(self.max_depth, self.depth)
        if schema["type"] == "map":
            self.ops.append(BYTES)
            self.emit(schema["values"])
        else:
            self.emit(schema["items"])
        self.depth -= 1
        self.ops += [AGAIN, start]
        self.ops[start + 1] = len(self.ops)


def scan(program: RecordProgram, data: Any, limit: int) -> Scan:
    """Walk up to ``limit`` records from the start of ``data`` (bytes-like), stopping at its end."""
    return Scan(*compiled(_walk)(np.frombuffer(data, dtype=np.uint8), program.ops, program.depth, limit))


def _walk(data: Any, ops: Any, depth_needed: int, limit: int) -> tuple[int, int, int, int]:  # pragma: no cover - runs compiled
    """Records walked, where the last whole one ends, and why the next fails (SOUND if none did).

    Each step below is a closure numba inlines into the one compiled loop; a step returns the new
    state (program counter, byte position, open arrays) and SOUND or why the record fails there.
    """
    size = data.shape[0]
    length = ops.shape[0]
    stack = np.empty((max(1, depth_needed), 2), dtype=np.int64)  # per open array or map: items left, where they end

    def continued(raw: Any, position: int) -> tuple[Any, int, int, int]:
        """The rest of a varint after its first byte (``raw`` holds its bits): bits, last shift, position, problem."""
        shift = 0
        while True:
            shift += 7
            if position >= size:
                return raw, shift, position, ENDS_INSIDE
            byte = data[position]
            position += 1
            if shift == 63 and byte > 1:
                return raw, shift, position, BAD_VARINT
            raw |= np.uint64(byte & 0x7F) << np.uint64(shift)
            if byte < 0x80:
                return raw, shift, position, SOUND

    def number(op: int, position: int) -> tuple[Any, int, int]:
        """A zigzag varint: one byte (the usual case) or up to ten; an int's must fit in 32 bits."""
        if position >= size:
            return np.int64(0), position, ENDS_INSIDE
        byte = data[position]
        position += 1
        if byte < 0x80:
            return np.int64(byte >> 1) ^ -np.int64(byte & 1), position, SOUND
        raw, shift, position, problem = continued(np.uint64(byte & 0x7F), position)
        if problem != SOUND:
            return np.int64(0), position, problem
        if op != LONG and op != BYTES and op != REPEAT and (shift > 28 or raw >= np.uint64(1 << 32)):
            return np.int64(0), position, BAD_INT
        half = np.int64(raw >> np.uint64(1))
        return (-half - 1 if raw & np.uint64(1) else half), position, SOUND

    def optional(pc: int, position: int) -> tuple[int, int, int]:
        """OPTIONAL: the index byte of a union of null and one other type; on to its end or into the other type."""
        if position >= size:
            return pc, position, ENDS_INSIDE
        byte = data[position]
        position += 1
        if byte >= 0x80:  # the index written with needless continuation bytes: 0x80… then 0x00
            while position < size and data[position] == 0x80:
                position += 1
            if position >= size:
                return pc, position, ENDS_INSIDE
            if data[position] != 0:
                return pc, position, BAD_UNION
            position += 1
            byte &= 0x7F
        if byte == ops[pc + 2]:
            return ops[pc + 1], position, SOUND
        if byte == 2 - ops[pc + 2]:
            return pc + 3, position, SOUND
        return pc, position, BAD_UNION

    def block_bytes(position: int) -> tuple[Any, int, int]:
        """Where a block's items end, from the byte size that follows a negative block count."""
        if position >= size:
            return np.int64(0), position, ENDS_INSIDE
        byte = data[position]
        position += 1
        raw = np.uint64(byte & 0x7F)
        if byte >= 0x80:
            raw, _, position, problem = continued(raw, position)
            if problem != SOUND:
                return np.int64(0), position, problem
        if raw & np.uint64(1):
            return np.int64(0), position, NEGATIVE_LENGTH
        items_end = position + np.int64(raw >> np.uint64(1))
        if items_end > size:
            return np.int64(0), position, ENDS_INSIDE
        return items_end, position, SOUND

    def repeat(pc: int, count: Any, position: int, depth: int) -> tuple[int, int, int, int]:
        """REPEAT: a block count; negative, it is followed by the block's byte size. An empty block ends the items."""
        if count == 0:
            return ops[pc + 1], position, depth, SOUND
        # Every item takes at least a byte, so a count larger than the bytes left cannot be right.
        if count > size - position or count < position - size:
            return pc, position, depth, ENDS_INSIDE
        items_end = np.int64(-1)
        if count < 0:
            count = -count
            items_end, position, problem = block_bytes(position)
            if problem != SOUND:
                return pc, position, depth, problem
        stack[depth, 0] = count
        stack[depth, 1] = items_end
        return pc + 2, position, depth + 1, SOUND

    def numbered(op: int, pc: int, value: Any, position: int, depth: int) -> tuple[int, int, int, int]:
        """What the number just read means to INT, LONG, BYTES (a length), UNION, ENUM (an index) and REPEAT."""
        if op == LONG or op == INT:
            return pc + 1, position, depth, SOUND
        if op == BYTES:
            if value < 0:
                return pc, position, depth, NEGATIVE_LENGTH
            if value > size - position:
                return pc, position, depth, ENDS_INSIDE
            return pc + 1, position + value, depth, SOUND
        if op == UNION:
            if value < 0 or value >= ops[pc + 1]:
                return pc, position, depth, BAD_UNION
            return ops[pc + 2 + value], position, depth, SOUND
        if op == ENUM:
            if value < 0 or value >= ops[pc + 1]:
                return pc, position, depth, BAD_ENUM
            return pc + 2, position, depth, SOUND
        return repeat(pc, value, position, depth)

    def again(pc: int, position: int, depth: int) -> tuple[int, int, int]:
        """AGAIN: the next item of the open array or map, or past its end (checked against its byte size)."""
        top = depth - 1
        stack[top, 0] -= 1
        if stack[top, 0] > 0:
            return ops[pc + 1] + 2, depth, SOUND
        if stack[top, 1] >= 0 and position != stack[top, 1]:
            return pc, depth, BAD_ITEM_BYTES
        return ops[pc + 1], depth - 1, SOUND

    def fixed_width(op: int, pc: int, position: int) -> tuple[int, int, int]:
        """BOOLEAN (one byte, 0 or 1); FLOAT, DOUBLE, FIXED: a known width."""
        if op == BOOLEAN:
            if position >= size:
                return pc, position, ENDS_INSIDE
            if data[position] > 1:
                return pc, position, BAD_BOOLEAN
            return pc + 1, position + 1, SOUND
        width = 4 if op == FLOAT else 8 if op == DOUBLE else ops[pc + 1]
        if position + width > size:
            return pc, position, ENDS_INSIDE
        return pc + (1 if op != FIXED else 2), position + width, SOUND

    def step(pc: int, position: int, depth: int) -> tuple[int, int, int, int]:
        """One operation of the program."""
        op = ops[pc]
        if op == OPTIONAL:
            pc, position, problem = optional(pc, position)
            return pc, position, depth, problem
        if op <= REPEAT:
            value, position, problem = number(op, position)
            if problem != SOUND:
                return pc, position, depth, problem
            return numbered(op, pc, value, position, depth)
        if op == JUMP:
            return ops[pc + 1], position, depth, SOUND
        if op == AGAIN:
            pc, depth, problem = again(pc, position, depth)
            return pc, position, depth, problem
        pc, position, problem = fixed_width(op, pc, position)
        return pc, position, depth, problem

    records = 0
    position = 0
    while records < limit and position < size:
        start = position
        pc = 0
        depth = 0
        while pc < length:
            pc, position, depth, problem = step(pc, position, depth)
            if problem != SOUND:
                return records, start, problem, position
        records += 1
    return records, position, SOUND, 0
