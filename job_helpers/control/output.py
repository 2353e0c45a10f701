"""Everything the CLI shows goes through here, and text from data is shown as text, never interpreted.

Keys, values, paths and error messages come from data and users. Rich would read them as markup
(``a[i]b`` printed as ``ab``, ``[/bold]`` crashed ``query`` and ``verify``) and emoji codes (``:x:``),
and a terminal obeys the control characters in them: ``\\x1b]52;c;…\\x07`` writes the clipboard,
``\\x1b[2J`` clears the screen, ``\\r`` prints over a line, U+202E reverses the text after it.

So every console here has markup, emoji and highlighting off, and every string passes through
``visible`` on its way to the terminal: ``TextConsole.render_str`` is where rich turns any string
(printed, a table cell or title) into text, and ``text``, ``status`` and ``ProgressText`` cover the
places rich builds text itself. Errors go to standard error as one ``error:`` line (``error``);
data meant for scripts (JSON, YAML, plain lines) goes to standard output through ``data`` and
``json_data``, so standard output carries data only. Warnings the command's code logs without a
logging set up go through ``visible`` too (``show_log_warnings_as_text``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import unicodedata
from typing import Any

from rich.console import Console, RenderableType
from rich.progress import ProgressColumn, Task
from rich.status import Status
from rich.text import Text

# Piped output is as wide as its data: a table cut or folded at 80 columns is no use to a script.
PIPED_WIDTH = 100_000
# Control (C0, DEL, C1), format (bidi overrides and isolates, zero-width, tags), surrogates left by
# undecodable file names, and the line and paragraph separators.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def visible(value: object) -> str:
    """``value`` as text with every control or invisible formatting character written out (``\\x1b``, ``\\u202e``)."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    return "".join(_escape(char) if unicodedata.category(char) in HIDDEN_CATEGORIES else char for char in text)


def _escape(char: str) -> str:
    if char in SHORT_ESCAPES:
        return SHORT_ESCAPES[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def text(value: object, style: str = "") -> Text:
    """A piece of rich text holding ``value`` shown as text, in ``style``."""
    return Text(visible(value), style=style)


class TextConsole(Console):
    """A rich Console that shows every string as text: no markup, emoji or highlighting, hidden characters visible.

    Its width is the terminal's, or unlimited when its stream is piped (``COLUMNS``, if set, wins).
    """

    def __init__(self, *, stderr: bool = False) -> None:
        stream = sys.stderr if stderr else sys.stdout
        piped = not _isatty(stream) and not os.environ.get("COLUMNS")
        super().__init__(
            stderr=stderr,
            markup=False,
            emoji=False,
            highlight=False,
            soft_wrap=True,
            width=PIPED_WIDTH if piped else None,
        )

    def render_str(self, text: str, **options: Any) -> Text:
        options.update(markup=False, emoji=False, highlight=False)
        return super().render_str(visible(text), **options)

    def status(self, status: RenderableType, **options: Any) -> Status:
        return super().status(text(status) if isinstance(status, str) else status, **options)


class ProgressText(ProgressColumn):
    """A progress column of text (``"{task.description}"``, ``"{task.fields[files]} files"``), shown as text."""

    def __init__(self, template: str, style: str = "") -> None:
        self.template, self.style = template, style
        super().__init__()

    def render(self, task: Task) -> Text:
        return text(self.template.format(task=task), self.style)


def error_text(message: object) -> Text:
    """``error: <message>``: the first line of the message, then any lines it lists (each problem of a config)."""
    # Split at newlines only: splitlines() would also break at \r, \x85 or U+2028 inside data, which are shown instead.
    first, *rest = [line.rstrip() for line in str(message).split("\n") if line.strip()] or ["failed"]
    shown = Text("error:", style="bold red") + Text(" ") + text(first)
    for line in rest:
        shown += Text("\n") + text(line)
    return shown


def error(message: object) -> None:
    """Say on standard error what failed and what to fix."""
    TextConsole(stderr=True).print(error_text(message))


def warning(message: object) -> None:
    TextConsole(stderr=True).print(Text("warning:", style="yellow") + Text(" ") + text(message))


def data(lines: str) -> None:
    """Data for scripts on standard output, line by line as given (nothing wrapped or styled), hidden characters visible."""
    sys.stdout.write("".join(visible(line) + "\n" for line in lines.removesuffix("\n").split("\n")))
    sys.stdout.flush()


def json_data(value: Any, indent: int | None = 2) -> None:
    """``value`` as JSON on standard output; JSON escapes control and non-ASCII characters itself."""
    data(json.dumps(value, indent=indent, default=str))


class _VisibleLastResort(logging.Handler):
    """Python's handler of last resort (warnings of a process that set up no logging), with data shown as text."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(visible(record.getMessage()) + "\n")
        except Exception:
            self.handleError(record)


def show_log_warnings_as_text() -> None:
    """Warnings logged by the code a command runs (a skipped file's name) reach standard error through ``visible``."""
    logging.lastResort = _VisibleLastResort(logging.WARNING)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
