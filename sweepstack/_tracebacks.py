"""Tracebacks that start at the user's code: sweepstack's own frames folded into one line.

A failure inside a stage passes through the engine's loop, the record's resolution
and the stage call before it reaches the user's function: six frames or more that
say nothing about the user's bug. :func:`fold` replaces each run of consecutive
sweepstack frames by one line, so the first frame a user reads is theirs; the
complete text stays in the record (``traceback_full``) for ``sweepstack failures
--full``.
"""

from __future__ import annotations

import os
import re
import traceback

__all__ = ["fold", "format_exception", "is_sweepstack_file"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep

# A traceback written on another host names sweepstack where it was installed there.
_ELSEWHERE = re.compile(
    r"[\\/]sweepstack[\\/](?:(?:engine|sweep|dag|store|cli|report)[\\/]"
    r"|(?:__init__|__main__|errors|log|utils|_\w+)\.py$)"
)

_FRAME = re.compile(r'^(\s*)File "(.*)", line \d+, in ')


def is_sweepstack_file(path: str) -> bool:
    """Whether ``path`` (as a traceback names it) is a module of sweepstack itself."""
    return path.startswith(_PACKAGE) or bool(_ELSEWHERE.search(path))


def _marker(indent: str, count: int) -> str:
    frames = "frame" if count == 1 else "frames"
    return (
        f"{indent}[{count} sweepstack {frames} folded; sweepstack failures DIR --full shows them]\n"
    )


def fold(text: str) -> str:
    """``text``, a formatted traceback (chained ones too), with each run of sweepstack's
    frames replaced by one line. Folding a folded traceback changes nothing, and a
    traceback with no frame outside sweepstack (a bug of sweepstack's own, not the
    user's) is kept whole.

    >>> print(fold('Traceback (most recent call last):\\n'
    ...            '  File "/lib/sweepstack/dag/_call.py", line 9, in run\\n    f(r)\\n'
    ...            '  File "/home/me/exp.py", line 3, in train\\n    1 / 0\\n'
    ...            'ZeroDivisionError: division by zero\\n'), end="")
    Traceback (most recent call last):
      [1 sweepstack frame folded; sweepstack failures DIR --full shows them]
      File "/home/me/exp.py", line 3, in train
        1 / 0
    ZeroDivisionError: division by zero
    """
    out: list[str] = []
    lines = text.splitlines(keepends=True)
    frames = [m.group(2) for m in map(_FRAME.match, lines) if m is not None]
    if not frames or all(is_sweepstack_file(path) for path in frames):
        return text
    i, folded, indent = 0, 0, "  "
    while i < len(lines):
        match = _FRAME.match(lines[i])
        if match is None:
            if folded:
                out.append(_marker(indent, folded))
                folded = 0
            out.append(lines[i])
            i += 1
            continue
        frame_indent = match.group(1)
        end = i + 1  # the frame's source and caret lines are indented deeper
        while (
            end < len(lines)
            and lines[end].startswith(frame_indent + "  ")
            and not _FRAME.match(lines[end])
        ):
            end += 1
        if is_sweepstack_file(match.group(2)):
            folded += 1
            indent = frame_indent
        else:
            if folded:
                out.append(_marker(indent, folded))
                folded = 0
            out.extend(lines[i:end])
        i = end
    if folded:
        out.append(_marker(indent, folded))
    return "".join(out)


def format_exception(err: BaseException) -> str:
    """The complete traceback text of ``err`` (chained exceptions included)."""
    return "".join(traceback.format_exception(type(err), err, err.__traceback__))
