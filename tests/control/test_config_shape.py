"""A section written as a list, a number or text is one problem naming its key, not an AttributeError or TypeError."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from job_helpers.control.config import DATASET_SECTIONS, ConfigError, load_settings
from job_helpers.control.config_shape import CONTROL_MAPPINGS

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.yml"
ENVIRON = {"GLUE_ROLE_ARN": "arn:aws:iam::123456789012:role/glue"}
# What a section is wrongly written as, and how the problem shows it.
NOT_MAPPINGS = [([1, 2], "a list"), (5, "5"), ("text", "'text'"), (True, "True")]


def repository_document() -> dict:
    return yaml.safe_load(REPO_CONFIG.read_text(encoding="utf-8"))


def with_value(document: dict, path: str, value: object) -> dict:
    changed = copy.deepcopy(document)
    node = changed
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    return changed


def mapping_paths(node: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if not isinstance(node, dict):
        return []
    return [path, *(found for key, value in node.items() for found in mapping_paths(value, (*path, str(key))))]


def declared(path: tuple[str, ...]) -> bool:
    patterns = [tuple(pattern.split(".")) for pattern in (*CONTROL_MAPPINGS, *DATASET_SECTIONS)]
    return any(len(p) == len(path) and all(a in ("*", b) for a, b in zip(p, path)) for p in patterns)


def test_every_mapping_the_control_plane_reads_is_declared():
    """A nested section added to config.yml without a line in CONTROL_MAPPINGS fails here (data sets check their own insides)."""
    owned = ("datasets", *DATASET_SECTIONS)
    paths = [path for path in mapping_paths(repository_document()) if path and path[0] not in owned or len(path) == 1]
    assert [".".join(path) for path in paths if not declared(path)] == []


def test_a_section_that_is_no_mapping_is_named_in_every_section(tmp_path):
    document = repository_document()
    paths = [
        "project",
        "project.tag",
        "project.glue_prices",
        "project.glue_prices.us-east-1",
        "athena",
        "buckets",
        "datasets",
        "profiles",
        "profiles.aws",
        "profiles.aws.job_arguments",
        "profiles.aws.job_arguments.sitewise_repartition",
        "profiles.aws.stack",
        "profiles.aws.local_runner",
        "jobs",
        "jobs.stedi_customer_trusted",
        "jobs.stedi_customer_trusted.arguments",
        "pipelines",
        "pipelines.stedi",
        *DATASET_SECTIONS,
    ]
    config = tmp_path / "config.yml"
    for index, path in enumerate(paths):
        value, shown = NOT_MAPPINGS[index % len(NOT_MAPPINGS)]
        config.write_text(yaml.safe_dump(with_value(document, path, value)), encoding="utf-8")
        with pytest.raises(ConfigError) as refused:
            load_settings(config, "aws", environ=ENVIRON)
        assert f"\n  {path}: {shown} where a mapping of keys belongs" in str(refused.value), (path, str(refused.value))
    # Inside a data set's section its package names the key (ingest.subject_map ended in an AttributeError).
    config.write_text(yaml.safe_dump(with_value(document, "ingest.subject_map", [1, 2])), encoding="utf-8")
    with pytest.raises(ConfigError, match="\n  ingest.subject_map: expected a mapping: file on local; store and its place"):
        load_settings(config, "aws", environ=ENVIRON)


def test_an_empty_section_is_an_empty_mapping_and_a_refused_choice_of_another_kind_is_a_problem(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(with_value(repository_document(), "pipelines", None)), encoding="utf-8")
    assert load_settings(config, "local", environ=ENVIRON).pipelines == {}
    config.write_text(yaml.safe_dump(with_value(repository_document(), "stedi.output_format", 5)), encoding="utf-8")
    with pytest.raises(ConfigError, match="stedi.output_format: 5 is not one of parquet, json"):
        load_settings(config, "local", environ=ENVIRON)
