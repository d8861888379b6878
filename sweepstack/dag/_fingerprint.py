"""The code fingerprint of a stage: a digest of its normalised source.

Comments, blank lines, formatting, docstrings, the decorator and the function's name
do not count; everything else in the function's syntax tree does (a changed constant,
an added line, a renamed variable). Only the stage's own source is read: helpers it
calls are not, so a stage whose behaviour depends on an edited helper needs a new
``version=`` or an ``--overwrite``.

The tree is serialised by :func:`_dump` rather than ``ast.dump``, whose text differs
between Python versions; empty and None fields are left out, so that fields added to
the syntax tree by a newer Python (such as ``type_params``) leave fingerprints
unchanged and hosts running different Pythons share one cache.
"""

from __future__ import annotations

import ast
import hashlib
from typing import Any, Callable

from sweepstack.errors import StageDefinitionError

__all__ = ["FINGERPRINT_LENGTH", "fingerprint", "normalised_source", "source_of"]

FINGERPRINT_LENGTH = 16
"""Hex digits of a code fingerprint (64 bits: collisions between edits of one stage are moot)."""

_SKIPPED_FIELDS = frozenset({"ctx", "type_comment", "kind"})


def source_of(fn: Callable[..., Any], stage: str) -> str:
    """The source text of ``fn``.

    Raises:
        StageDefinitionError: the source cannot be read (a function made with ``exec``
            or typed into a plain interactive prompt).
    """
    import inspect  # costs ~10 ms: only when a stage first computes a key
    import textwrap

    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as err:
        raise StageDefinitionError(
            stage,
            f"its source code cannot be read ({err}), so a code fingerprint cannot be part of "
            "its cache keys; give it a version instead: @stage(..., version='1'), and change "
            "the version whenever you change what the stage computes",
        ) from None


def _function_node(tree: ast.AST, name: str) -> ast.AST | None:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return node
    for node in ast.walk(tree):
        if isinstance(node, ast.Lambda):
            return node
    return None


def _strip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[1:]
    return body


def _dump(node: Any, out: list[str]) -> None:
    if isinstance(node, ast.AST):
        out.append(type(node).__name__)
        out.append("(")
        body_holder = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        for field in node._fields:
            if field in _SKIPPED_FIELDS:
                continue
            if body_holder and field in ("decorator_list", "name"):
                continue
            value = getattr(node, field, None)
            if body_holder and field == "body":
                value = _strip_docstring(list(value or []))
            if value is None or value == []:
                continue
            out.append(field)
            out.append("=")
            _dump(value, out)
            out.append(",")
        out.append(")")
    elif isinstance(node, list):
        out.append("[")
        for item in node:
            _dump(item, out)
            out.append(",")
        out.append("]")
    else:
        out.append(f"{type(node).__name__}:{node!r}")


def normalised_source(source: str, name: str) -> str:
    """The normalised text of function ``name`` in ``source``, which its fingerprint digests.

    Raises:
        SyntaxError: ``source`` does not parse.
    """
    tree = ast.parse(source)
    node = _function_node(tree, name)
    out: list[str] = []
    _dump(node if node is not None else tree, out)
    return "".join(out)


def fingerprint(fn: Callable[..., Any], stage: str) -> str:
    """The code fingerprint of stage function ``fn``.

    >>> def double(record, x):
    ...     return 2 * x  # a comment does not count
    >>> def double_again(record, x):
    ...     "A docstring does not count either."
    ...     return 2 * x
    >>> fingerprint(double, "double") == fingerprint(double_again, "double")
    True

    Raises:
        StageDefinitionError: the source of ``fn`` cannot be read; use ``version=``.
    """
    source = source_of(fn, stage)
    try:
        text = normalised_source(source, getattr(fn, "__name__", ""))
    except SyntaxError:  # a lambda cut out of the middle of an expression
        text = source.strip()
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:FINGERPRINT_LENGTH]
