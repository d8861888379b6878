"""Parameter spaces from the command line: ``--sweep``, ``--only`` and ``--sweep-file``.

The value grammar is Hydra's override grammar (its "sweep" values), reduced to what a
parameter space needs::

    override  := ["+"] FACTOR "=" LEVELS        "+" adds a factor the space lacks
    FACTOR    := name ("." level "." name)*    a factor of a sub-sweep: model.svm.C
    LEVELS    := element ("," element)*         several elements: one level each
    element   := call | "[" elements "]" | quoted | primitive
    call      := range(start, stop[, step]) | geom(lo, hi, n) | igeom(lo, hi, n)
               | choice(a, b, ...) | uniform(lo, hi) | loguniform(lo, hi)
               | randint(lo, hi) | interval(lo, hi)
    quoted    := '...' | "..."                  a string as is (\\' and \\\\ escape)
    primitive := int | float | true | false | null | bare string

As in Hydra, ``true``/``false``/``null`` are case-insensitive, ints and floats are
Python's literals (``1_000``, ``1e-3``, ``inf``), whitespace around elements is dropped
and an empty value is the empty string. ``[a, b]`` is one level whose value is the
tuple ``(a, b)`` (a list would not be hashable). ``range`` is Hydra's: the stop is
excluded and float steps are allowed. ``geom`` and ``igeom`` are execo_engine's.
``uniform``/``loguniform``/``randint`` are the ranges of :func:`~sweepstack.sample`
(Hydra's Optuna sweeper writes ``interval(lo, hi)``; it is ``uniform`` here).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sweepstack.errors import OptionalDependencyError, OverrideError, SweepSpecError
from sweepstack.sweep._combinations import geom, igeom
from sweepstack.sweep._distributions import Distribution, loguniform, randint, uniform

__all__ = [
    "Override",
    "apply_overrides",
    "load_space",
    "matches",
    "parse_levels",
    "parse_override",
]

_INT = re.compile(r"[+-]?(0|[1-9](_?[0-9])*)")
_DIGITS = r"[0-9](_?[0-9])*"
_FLOAT = re.compile(
    rf"[+-]?(({_DIGITS})?\.{_DIGITS}|{_DIGITS}\.?)([eE][+-]?{_DIGITS})?|[+-]?(inf|nan)",
    re.IGNORECASE,
)
_SPECIAL = set(",()[]{}'\"=\\")


class _Syntax(Exception):
    """A grammar error at a position of the text (turned into an OverrideError)."""


class _Call:
    """A parsed ``name(args)``: a list of levels, or one distribution."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _typed(word: str) -> Any:
    """A bare word as Hydra types it: null, bool, int, float, or the string itself."""
    lower = word.lower()
    if lower == "null":
        return None
    if lower in ("true", "false"):
        return lower == "true"
    if _INT.fullmatch(word):
        return int(word)
    if _FLOAT.fullmatch(word):
        return float(word)
    return word


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def _skip_space(self) -> None:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def _peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def _expect(self, char: str) -> None:
        self._skip_space()
        if self._peek() != char:
            found = repr(self._peek()) if self._peek() else "the end"
            raise _Syntax(f"expected {char!r} at column {self.i + 1}, found {found}")
        self.i += 1

    def elements(self, closing: str) -> list[Any]:
        """Elements separated by commas, up to ``closing`` ("" for the end of the text)."""
        items = [self.element()]
        while True:
            self._skip_space()
            if self._peek() == ",":
                self.i += 1
                items.append(self.element())
            elif self._peek() == closing:
                return items
            elif not self._peek():
                raise _Syntax(f"expected {closing!r} at column {self.i + 1}, found the end")
            else:
                raise _Syntax(f"unexpected {self._peek()!r} at column {self.i + 1}")

    def element(self) -> Any:
        self._skip_space()
        char = self._peek()
        if char in ("'", '"'):
            return self._quoted(char)
        if char == "[":
            self.i += 1
            self._skip_space()
            if self._peek() == "]":
                self.i += 1
                return ()
            items = self.elements("]")
            self.i += 1
            if any(isinstance(item, _Call) for item in items):
                raise _Syntax("a function call cannot be inside [...]")
            return tuple(items)
        if char == "{":
            raise _Syntax("dict values {...} are not levels; give sub-sweeps in --sweep-file")
        start = self.i
        while self.i < len(self.text) and self.text[self.i] not in _SPECIAL:
            self.i += 1
        word = self.text[start : self.i].strip()
        self._skip_space()
        if self._peek() == "(":
            if not re.fullmatch(r"[A-Za-z_]\w*", word):
                raise _Syntax(f"{word!r} is not a function name (column {start + 1})")
            self.i += 1
            self._skip_space()
            args = self._arguments()
            self._expect(")")
            return _Call(_call(word, _by_position(word, *args)))
        if self._peek() in ("(", "[", "{", "'", '"', "\\", "="):
            raise _Syntax(
                f"unexpected {self._peek()!r} at column {self.i + 1}: quote a string "
                "that holds it ('...')"
            )
        return _typed(word)

    def _arguments(self) -> tuple[list[Any], dict[str, Any]]:
        """A call's arguments: positional ones, then ``name=value`` ones (as Hydra)."""
        args: list[Any] = []
        named: dict[str, Any] = {}
        self._skip_space()
        if self._peek() == ")":
            return args, named
        while True:
            self._skip_space()
            keyword = re.compile(r"([A-Za-z_]\w*)\s*=").match(self.text, self.i)
            if keyword:
                self.i = keyword.end()
                if keyword.group(1) in named:
                    raise _Syntax(f"argument {keyword.group(1)!r} given twice")
                named[keyword.group(1)] = self.element()
            elif named:
                raise _Syntax(f"a positional argument after a named one (column {self.i + 1})")
            else:
                args.append(self.element())
            self._skip_space()
            if self._peek() != ",":
                return args, named
            self.i += 1

    def _quoted(self, quote: str) -> str:
        self.i += 1
        out = []
        while True:
            if self.i >= len(self.text):
                raise _Syntax(f"the string opened with {quote} is not closed")
            char = self.text[self.i]
            if (
                char == "\\"
                and self.i + 1 < len(self.text)
                and self.text[self.i + 1]
                in (
                    quote,
                    "\\",
                )
            ):
                out.append(self.text[self.i + 1])
                self.i += 2
                continue
            self.i += 1
            if char == quote:
                return "".join(out)
            out.append(char)


def _numbers(name: str, args: list[Any], counts: Sequence[int]) -> list[Any]:
    if len(args) not in counts:
        wanted = " or ".join(str(c) for c in counts)
        raise _Syntax(f"{name}() takes {wanted} arguments, got {len(args)}")
    for arg in args:
        if isinstance(arg, bool) or not isinstance(arg, (int, float)):
            raise _Syntax(f"{name}() takes numbers, got {arg!r}")
    return args


def _range(start: Any, stop: Any, step: Any = 1) -> list[Any]:
    if step == 0:
        raise _Syntax("range() step must not be 0")
    if all(isinstance(v, int) for v in (start, stop, step)):
        return list(range(start, stop, step))
    count = max(0, math.ceil((stop - start) / step))
    return [float(start + i * step) for i in range(count)]


_PARAMETERS = {
    "range": ("start", "stop", "step"),
    "geom": ("lo", "hi", "n"),
    "igeom": ("lo", "hi", "n"),
    "uniform": ("low", "high"),
    "loguniform": ("low", "high"),
    "randint": ("low", "high"),
    "interval": ("start", "end"),
}
"""The names of each function's arguments, for ``name=value`` (Hydra's for range and
interval, Optuna's low/high for the ranges, execo_engine's for geom and igeom)."""


def _by_position(name: str, args: list[Any], named: dict[str, Any]) -> list[Any]:
    """The arguments of a call in their positions, named ones put in place."""
    if not named:
        return args
    parameters = _PARAMETERS.get(name, ())
    out = list(args)
    for key, value in named.items():
        if key not in parameters:
            known = ", ".join(parameters) or "none"
            raise _Syntax(f"{name}() has no argument {key!r} (arguments: {known})")
        position = parameters.index(key)
        if position < len(args):
            raise _Syntax(f"{name}() got {key!r} twice")
        out.extend([_MISSING] * (position + 1 - len(out)))
        out[position] = value
    if _MISSING in out:
        missing = parameters[out.index(_MISSING)]
        raise _Syntax(f"{name}() misses its argument {missing!r}")
    return out


_MISSING = object()


def _call(name: str, args: list[Any]) -> Any:
    if any(isinstance(arg, _Call) for arg in args):
        raise _Syntax(f"{name}() cannot take a function call as argument")
    if name == "choice":
        if not args:
            raise _Syntax("choice() needs at least one value")
        return list(args)
    if name == "range":
        return _range(*_numbers(name, args, (2, 3)))
    if name in ("geom", "igeom"):
        lo, hi, n = _numbers(name, args, (3,))
        if not float(n).is_integer() or n < 1:
            raise _Syntax(f"{name}() takes a count of at least 1 as its third argument")
        if lo <= 0 or hi <= 0:
            raise _Syntax(f"{name}() bounds must be above 0")
        return (geom if name == "geom" else igeom)(lo, hi, int(n))
    ranges: dict[str, Callable[..., Distribution]] = {
        "uniform": uniform,
        "interval": uniform,
        "loguniform": loguniform,
        "randint": randint,
    }
    if name in ranges:
        lo, hi = _numbers(name, args, (2,))
        try:
            return ranges[name](lo, hi)
        except SweepSpecError as err:
            raise _Syntax(f"{name}(): {err.problem}") from None
    raise _Syntax(
        f"unknown function {name}(); known: range, geom, igeom, choice, uniform, "
        "loguniform, randint, interval"
    )


def parse_levels(text: str, option: str = "--sweep") -> list[Any] | Distribution:
    """The levels written in ``text`` with Hydra's value grammar (see the module).

    >>> parse_levels("1, 2.5, true, null, 'a,b', word")
    [1, 2.5, True, None, 'a,b', 'word']
    >>> parse_levels("range(0, 10, 4)")
    [0, 4, 8]

    Raises:
        OverrideError: ``text`` does not follow the grammar.
    """
    parser = _Parser(text)
    try:
        items = parser.elements("")
    except _Syntax as err:
        raise OverrideError(option, text, str(err)) from None
    levels: list[Any] = []
    for item in items:
        if isinstance(item, _Call) and isinstance(item.value, Distribution):
            if len(items) > 1:
                raise OverrideError(
                    option, text, f"{item.value!r} is a range: it cannot be listed with levels"
                )
            return item.value
        if isinstance(item, _Call):
            levels.extend(item.value)
        else:
            levels.append(item)
    return levels


@dataclass(frozen=True)
class Override:
    """One ``FACTOR=LEVELS`` of an option: the dotted factor, its levels, and ``+``."""

    option: str
    text: str
    factor: str
    levels: Any  # list of levels, or a Distribution
    add: bool = False


def parse_override(text: str, option: str = "--sweep") -> Override:
    """``FACTOR=LEVELS`` (``+FACTOR=LEVELS`` adds a factor) as an :class:`Override`.

    >>> parse_override("model.svm.C=geom(1, 100, 3)").levels
    [1.0, 10.0, 100.0]

    Raises:
        OverrideError: no ``=``, no factor name, or levels off the grammar.
    """
    name, equal, value = text.partition("=")
    add = name.startswith("+")
    name = name[1:].strip() if add else name.strip()
    if not equal:
        raise OverrideError(option, text, "no '=' between the factor and its levels")
    if not name or name.startswith(".") or name.endswith(".") or ".." in name:
        raise OverrideError(option, text, f"{name!r} is not a factor name")
    try:
        levels = parse_levels(value, option)
    except OverrideError as err:
        raise OverrideError(option, text, err.problem) from None
    return Override(option, text, name, levels, add)


# --- applying overrides to a space -----------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    """Equal levels, telling True from 1 (as combination keys do)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _copy(space: Mapping[Any, Any]) -> dict[Any, Any]:
    """The dicts of a space copied (its level lists shared): overrides never touch the user's."""
    return {
        factor: (
            {
                level: _copy(sub) if isinstance(sub, Mapping) else sub
                for level, sub in levels.items()
            }
            if isinstance(levels, Mapping)
            else levels
        )
        for factor, levels in space.items()
    }


def _factor_names(space: Mapping[Any, Any], prefix: str = "") -> list[str]:
    names = []
    for factor, levels in space.items():
        names.append(f"{prefix}{factor}")
        if isinstance(levels, Mapping):
            for level, sub in levels.items():
                if isinstance(sub, Mapping):
                    names.extend(_factor_names(sub, f"{prefix}{factor}.{level}."))
    return names


def _find(mapping: Mapping[Any, Any], text: str) -> Any:
    """The key of ``mapping`` written ``text`` (a level given on the command line)."""
    for key in mapping:
        if str(key) == text:
            return key
    typed = _typed(text)
    for key in mapping:
        if _same(key, typed):
            return key
    return None


def _locate(space: dict[Any, Any], name: str, override: Override) -> tuple[dict[Any, Any], Any]:
    """The sub-space holding the factor ``name`` (dotted), and that factor's key in it.

    A factor's own name may hold dots: the longest name that exists is taken first.
    """
    mapping, rest = space, name
    while True:
        key = _find(mapping, rest)
        if key is not None or (override.add and "." not in rest):
            return mapping, key if key is not None else rest
        heads = sorted((k for k in mapping if rest.startswith(f"{k}.")), key=lambda k: -len(str(k)))
        if not heads:
            known = ", ".join(_factor_names(space)) or "none"
            hint = f" (to add it, write +{name}=...)" if not override.add else ""
            raise OverrideError(
                override.option, override.text, f"no factor {name!r} (factors: {known}){hint}"
            )
        head = heads[0]
        subs = mapping[head]
        tail = rest[len(str(head)) + 1 :]
        if not isinstance(subs, Mapping):
            raise OverrideError(
                override.option,
                override.text,
                f"factor {head!r} has no sub-sweeps, so {tail!r} cannot be under it",
            )
        level_key = None
        for level in sorted(subs, key=lambda lv: -len(str(lv))):
            if tail.startswith(f"{level}."):
                level_key = level
                break
        if level_key is None:
            raise OverrideError(
                override.option,
                override.text,
                f"factor {head!r} has no level starting {tail!r} "
                f"(levels: {', '.join(map(str, subs))})",
            )
        sub = subs[level_key]
        if not isinstance(sub, dict):
            raise OverrideError(
                override.option,
                override.text,
                f"level {level_key!r} of {head!r} is not a dict of sub-factors",
            )
        mapping, rest = sub, tail[len(str(level_key)) + 1 :]


def apply_overrides(space: Mapping[Any, Any], overrides: Sequence[Override]) -> dict[Any, Any]:
    """A copy of ``space`` with each override's levels in place of the factor's.

    A factor with sub-sweeps keeps the sub-sweeps of the levels named (a new level has
    none); ``+FACTOR`` adds a factor.

    >>> apply_overrides({"n": [1, 2], "m": {"a": {"x": [1]}, "b": {}}},
    ...                 [parse_override("m.a.x=5,6"), parse_override("n=3")])
    {'n': [3], 'm': {'a': {'x': [5, 6]}, 'b': {}}}

    Raises:
        OverrideError: a factor the space lacks (without ``+``), or one it has (with ``+``).
    """
    result = _copy(space)
    for override in overrides:
        mapping, key = _locate(result, override.factor, override)
        exists = key in mapping
        if override.add and exists:
            raise OverrideError(
                override.option,
                override.text,
                f"factor {override.factor!r} is already in the space: drop the '+'",
            )
        levels = override.levels
        old = mapping.get(key)
        if isinstance(old, Mapping) and isinstance(levels, list):
            chosen: dict[Any, Any] = {}
            for level in levels:
                found = next((k for k in old if _same(k, level)), None)
                chosen[level] = old[found] if found is not None else {}
            mapping[key] = chosen
        else:
            mapping[key] = levels
    return result


def matches(overrides: Sequence[Override]) -> Callable[[Mapping[Any, Any]], bool]:
    """A test of combinations: True when each override's factor has one of its levels.

    A dotted factor ``model.svm.C`` asks for ``model == "svm"`` and ``C`` among the
    levels; a range (``uniform(0, 1)``) asks for a value inside it. This is ``--only``.

    >>> test = matches([parse_override("n=1,2", "--only")])
    >>> test({"n": 2, "m": "a"}), test({"n": 3, "m": "a"})
    (True, False)
    """
    tests = [(o.factor, o.levels) for o in overrides]

    def member(value: Any, levels: Any) -> bool:
        if isinstance(levels, Distribution):
            return levels.contains(value)
        return any(_same(value, level) for level in levels)

    def test(combination: Mapping[Any, Any]) -> bool:
        for name, levels in tests:
            rest = name
            while rest not in combination:
                for factor in combination:
                    head = f"{factor}."
                    level = f"{combination[factor]}."
                    if rest.startswith(head) and rest[len(head) :].startswith(level):
                        rest = rest[len(head) + len(level) :]
                        break
                else:
                    return False
            if not member(combination[rest], levels):
                return False
        return True

    return test


# --- whole spaces from files -------------------------------------------------------------


def _space_value(value: Any, path: str, file: str) -> Any:
    """A file's levels: a list as is, a string through the grammar, a dict of sub-sweeps."""
    if isinstance(value, str):
        return parse_levels(value, f"--sweep-file {file} ({path})")
    if isinstance(value, list):
        return [tuple(v) if isinstance(v, list) else v for v in value]
    if isinstance(value, Mapping):
        subs = {}
        for level, sub in value.items():
            if not isinstance(sub, Mapping):
                raise OverrideError(
                    "--sweep-file",
                    file,
                    f"{path}.{level} must be a table of sub-factors (or {{}}), not {sub!r}",
                )
            subs[level] = {k: _space_value(v, f"{path}.{level}.{k}", file) for k, v in sub.items()}
        return subs
    return [value]  # one number, boolean or null: one level


def load_space(path: str) -> dict[str, Any]:
    """The parameter space in a JSON, TOML or YAML file (by its extension).

    The file maps each factor to a list of levels, to a string in the ``--sweep``
    grammar (``"igeom(100, 100000, 5)"``, ``"loguniform(1e-4, 1e-1)"``) or to a table
    of sub-sweeps (level -> sub-factors), as :func:`~sweepstack.sweep` takes.

    Raises:
        OverrideError: the file is missing, unreadable, or not such a mapping.
        OptionalDependencyError: a YAML file without PyYAML.
    """
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".json", ".toml", ".yaml", ".yml"):
        raise OverrideError(
            "--sweep-file", path, f"unknown extension {ext!r}: use .json, .toml, .yaml or .yml"
        )
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise OverrideError("--sweep-file", path, f"cannot read it ({err.strerror})") from None
    try:
        if ext == ".json":
            content = json.loads(data)
        elif ext == ".toml":
            try:
                import tomllib
            except ImportError:  # Python < 3.11
                try:
                    import tomli as tomllib  # type: ignore[no-redef,unused-ignore]
                except ImportError:
                    raise OptionalDependencyError(
                        "tomli", "sweep-file", "--sweep-file FILE.toml"
                    ) from None
            content = tomllib.loads(data.decode("utf-8"))
        else:
            try:
                import yaml
            except ImportError:
                raise OptionalDependencyError(
                    "PyYAML", "sweep-file", "--sweep-file FILE.yaml"
                ) from None
            content = yaml.safe_load(data)
    except (ValueError, UnicodeDecodeError) as err:  # JSON and TOML decode errors are ValueErrors
        raise OverrideError("--sweep-file", path, f"not valid {ext[1:].upper()}: {err}") from None
    except Exception as err:  # yaml.YAMLError, without importing yaml at the top
        if type(err).__module__.startswith("yaml"):
            raise OverrideError("--sweep-file", path, f"not valid YAML: {err}") from None
        raise
    if not isinstance(content, Mapping):
        raise OverrideError(
            "--sweep-file", path, f"must hold a mapping of factors, not {type(content).__name__}"
        )
    return {factor: _space_value(levels, str(factor), path) for factor, levels in content.items()}
