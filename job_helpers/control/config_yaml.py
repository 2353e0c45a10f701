"""The one YAML reader of config.yml and of ``--set`` values: plain YAML only, every key once.

PyYAML's safe loader keeps the last of two equal keys, so a second ``profiles:`` block silently
dropped the first; and it expands aliases, so a few lines of nested ``*a`` references (the
"billion laughs") build a structure too large to walk. A configuration needs neither: this loader
refuses a key that appears twice in one mapping (at any depth, naming both lines), every anchor
and alias (``&a``, ``*a``) and merge keys (``<<:``), before anything is built from them.

Every key of config.yml is a name, but YAML 1.1 reads ``yes:``, ``on:``, ``null:``, ``1:`` or
``2024-01-01:`` as a boolean, null, number or date, and each name check downstream then ended in a
TypeError. Once the document is built, every key that is not text is refused, naming its path of
keys, its line and the quoted spelling to write instead.

YAML 1.1 also reads a plain ``010`` as octal 8, ``0x10`` as 16, ``0b10`` as 2 and ``1:30`` as 90 (base
60): ``timeout_minutes: 1:30`` meant 90 minutes and ``number_of_workers: 010`` eight workers, without a
word. Such a number is refused, naming its line and the decimal to write (or quotes, for text).

PyYAML composes nested collections by recursion, so a line of 20,000 ``[`` ended in Python's
RecursionError naming nothing. A configuration is a few levels deep: a collection nested deeper than
``MAX_DEPTH`` levels is refused where it opens, before it is composed.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"
INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
# How YAML 1.1 writes a number in another base than ten: 0-prefixed octal, 0x, 0b, or base 60 (1:30).
OTHER_BASE = re.compile(r"[-+]?(0[0-9_]*[0-9]|0[xXbB]|[0-9][0-9_]*:)")
# Levels of nested mappings and lists a document may have (config.yml uses six).
MAX_DEPTH = 64


class StrictYamlError(yaml.YAMLError):
    """A construct config.yml does not allow; the message names the line and the fix."""


class TooDeepError(StrictYamlError):
    """A collection nested deeper than ``MAX_DEPTH`` levels."""


class NonTextKeyError(StrictYamlError):
    """A mapping key YAML reads as something other than text (``yes:``, ``null:``, ``1:``)."""


class _StrictLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise StrictYamlError(f"line {event.start_mark.line + 1}: alias *{event.anchor} is not allowed: write the value out")
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise StrictYamlError(
                f"line {event.start_mark.line + 1}: anchor &{anchor} is not allowed (aliases are refused): remove it"
            )
        if not isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            return super().compose_node(parent, index)
        if self.depth == MAX_DEPTH:
            mark = event.start_mark
            raise TooDeepError(
                f"line {mark.line + 1}, column {mark.column + 1}: mappings and lists nested deeper than {MAX_DEPTH} "
                "levels: flatten them"
            )
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == MERGE_TAG:
                raise StrictYamlError(f"line {line}: merge key << is not allowed: write the keys out")
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first_line.get(key)
            except TypeError:
                raise StrictYamlError(f"line {line}: a key must be a plain value, not {type(key).__name__}") from None
            if seen is not None:
                raise StrictYamlError(f"line {line}: duplicate key {key!r} (first at line {seen}): keep one of them")
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """The document in ``text``; raises ``yaml.YAMLError`` (``StrictYamlError`` for what is refused)."""
    loader = _StrictLoader(text)  # a SafeLoader subclass: no Python objects
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        document = loader.construct_document(node)
        _refuse_non_text_keys(loader, node, "")
        _refuse_other_bases(loader, node)
        return document
    finally:
        loader.dispose()


def _refuse_non_text_keys(loader: _StrictLoader, node: Node, where: str) -> None:
    """Walk the composed document, which (unlike the built one) keeps each key's spelling and line."""
    if isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_non_text_keys(loader, item, f"{where}[{index}]")
    if not isinstance(node, MappingNode):
        return
    for key_node, value_node in node.value:
        path = f"{where}.{key_node.value}" if where else key_node.value
        if key_node.tag != STR_TAG:
            read_as = _read_as(loader.construct_object(key_node))
            raise NonTextKeyError(
                f"line {key_node.start_mark.line + 1}: key {path} is read as {read_as}, not as text: "
                f"quote it ({json.dumps(key_node.value)}:)"
            )
        _refuse_non_text_keys(loader, value_node, path)


def _read_as(value: Any) -> str:
    """What YAML made of a key, in words: ``a boolean (true)``, ``null``, ``a number (1)``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"a date ({value.isoformat()})"
    return f"a {type(value).__name__} value"


def describe_yaml_error(error: yaml.YAMLError) -> str:
    """One line for a YAML error: PyYAML's own messages span several lines with a caret."""
    if isinstance(error, StrictYamlError):
        return str(error)
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        context = f"{error.context}, " if error.context else ""
        return f"line {mark.line + 1}, column {mark.column + 1}: {context}{error.problem}"
    return " ".join(str(error).split())


def _refuse_other_bases(loader: _StrictLoader, node: Node) -> None:
    """Refuse a value YAML 1.1 reads as a number in another base than ten (see the module's docstring)."""
    if isinstance(node, SequenceNode):
        for item in node.value:
            _refuse_other_bases(loader, item)
    elif isinstance(node, MappingNode):
        for _, value_node in node.value:
            _refuse_other_bases(loader, value_node)
    elif isinstance(node, ScalarNode) and node.style is None and node.tag in (INT_TAG, FLOAT_TAG):
        other_base = OTHER_BASE.match(node.value) if node.tag == INT_TAG else ":" in node.value
        if other_base:
            value = loader.construct_object(node)
            raise StrictYamlError(
                f"line {node.start_mark.line + 1}: {node.value} is {value!r} in YAML 1.1 (octal, hexadecimal, binary or "
                f"base 60); write {value!r} in decimal digits, or quote it ('{node.value}') for text"
            )
