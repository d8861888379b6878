"""What the command prints: rich tables on a terminal, aligned plain text otherwise.

Every subcommand prints through one :class:`Output`, so that piping a command into a
file or another program gives plain, stable text (no colour codes, no box drawing),
and a terminal gets rich's tables. rich is imported only when a terminal needs it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import IO, Any

__all__ = ["Output", "age", "fmt", "size"]


def fmt(value: Any) -> str:
    """A cell's text: floats with 6 significant digits, None empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    if isinstance(value, (list, dict)):
        import json

        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def age(seconds: float | None) -> str:
    """``42s``, ``3m05s``, ``2h10m``, ``3d04h`` (empty for None)."""
    if seconds is None:
        return ""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def size(count: float) -> str:
    """``512 B``, ``1.5 kB``, ``12.3 MB``..."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"  # pragma: no cover


_STYLES = {
    "done": "green",
    "complete": "green",
    "failed": "bold red",
    "error": "bold red",
    "running": "yellow",
    "in progress": "yellow",
    "interrupted": "magenta",
}


class Output:
    """Prints lines and tables to ``stream`` (stdout), richly when it is a terminal.

    Args:
        stream: where to print.
        rich: force rich output on or off (default: when ``stream`` is a terminal).
    """

    def __init__(self, stream: IO[str] | None = None, rich: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        isatty = getattr(self.stream, "isatty", None)
        self.rich = bool(isatty and isatty()) if rich is None else rich
        self._console: Any = None

    @property
    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False, soft_wrap=False)
        return self._console

    def line(self, text: str = "", style: str | None = None) -> None:
        """One line of text (``style`` is a rich style, ignored on plain output)."""
        if self.rich:
            from rich.text import Text

            self.console.print(Text(text, style=style or ""))
        else:
            self.stream.write(text + "\n")

    def heading(self, text: str) -> None:
        if self.rich:
            self.line(text, "bold")
        else:
            self.line(text)

    def bar(self, counts: dict[str, int], width: int = 30) -> str | Any:
        """A progress bar of done / failed / in progress over total."""
        total = counts.get("total") or 0
        parts = []
        used = 0
        for state, char, style in (
            ("done", "#", "green"),
            ("failed", "x", "red"),
            ("inprogress", ">", "yellow"),
        ):
            n = round(width * counts.get(state, 0) / total) if total else 0
            n = min(n, width - used)
            used += n
            parts.append((char * n if not self.rich else "█" * n, style))
        parts.append(("." * (width - used) if not self.rich else "░" * (width - used), "dim"))
        if not self.rich:
            return "[" + "".join(text for text, _ in parts) + "]"
        from rich.text import Text

        bar = Text()
        for text, style in parts:
            bar.append(text, style=style)
        return bar

    def print_bar_line(self, bar: Any, text: str, style: str | None = None) -> None:
        """A bar (from :meth:`bar`) followed by text on one line."""
        if self.rich:
            from rich.text import Text

            line = Text("  ")
            line.append_text(bar)
            line.append("  " + text, style=style or "")
            self.console.print(line)
        else:
            self.stream.write(f"  {bar}  {text}\n")

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        title: str | None = None,
        numeric: Sequence[bool] | None = None,
    ) -> None:
        """A table; numbers are right-aligned (by ``numeric``, else by the first row)."""
        texts = [[fmt(v) for v in row] for row in rows]
        if numeric is None:
            numeric = [
                all(isinstance(row[c], (int, float)) or row[c] is None for row in rows)
                and any(isinstance(row[c], (int, float)) for row in rows)
                and not any(isinstance(row[c], bool) for row in rows)
                for c in range(len(columns))
            ]
        if self.rich:
            from rich import box
            from rich.table import Table
            from rich.text import Text

            table = Table(
                title=title, box=box.SIMPLE_HEAD, title_justify="left", title_style="bold"
            )
            for name, right in zip(columns, numeric):
                table.add_column(name, justify="right" if right else "left", overflow="fold")
            for row in texts:
                table.add_row(*(Text(v, style=_STYLES.get(v, "")) for v in row))
            self.console.print(table)
            return
        if title:
            self.stream.write(title + "\n")
        widths = [len(c) for c in columns]
        for row in texts:
            widths = [max(w, len(v)) for w, v in zip(widths, row)]

        def line(cells: Sequence[str]) -> str:
            padded = [
                v.rjust(w) if right else v.ljust(w) for v, w, right in zip(cells, widths, numeric)
            ]
            return "  ".join(padded).rstrip() + "\n"

        self.stream.write(line(list(columns)))
        self.stream.write(line(["-" * w for w in widths]))
        for row in texts:
            self.stream.write(line(row))


def error(message: str) -> None:
    """``sweepstack: error: <message>`` on stderr."""
    sys.stderr.write(f"sweepstack: error: {message}\n")


def warn(message: str) -> None:
    """``sweepstack: warning: <message>`` on stderr."""
    sys.stderr.write(f"sweepstack: warning: {message}\n")
