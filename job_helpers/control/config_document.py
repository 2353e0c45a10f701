"""config.yml as written, then ``${VAR}`` expanded and ``--set dotted.key=value`` overrides applied; not yet checked."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from job_helpers.config_keys import ConfigError
from job_helpers.control.config_yaml import NonTextKeyError, TooDeepError, describe_yaml_error, load_yaml

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def read_document(path: Path, overrides: Iterable[str], environ: Mapping[str, str]) -> dict:
    """config.yml's mapping with ${VAR} expanded and the overrides applied."""
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(f"{path}: no such file; run commands from the repository root or pass --config") from error
    except NonTextKeyError as error:
        raise ConfigError(f"{path}: {error}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {describe_yaml_error(error)}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    document = _expand(raw, environ, "")
    for override in overrides:
        _apply_override(document, override)
        _let_job_argument_override_win(document, override)
    return document


def _expand(value: Any, environ: Mapping[str, str], key: str) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, environ, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, environ, key) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ and environ[name] != "":
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{key}: environment variable {name} is not set; set it or write ${{{name}:-default}}")

    return ENV_REFERENCE.sub(substitute, value)


def _apply_override(document: dict, override: str) -> None:
    dotted, sep, text = override.partition("=")
    if not sep or not dotted:
        raise ConfigError(f"--set {override!r}: expected dotted.key=value")
    node = document
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted}: {part!r} holds a value, not a section")
        node = child
    if len(parts) > 2 and parts[-2] == "arguments" or _holds_comment_mark(text):
        node[parts[-1]] = text
        return
    try:
        value = load_yaml(text) if text else ""
    except TooDeepError as error:
        raise ConfigError(f"--set {dotted}: {error}") from error
    except yaml.YAMLError:
        value = text
    node[parts[-1]] = value if _typed_by_yaml(value, text) else text


def _typed_by_yaml(value: Any, text: str) -> bool:
    """Whether YAML's reading of a ``--set`` value replaces the text typed: a number, boolean or date, or text
    written as YAML (quoted, or tagged ``!!str``). Read as plain text, YAML would rewrite it without a word:
    ``--- x`` is ``x``, ``|`` is empty, lines are folded into one, spaces around it dropped."""
    if isinstance(value, str):
        return text.lstrip().startswith(("'", '"', "!!"))
    return not isinstance(value, (dict, list)) and value is not None


def _holds_comment_mark(text: str) -> bool:
    """YAML reads an unquoted `` #`` as the start of a comment and drops the rest (``/Users/Jane Doe #2/key``
    would become ``/Users/Jane Doe``): a value typed on the command line keeps every character instead."""
    return "#" in text and not text.lstrip().startswith(("'", '"'))


def _let_job_argument_override_win(document: dict, override: str) -> None:
    """``--set jobs.J.arguments.A=V`` beats ``profiles.P.job_arguments.J.A``, which would otherwise be merged over it."""
    parts = override.partition("=")[0].split(".")
    if len(parts) != 4 or parts[0] != "jobs" or parts[2] != "arguments":
        return
    for options in (document.get("profiles") or {}).values():
        job_arguments = ((options or {}).get("job_arguments") or {}).get(parts[1])
        if isinstance(job_arguments, dict):
            job_arguments.pop(parts[3], None)
