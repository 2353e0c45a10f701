"""The one YAML reader of config.yml and of ``--set`` values: plain YAML only, every key once.

PyYAML's safe loader keeps the last of two equal keys, so a second ``profiles:`` block silently
dropped the first; and it expands aliases, so a few lines of nested ``*a`` references (the
"billion laughs") build a structure too large to walk. A configuration needs neither: this loader
refuses a key that appears twice in one mapping (at any depth, naming both lines), every anchor
and alias (``&a``, ``*a``) and merge keys (``<<:``), before anything is built from them.

PyYAML composes nested collections by recursion, so a line of 20,000 ``[`` ended in Python's
RecursionError naming nothing. A configuration is a few levels deep: a collection nested deeper than
``MAX_DEPTH`` levels is refused where it opens, before it is composed.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node

MERGE_TAG = "tag:yaml.org,2002:merge"
# Levels of nested mappings and lists a document may have (config.yml uses six).
MAX_DEPTH = 64


class StrictYamlError(yaml.YAMLError):
    """A construct config.yml does not allow; the message names the line and the fix."""


class TooDeepError(StrictYamlError):
    """A collection nested deeper than ``MAX_DEPTH`` levels."""


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
    return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no Python objects


def describe_yaml_error(error: yaml.YAMLError) -> str:
    """One line for a YAML error: PyYAML's own messages span several lines with a caret."""
    if isinstance(error, StrictYamlError):
        return str(error)
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        context = f"{error.context}, " if error.context else ""
        return f"line {mark.line + 1}, column {mark.column + 1}: {context}{error.problem}"
    return " ".join(str(error).split())
