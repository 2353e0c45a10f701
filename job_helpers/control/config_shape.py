"""Where config.yml holds a mapping of keys, so a section written as a list, a number or text is one problem naming it.

The section parsers read their mappings with ``.get``: a ``jobs:`` written as a list, or a job's
``arguments:`` written as one, ended in an AttributeError or TypeError naming nothing. These paths are
checked before any parser runs; ``*`` stands for any one key (a job, a profile, a price region). An
empty section (``jobs:`` with nothing under it) is an empty mapping. A data set's section is checked
to be a mapping here; its package checks its inside (``config_fields.section``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

ANY = "*"
CONTROL_MAPPINGS = (
    "project",
    "project.tag",
    "project.glue_prices",
    "project.glue_prices.*",
    "athena",
    "buckets",
    "datasets",
    "profiles",
    "profiles.*",
    "profiles.*.job_arguments",
    "profiles.*.job_arguments.*",
    "profiles.*.stack",
    "profiles.*.local_runner",
    "jobs",
    "jobs.*",
    "jobs.*.arguments",
    "pipelines",
    "pipelines.*",
)


def mapping_problems(document: Mapping[str, Any], dataset_sections: Iterable[str]) -> list[str]:
    """One problem for each declared path (the control plane's and ``dataset_sections``) that holds no mapping."""
    patterns = [tuple(path.split(".")) for path in (*CONTROL_MAPPINGS, *dataset_sections)]
    problems: list[str] = []
    for pattern in patterns:
        for path, value in _matches(document, pattern, ()):
            if value is not None and not isinstance(value, Mapping):
                kind = "a list" if isinstance(value, list) else repr(value)
                problems.append(f"{'.'.join(path)}: {kind} where a mapping of keys belongs (key: value lines under it)")
    return problems


def _matches(node: Any, pattern: tuple[str, ...], path: tuple[str, ...]) -> Iterable[tuple[tuple[str, ...], Any]]:
    """Each (path, value) of ``node`` that ``pattern`` names; nothing below a value that is not a mapping."""
    if not pattern:
        yield path, node
        return
    if not isinstance(node, Mapping):
        return
    first, rest = pattern[0], pattern[1:]
    keys = list(node) if first == ANY else [first] if first in node else []
    for key in keys:
        yield from _matches(node[key], rest, (*path, str(key)))
