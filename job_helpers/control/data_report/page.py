"""A data report as one self-contained HTML page: each picture, its one-line reading, the numbers behind it.

Inline CSS and SVG, no script, nothing fetched, so the page opens from a bucket or a mail. Every
text from data goes through ``charts.shown`` (control characters made visible) and is
HTML-escaped; the SVG comes from matplotlib, which escapes its own text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from html import escape
from typing import Any

from job_helpers.control.data_report.charts import shown

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#212121;max-width:1000px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 4px}.meta{color:#616161;margin:0 0 12px}
.reading{margin:0 0 8px}.empty{color:#8d6e63;font-style:italic}
svg{max-width:100%;height:auto}svg text{font-family:inherit}
.numbers{max-height:360px;overflow:auto;margin-top:6px}
table{border-collapse:collapse;font-size:12px}td,th{border-bottom:1px solid #e0e0e0;padding:3px 6px;text-align:left}
th{position:sticky;top:0;background:#fafafa}td.num{text-align:right;font-variant-numeric:tabular-nums}
"""


def as_day(text: object) -> date | None:
    """A ``YYYY-MM-DD`` value as a date; None for anything else (a stray folder, a bad value), which
    the report leaves out, as Athena's date projection does."""
    try:
        return date.fromisoformat(str(text)) if len(str(text)) == 10 else None
    except ValueError:
        return None


def positions(items: Sequence[Any]) -> dict[Any, int]:
    """Each item's row or column in a picture."""
    return {item: index for index, item in enumerate(items)}


@dataclass(frozen=True)
class Window:
    """The dates a report covers: ``first``..``last``, either open (all dates)."""

    first: date | None = None
    last: date | None = None

    def holds(self, day: date | None) -> bool:
        """Whether a day is in the window; a value that is no day never is."""
        if day is None:
            return False
        return (self.first is None or day >= self.first) and (self.last is None or day <= self.last)

    def overlaps(self, first: date, last: date) -> bool:
        return (self.first is None or last >= self.first) and (self.last is None or first <= self.last)

    def days(self, found: Sequence[date]) -> list[date]:
        """Every day of the window, bounded by the days found where the window is open."""
        if not found and (self.first is None or self.last is None):
            return []
        first = self.first or min(found)
        last = self.last or max(found)
        return [date.fromordinal(ordinal) for ordinal in range(first.toordinal(), last.toordinal() + 1)]

    @property
    def label(self) -> str:
        if self.first is None and self.last is None:
            return "all dates"
        return f"{self.first or 'the first date'} to {self.last or 'the last date'}"


@dataclass(frozen=True)
class Numbers:
    """The table under a picture: a header and rows of text or numbers."""

    header: tuple[str, ...]
    rows: Sequence[tuple[Any, ...]] = ()


@dataclass(frozen=True)
class Picture:
    """One picture of a report. ``svg`` is None when there was nothing to draw; ``reading`` then says why."""

    key: str
    title: str
    reading: str
    svg: str | None
    numbers: Numbers


def render(title: str, window: Window, where: str, pictures: Sequence[Picture], now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>{_text(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_text(title)}</h1>",
        f"<p class=meta>{_text(window.label)}; generated {now:%Y-%m-%d %H:%M} UTC from {_text(where)}.</p>",
    ]
    for picture in pictures:
        parts.append(f"<section data-picture='{_text(picture.key)}'><h2>{_text(picture.title)}</h2>")
        css = "reading" if picture.svg is not None else "reading empty"
        parts.append(f"<p class='{css}'>{_text(picture.reading)}</p>")
        if picture.svg is not None:
            parts.append(picture.svg)
        if picture.numbers.rows:
            parts.append(_table(picture.numbers))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _table(numbers: Numbers) -> str:
    head = "".join(f"<th>{_text(name)}</th>" for name in numbers.header)
    rows = "".join("<tr>" + "".join(_cell(value) for value in row) + "</tr>" for row in numbers.rows)
    return f"<div class=numbers><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"


def _cell(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return f"<td>{'' if value is None else ('yes' if value else 'no')}</td>"
    if isinstance(value, int):
        return f"<td class=num>{value:,}</td>"
    if isinstance(value, float):
        return f"<td class=num>{value:,.1f}</td>"
    return f"<td>{_text(value)}</td>"


def _text(value: object) -> str:
    return escape(shown(value))


def percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"
