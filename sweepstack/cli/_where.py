"""``--where``: a small, safe expression language over the columns of a results table.

An expression is parsed with :mod:`ast` and compiled into plain Python closures from
a short list of allowed node types; nothing is ever passed to ``eval``, no attribute
or item of any object is reachable, and only the functions below can be called.

Allowed: column names (``error``; dotted ``opt.lr`` for nested parameters), constants
(strings, numbers, True, False, None), lists and tuples of them, ``and or not``,
comparisons ``== != < <= > >= in not in is is not`` (chained too), arithmetic
``+ - * / // % **`` on numbers, and the functions :data:`FUNCTIONS`.

A missing value is None. A comparison or computation that cannot be made (``None <
1``, ``'a' < 1``, a division by zero) makes the expression false for that row, so
rows without a value are left out rather than failing the query.
"""

from __future__ import annotations

import ast
import difflib
import operator
from collections.abc import Collection
from typing import Any, Callable

from sweepstack.errors import QueryError

__all__ = ["FUNCTIONS", "Where"]

Evaluate = Callable[[dict[str, Any]], Any]


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("arithmetic on numbers only")
    return value


def _power(base: Any, exponent: Any) -> Any:
    if abs(_number(exponent)) > 1000:
        raise ValueError("exponent too large")
    return _number(base) ** exponent


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("a string function got a non-string")
    return value


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "len": len,
    "str": str,
    "int": int,
    "float": float,
    "lower": lambda s: _text(s).lower(),
    "upper": lambda s: _text(s).upper(),
    "contains": lambda s, part: _text(part) in _text(s),
    "startswith": lambda s, prefix: _text(s).startswith(_text(prefix)),
    "endswith": lambda s, suffix: _text(s).endswith(_text(suffix)),
}
"""The functions an expression may call."""

_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: _number(a) + _number(b),
    ast.Sub: lambda a, b: _number(a) - _number(b),
    ast.Mult: lambda a, b: _number(a) * _number(b),
    ast.Div: lambda a, b: _number(a) / _number(b),
    ast.FloorDiv: lambda a, b: _number(a) // _number(b),
    ast.Mod: lambda a, b: _number(a) % _number(b),
    ast.Pow: _power,
}
_FAILURES = (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError)
_MAX_LENGTH = 2000


class Where:
    """A compiled ``--where`` expression; call it on a row to know whether to keep it.

    >>> keep = Where("error < 0.01 and estimator == 'plain'", ["error", "estimator"])
    >>> keep({"error": 0.005, "estimator": "plain"}), keep({"error": None, "estimator": "plain"})
    (True, False)

    Args:
        text: the expression.
        columns: the table's columns; names outside them are refused (None: any name).

    Raises:
        QueryError: not an expression, a construct that is not allowed, or an unknown column.
    """

    def __init__(self, text: str, columns: Collection[str] | None = None) -> None:
        self.text = text
        self._columns = columns
        if len(text) > _MAX_LENGTH:
            raise QueryError(text[:60] + "...", f"longer than {_MAX_LENGTH} characters")
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as err:
            raise QueryError(text, f"not an expression ({err.msg}, column {err.offset})") from None
        except (RecursionError, MemoryError, ValueError):
            raise QueryError(text, "not an expression (nested too deeply)") from None
        try:
            self._evaluate = self._compile(tree.body)
        except RecursionError:
            raise QueryError(text, "nested too deeply") from None

    def __call__(self, row: dict[str, Any]) -> bool:
        try:
            return bool(self._evaluate(row))
        except _FAILURES:
            return False

    # --- compiling ----------------------------------------------------------------------

    def _refuse(self, node: ast.AST, what: str | None = None) -> QueryError:
        found = what or type(node).__name__
        return QueryError(
            self.text,
            f"{found} is not allowed; use column names, constants, and or not, comparisons, "
            f"arithmetic and the functions {', '.join(sorted(FUNCTIONS))}",
        )

    def _column(self, name: str) -> Evaluate:
        columns = self._columns
        if columns is not None and name not in columns:
            close = difflib.get_close_matches(name, list(columns), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            shown = ", ".join(list(columns)[:40]) + (" ..." if len(columns) > 40 else "")
            raise QueryError(self.text, f"unknown column {name!r}{hint}; columns: {shown}")
        return lambda row: row.get(name)

    def _compile(self, node: ast.AST) -> Evaluate:
        if isinstance(node, ast.Constant):
            value = node.value
            if value is not None and not isinstance(value, (str, int, float, bool)):
                raise self._refuse(node, f"the constant {value!r}")
            return lambda row: value
        if isinstance(node, ast.Name):
            return self._column(node.id)
        if isinstance(node, ast.Attribute):
            parts = [node.attr]
            inner: ast.AST = node.value
            while isinstance(inner, ast.Attribute):
                parts.append(inner.attr)
                inner = inner.value
            if not isinstance(inner, ast.Name):
                raise self._refuse(node, "attribute access")
            return self._column(".".join([inner.id, *reversed(parts)]))
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self._compile(item) for item in node.elts]
            return lambda row: tuple(item(row) for item in items)
        if isinstance(node, ast.BoolOp):
            values = [self._compile(v) for v in node.values]
            if isinstance(node.op, ast.And):
                return lambda row: all(v(row) for v in values)
            return lambda row: any(v(row) for v in values)
        if isinstance(node, ast.UnaryOp):
            operand = self._compile(node.operand)
            if isinstance(node.op, ast.Not):
                return lambda row: not operand(row)
            if isinstance(node.op, ast.USub):
                return lambda row: -_number(operand(row))
            if isinstance(node.op, ast.UAdd):
                return lambda row: +_number(operand(row))
            raise self._refuse(node.op)
        if isinstance(node, ast.BinOp):
            arithmetic = _ARITHMETIC.get(type(node.op))
            if arithmetic is None:
                raise self._refuse(node.op)
            left, right = self._compile(node.left), self._compile(node.right)
            return lambda row: arithmetic(left(row), right(row))
        if isinstance(node, ast.Compare):
            return self._comparison(node)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                name = node.func.id if isinstance(node.func, ast.Name) else "this call"
                raise self._refuse(node, f"calling {name}")
            if node.keywords:
                raise self._refuse(node, "a keyword argument")
            function = FUNCTIONS[node.func.id]
            arguments = [self._compile(a) for a in node.args]
            return lambda row: function(*(a(row) for a in arguments))
        raise self._refuse(node)

    def _comparison(self, node: ast.Compare) -> Evaluate:
        operators = []
        for op in node.ops:
            compare = _COMPARE.get(type(op))
            if compare is None:
                raise self._refuse(op)
            operators.append(compare)
        operands = [self._compile(node.left)] + [self._compile(c) for c in node.comparators]

        def evaluate(row: dict[str, Any]) -> bool:
            left = operands[0](row)
            for compare, operand in zip(operators, operands[1:]):
                right = operand(row)
                if not compare(left, right):
                    return False
                left = right
            return True

        return evaluate
