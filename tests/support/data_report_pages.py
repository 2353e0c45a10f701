"""A project in a temporary folder for the data-report tests: its lake, jobs run in this process, pages read back."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

from job_helpers.control import cli
from job_helpers.control.config import Settings, load_settings
from job_helpers.control.pipeline import job_argv, load_script
from tests.support.browser import chromium

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Project:
    """A copy of config.yml beside a link to sql/, with its own lake, build folder and STEDI key."""

    root: Path

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def overrides(self) -> list[str]:
        return [f"stedi.pseudonym_key_file={self.root / 'pseudonym.key'}", f"ingest.subject_map.file={self.root / 'map.json'}"]

    def settings(self, profile: str = "local", environ: dict[str, str] | None = None) -> Settings:
        return load_settings(
            self.root / "config.yml", profile, self.overrides, environ={"LAKE_ROOT": str(self.lake), **(environ or {})}
        )

    def run_job(self, name: str, first: str | None = None, last: str | None = None, **replace: str) -> None:
        """Run a job's script in this process on the suite's SparkSession, with config's arguments."""
        job = self.settings().job(name)
        argv = job_argv(job)
        for option, value in replace.items():
            argv[argv.index(f"--{option.replace('_', '-')}") + 1] = value
        dates = ["--from-date", first, "--to-date", last] if first and last else []
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("JOB_HELPERS_RUNTIME", "local")
            load_script(REPO / job.script).main([*argv, *dates])

    def cli(self, *arguments: str, profile: str = "local") -> int:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("LAKE_ROOT", str(self.lake))
            overrides = [item for override in self.overrides for item in ("--set", override)]
            return cli.main(["--config", str(self.root / "config.yml"), "--profile", profile, *overrides, *arguments])


def new_project(root: Path) -> Project:
    root.mkdir(parents=True)
    shutil.copy(REPO / "config.yml", root / "config.yml")
    (root / "sql").symlink_to(REPO / "sql", target_is_directory=True)
    key = root / "pseudonym.key"
    key.write_text("data-report-test-key")
    key.chmod(0o600)
    return Project(root)


@dataclass
class Section:
    """One picture as the browser shows it: its reading, whether it drew, and its table's cells as text."""

    reading: str = ""
    pictures: int = 0
    header: list[str] | None = None
    rows: list[list[str]] | None = None

    def table(self) -> list[dict[str, str]]:
        assert self.header is not None and self.rows is not None, "the picture has no table"
        return [dict(zip(self.header, row, strict=True)) for row in self.rows]


class _Sections(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, Section] = {}
        self.current: Section | None = None
        self.cell: list[str] | None = None
        self.row: list[str] | None = None
        self.in_reading = False
        self.svg_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section" and found.get("data-picture"):
            self.current = self.sections.setdefault(found["data-picture"] or "", Section())
        elif self.current is None:
            return
        elif tag == "svg":
            self.current.pictures += self.svg_depth == 0
            self.svg_depth += 1
        elif tag == "p" and "reading" in (found.get("class") or ""):
            self.in_reading = True
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if self.current is None:
            return
        if tag == "svg":
            self.svg_depth -= 1
        elif tag == "p":
            self.in_reading = False
        elif tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append("".join(self.cell))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            if self.current.header is None:
                self.current.header, self.current.rows = self.row, []
            else:
                assert self.current.rows is not None
                self.current.rows.append(self.row)
            self.row = None
        elif tag == "section":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)
        elif self.in_reading and self.current is not None:
            self.current.reading += data


class _Fetches(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "img", "iframe", "link", "object", "embed", "foreignobject"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            inline = (value or "").startswith(("#", "data:image/png;base64,"))
            if name.endswith("href") and not inline or name in ("src", "srcset") or name.startswith("on"):
                self.found.append(f"{tag} {name}={value}")
            if "url(" in (value or "") and "url(#" not in (value or ""):
                self.found.append(f"{tag} {name}={value}")

    def handle_data(self, data: str) -> None:
        pass


def fetches(html: str) -> list[str]:
    """Elements and attributes of a page that would run or fetch something (scripts, images, links, handlers).

    References inside the page (``#id``) and images embedded as data (matplotlib's heatmap pixels) fetch nothing."""
    parser = _Fetches()
    parser.feed(html)
    style = "".join(re.findall(r"<style>(.*?)</style>", html, re.DOTALL))
    return parser.found + re.findall(r"@import|url\((?!#)", style)


def sections(html: str) -> dict[str, Section]:
    parser = _Sections()
    parser.feed(html)
    return parser.sections


def opened(page: Path, profile: Path) -> tuple[str, dict[str, Section]]:
    """The page's DOM as headless Chromium builds it, and its pictures."""
    dom = chromium("--dump-dom", page.as_uri(), profile=profile)
    return dom, sections(dom)


def written(project: Project, capsys: pytest.CaptureFixture, *arguments: str, profile: str = "local") -> Path:
    """Run data-report through the CLI; the page it wrote (the line it printed last: the jobs run in this
    process leave their log handler on standard output)."""
    assert project.cli("data-report", *arguments, profile=profile) == 0
    printed = capsys.readouterr().out.strip()
    page = Path(printed.splitlines()[-1])
    assert page.parent == project.root / "build" / "reports" and page.is_file(), printed
    assert not list(page.parent.glob(".*partial"))
    return page


def number(text: str) -> int:
    return int(text.replace(",", ""))
