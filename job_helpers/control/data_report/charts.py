"""Pictures of a data report as static SVG, drawn by matplotlib (a make-command dependency, never a job's).

Text stays text in the SVG (``svg.fonttype: none``), so the page is small and searchable, and
matplotlib escapes it as XML. Every label from data goes through ``shown`` first, which turns
control and formatting characters (line breaks, bidi overrides) into visible ``\\uXXXX`` escapes;
mathtext is off, so a ``$`` in an id is a dollar sign. Output is deterministic: same data, same bytes.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import rc_context
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "data-report",
    "text.parse_math": False,
    "font.size": 9,
    "font.family": "sans-serif",
    "axes.spines.top": False,
    "axes.spines.right": False,
}
WIDTH = 9.5  # inches at 72 points: about the page's width
ROW = 0.22  # inches per heatmap row or bar
PALETTE = ("#3949ab", "#e53935", "#fdd835", "#43a047", "#8e24aa", "#00897b", "#6d4c41", "#757575")
NO_DATA = "#bdbdbd"
MAX_LABEL = 40
NAMESPACES = re.compile(r' xmlns(?::xlink)?="[^"]*"')
UPRIGHT_CHARACTERS = 90  # column labels of this many characters in all fit upright under a chart
ANNOTATED_CELLS = 120  # heatmaps this small print each cell's value


def shown(text: object) -> str:
    """A label as it can be shown: control and formatting characters written as ``\\uXXXX``."""
    return "".join(f"\\u{ord(char):04x}" if unicodedata.category(char)[0] == "C" else char for char in str(text))


def _short(text: object) -> str:
    label = shown(text)
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def _rotation(labels: Sequence[str]) -> int:
    """Upright column labels while they fit side by side, else vertical."""
    return 0 if sum(len(label) + 2 for label in labels) <= UPRIGHT_CHARACTERS else 90


def _svg(figure: Figure) -> str:
    """The figure as an ``<svg>`` element to inline in HTML: no XML prolog, no metadata, no namespace URLs."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata=dict.fromkeys(("Date", "Creator", "Format", "Type")))
    text = buffer.getvalue()
    return NAMESPACES.sub("", text[text.index("<svg") :], count=2)


def heatmap(
    rows: Sequence[str],
    columns: Sequence[str],
    values: np.ndarray,
    *,
    colour_label: str,
    vmax: float | None = None,
    marked: np.ndarray | None = None,
    mark_label: str = "",
    title: str = "",
) -> str:
    """Rows × columns, colour = value; NaN cells are drawn as "no data"; ``marked`` cells get a cross."""
    with rc_context(STYLE):
        height = max(1.6, ROW * len(rows) + 1.3)
        figure = Figure(figsize=(WIDTH, height))
        axes = figure.subplots()
        colours = ListedColormap(
            ["#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"]
        )
        colours.set_bad(NO_DATA)
        masked = np.ma.masked_invalid(values.astype(float))
        top = vmax if vmax is not None else (float(np.nanmax(values)) if np.isfinite(values).any() else 1.0)
        image = axes.imshow(masked, aspect="auto", cmap=colours, vmin=0, vmax=top or 1.0, interpolation="nearest")
        axes.set_yticks(range(len(rows)), [_short(row) for row in rows])
        step = max(1, len(columns) // 31)
        names = [_short(column) for column in columns[::step]]
        axes.set_xticks(range(0, len(columns), step), names, rotation=_rotation(names))
        axes.tick_params(length=0)
        if values.size <= ANNOTATED_CELLS:
            for (row, column), value in np.ndenumerate(values):
                if np.isfinite(value):
                    dark = value > 0.6 * (top or 1.0)
                    axes.text(
                        column, row, f"{value:,.0f}", ha="center", va="center", fontsize=7, color="white" if dark else "#212121"
                    )
        if marked is not None and marked.any():
            ys, xs = np.nonzero(marked)
            axes.scatter(xs, ys, marker="x", s=14, color="#c62828", label=mark_label)
            axes.legend(loc="upper left", bbox_to_anchor=(1.12, 1.0), frameon=False)
        bar = figure.colorbar(image, ax=axes, fraction=0.03, pad=0.01)
        bar.set_label(colour_label)
        axes.set_title(
            f"{title}{' (' if title else ''}grey: no data{')' if title else ''}", loc="left", fontsize=8, color="#616161"
        )
        return _svg(figure)


def bars(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    axis_label: str,
    horizontal: bool = True,
    stacked: bool = True,
    colours: Mapping[str, str] | None = None,
) -> str:
    """One bar per label, one segment (stacked) or bar (side by side) per series, with a legend."""
    with rc_context(STYLE):
        count = max(len(labels), 1)
        if horizontal:
            figure = Figure(figsize=(WIDTH, max(1.6, ROW * count * (1 if stacked else len(series)) + 1.0)))
        else:
            figure = Figure(figsize=(WIDTH, 3.2))
        axes = figure.subplots()
        positions = np.arange(len(labels), dtype=float)
        _draw_bars(axes, positions, series, horizontal=horizontal, stacked=stacked, colours=colours or {})
        whole = all(float(value).is_integer() for values in series.values() for value in values)
        _label_bars(axes, positions, [_short(label) for label in labels], axis_label, horizontal=horizontal, whole=whole)
        if len(series) > 1:
            axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        return _svg(figure)


def _draw_bars(
    axes,
    positions: np.ndarray,
    series: Mapping[str, Sequence[float]],
    *,
    horizontal: bool,
    stacked: bool,
    colours: Mapping[str, str],
) -> None:
    """Each series' bars: stacked on the ones before, or side by side within the label's slot."""
    base = np.zeros(len(positions))
    width = 0.8 if stacked else 0.8 / max(len(series), 1)
    for index, (name, values) in enumerate(series.items()):
        data = np.asarray(values, dtype=float)
        offset = positions if stacked else positions - 0.4 + width * (index + 0.5)
        colour = colours.get(name, PALETTE[index % len(PALETTE)])
        if horizontal:
            axes.barh(offset, data, height=width, left=base if stacked else None, color=colour, label=shown(name))
        else:
            axes.bar(offset, data, width=width, bottom=base if stacked else None, color=colour, label=shown(name))
        if stacked:
            base = base + data


def _label_bars(axes, positions: np.ndarray, names: list[str], axis_label: str, *, horizontal: bool, whole: bool) -> None:
    """Labels along the bars' axis (at most about 31 when upright), the value axis named and in whole steps for counts."""
    if horizontal:
        axes.set_yticks(positions, names)
        axes.invert_yaxis()
        axes.set_xlabel(axis_label)
        axes.xaxis.set_major_locator(MaxNLocator(integer=whole))
    else:
        step = max(1, len(names) // 31)
        axes.set_xticks(positions[::step], names[::step], rotation=_rotation(names[::step]))
        axes.set_ylabel(axis_label)
        axes.yaxis.set_major_locator(MaxNLocator(integer=whole))
