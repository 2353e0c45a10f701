"""config.yml is plain YAML with every key once: duplicates, anchors, aliases and merge keys are errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from job_helpers.control import cli
from job_helpers.control.config import ConfigError, load_settings
from job_helpers.control.config_yaml import StrictYamlError, TooDeepError, load_yaml

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.yml"
MINIMAL = "project: {prefix: p, tag: {key: k, value: v}}\njobs:\n  a: {script: jobs/a.py}\n"


def write(tmp_path: Path, text: str) -> Path:
    config = tmp_path / "config.yml"
    config.write_text(text, encoding="utf-8")
    return config


def test_the_repository_config_loads_with_the_strict_loader():
    assert load_settings(REPO_CONFIG, "local", environ={}).jobs


def test_a_second_profiles_block_is_an_error_naming_both_lines(tmp_path):
    text = MINIMAL + "profiles:\n  local: {lake_root: /tmp/a}\nbuckets: {}\nprofiles:\n  aws: {region: eu-west-1}\n"
    with pytest.raises(ConfigError, match=r"line 7: duplicate key 'profiles' \(first at line 4\): keep one of them"):
        load_settings(write(tmp_path, text), "local", environ={})


@pytest.mark.parametrize(
    "text, line, first, key",
    [
        ("jobs:\n  a:\n    script: x.py\n    arguments:\n      --x: 1\n      --x: 2\n", 6, 5, "--x"),
        ("a: {b: 1, c: 2, b: 3}\n", 1, 1, "b"),
        ("a:\n  - {k: 1}\n  - k: 1\n    k: 2\n", 4, 3, "k"),
        # Keys equal once read: YAML 1.1 reads yes and true as the same boolean, 1 and 0x1 as the same number.
        ("flags:\n  yes: 1\n  true: 2\n", 3, 2, True),
        ("ids:\n  1: a\n  0x1: b\n", 3, 2, 1),
    ],
    ids=["job-arguments", "flow-mapping", "in-a-list", "booleans", "numbers"],
)
def test_duplicate_keys_at_any_depth_are_errors(text, line, first, key):
    with pytest.raises(Exception, match=rf"line {line}: duplicate key {key!r} \(first at line {first}\)"):
        load_yaml(text)


@pytest.mark.parametrize(
    "text, refused",
    [
        ("base: &b {x: 1}\nother: *b\n", r"line 1: anchor &b is not allowed"),
        ("a: [&x 1, 2]\n", r"line 1: anchor &x is not allowed"),
        ("a: *nothing\n", r"line 1: alias \*nothing is not allowed"),
        ("base: {x: 1}\nother:\n  <<: {x: 2}\n  y: 3\n", r"line 3: merge key << is not allowed"),
        ("a: !!set {x, y}\nb: {? [1, 2] : c}\n", r"line 2: a key must be a plain value, not list"),
        ("a: !!python/object/apply:os.system ['touch /tmp/owned']\n", r"could not determine a constructor"),
    ],
    ids=["anchor-and-alias", "anchor-in-a-list", "alias-alone", "merge-key", "list-as-key", "python-object"],
)
def test_anchors_aliases_merge_keys_and_complex_keys_are_refused(text, refused):
    with pytest.raises(Exception, match=refused):
        load_yaml(text)


@pytest.mark.parametrize(
    "text, says",
    [
        ("jobs:\n  j:\n    number_of_workers: 010\n", "line 3: 010 is 8 in YAML 1.1"),
        ("a: [1, 0x10]\n", "line 1: 0x10 is 16 in YAML 1.1"),
        ("a: +0b11\n", "line 1: +0b11 is 3 in YAML 1.1"),
        ("timeout_minutes: 1:30\n", "line 1: 1:30 is 90 in YAML 1.1"),
        ("price: 1:00.5\n", "line 1: 1:00.5 is 60.5 in YAML 1.1"),
    ],
    ids=["octal", "hexadecimal-in-a-list", "signed-binary", "base-60", "base-60-float"],
)
def test_a_number_yaml_reads_in_another_base_than_ten_is_refused(text, says):
    """YAML 1.1 read them silently: ``timeout_minutes: 1:30`` was 90, ``number_of_workers: 010`` eight."""
    with pytest.raises(StrictYamlError, match=re.escape(says) + r" .*write \S+ in decimal digits, or quote it"):
        load_yaml(text)


def test_decimal_numbers_and_quoted_text_are_read_as_written():
    assert load_yaml("a: [0, -0, 10, 1_000, 0.5, 05.5, '010', \"1:30\"]\n") == {"a": [0, 0, 10, 1000, 0.5, 5.5, "010", "1:30"]}


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    return MINIMAL + "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    """Nine levels of ten aliases stand for 10^9 strings; the loader stops at the first anchor."""
    config = write(tmp_path, billion_laughs())
    with pytest.raises(ConfigError) as error:
        load_settings(config, "local", environ={})
    assert str(error.value) == f"{config}: not valid YAML: line 4: anchor &a0 is not allowed (aliases are refused): remove it"


def test_an_alias_in_a_set_value_stays_text(tmp_path):
    settings = load_settings(write(tmp_path, MINIMAL), "local", ["jobs.a.description=*a"], environ={})
    assert settings.jobs["a"].description == "*a"


def test_a_yaml_syntax_error_is_one_line_with_its_position(tmp_path):
    config = write(tmp_path, MINIMAL + "profiles:\n  local: {lake_root: /tmp\n")
    with pytest.raises(ConfigError) as error:
        load_settings(config, "local", environ={})
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{config}: not valid YAML: line 6, column 1:"), message


def block_mappings(levels: int) -> str:
    return "".join(f"{'  ' * level}a:\n" for level in range(levels - 1)) + f"{'  ' * (levels - 1)}a: 1\n"


@pytest.mark.parametrize(
    "deep, line, column",
    [
        # The top-level mapping is level 1 and x's value level 2: level 65 is the 64th bracket.
        ("x: " + "[" * 20_000 + "]" * 20_000, 4, 3 + 64),
        ("x: " + "{a: " * 5_000 + "1" + "}" * 5_000, 4, 4 + 63 * 4),
        ("x:\n" + "".join(f"{'  ' * level}-\n" for level in range(1, 2_000)), 4 + 64, 1 + 2 * 64),
        ("x: " + "[" * 63 + "{a: [", 4, 3 + 64),
    ],
    ids=["flow-lists", "flow-mappings", "block-lists", "unclosed-mix"],
)
def test_a_document_nested_deeper_than_the_limit_is_refused_naming_its_line(tmp_path, deep, line, column):
    """PyYAML composes by recursion: these ended in RecursionError, exit 1, naming nothing."""
    config = write(tmp_path, MINIMAL + deep + "\n")
    with pytest.raises(ConfigError) as error:
        load_settings(config, "local", environ={})
    expected = f"{config}: not valid YAML: line {line}, column {column}: mappings and lists nested deeper than 64 levels"
    assert str(error.value).startswith(expected), error.value


def test_the_nesting_limit_counts_the_top_level_as_one():
    assert str(load_yaml("[" * 64 + "]" * 64)) == "[" * 64 + "]" * 64
    assert load_yaml(block_mappings(64))["a"]["a"]["a"] is not None
    with pytest.raises(TooDeepError, match="line 1, column 65:"):
        load_yaml("[" * 65 + "]" * 65)
    with pytest.raises(TooDeepError, match="line 65, column 129:"):
        load_yaml(block_mappings(65))


def test_a_set_value_nested_too_deep_is_a_config_error_naming_the_key(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, MINIMAL), "local", ["jobs.a.description=" + "[" * 20_000], environ={})
    assert (
        str(error.value)
        == "--set jobs.a.description: line 1, column 65: mappings and lists nested deeper than 64 levels: flatten them"
    )


# Spellings YAML 1.1 reads as something other than text, with what the error says it was read as.
NON_TEXT_KEYS = {
    "yes": "a boolean (true)",
    "Off": "a boolean (false)",
    "on": "a boolean (true)",
    "null": "null",
    "~": "null",
    "1": "a number (1)",
    "0x1f": "a number (31)",
    "1_000": "a number (1000)",
    "2.5": "a number (2.5)",
    ".inf": "a number (inf)",
    "2024-01-01": "a date (2024-01-01)",
}


def repository_config_with(section: str, key: str) -> str:
    """The repository's config.yml with ``key: 1`` written as the first key under the top-level ``section``."""
    text = REPO_CONFIG.read_text(encoding="utf-8")
    if not section:
        return f"{key}: 1\n{text}"
    header = f"\n{section}:\n"
    assert header in text, f"{section} is not a block section of config.yml"
    return text.replace(header, f"{header}  {key}: 1\n", 1)


def block_sections() -> list[str]:
    text = REPO_CONFIG.read_text(encoding="utf-8")
    return [line[:-1] for line in text.splitlines() if line[:1].isalpha() and line.endswith(":")]


def test_a_key_that_is_not_text_is_refused_in_every_section_naming_its_path_and_the_quoted_spelling(tmp_path):
    """``yes:``, ``null:`` or ``1:`` ended in a TypeError in config check; now one message names the key and the fix."""
    sections = ["", *block_sections()]
    assert {"project", "buckets", "datasets", "profiles", "jobs", "stedi", "ingest", "embrace"} <= set(sections)
    spellings = list(NON_TEXT_KEYS.items())
    for index, section in enumerate(sections):
        spelling, read_as = spellings[index % len(spellings)]
        config = write(tmp_path, repository_config_with(section, spelling))
        with pytest.raises(ConfigError) as error:
            load_settings(config, "local", environ={})
        path = f"{section}.{spelling}" if section else spelling
        assert f': key {path} is read as {read_as}, not as text: quote it ("{spelling}":)' in str(error.value)
        assert str(error.value).startswith(f"{config}: line "), error.value


@pytest.mark.parametrize("spelling, read_as", NON_TEXT_KEYS.items(), ids=NON_TEXT_KEYS)
def test_every_non_text_spelling_is_named_with_its_line_at_any_depth(spelling, read_as):
    text = f"jobs:\n  a:\n    script: x.py\n    arguments:\n      --x: 1\n  b:\n    steps: [{{ok: 1}}, {{{spelling}: 2}}]\n"
    with pytest.raises(Exception, match="line 7: key jobs.b.steps\\[1\\]") as error:
        load_yaml(text)
    assert str(error.value).endswith(f'is read as {read_as}, not as text: quote it ("{spelling}":)')


@pytest.mark.parametrize("spelling", ['"yes"', "'null'", "!!str 1", "'2024-01-01'", "yes please", "--from-date"])
def test_quoted_or_plain_text_keys_are_kept_as_text(spelling):
    assert list(load_yaml(f"a:\n  {spelling}: 1\n")["a"]) == [load_yaml(spelling)]


def test_a_non_text_key_in_config_check_is_one_error_line_with_status_2(tmp_path, capsys):
    text = repository_config_with("profiles", "on")
    line = text.splitlines().index("profiles:") + 2
    config = write(tmp_path, text)
    assert cli.main(["--config", str(config), "--profile", "local", "config", "check"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        captured.err
        == f'error: {config}: line {line}: key profiles.on is read as a boolean (true), not as text: quote it ("on":)\n'
    )
