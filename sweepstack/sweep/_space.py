"""The combinations a sweeper hands out, with their keys, and their file on disk.

A sweeper names combinations by key everywhere; :class:`Space` holds the ordered
keys, the index from key to position, and the combinations themselves. Spaces
opened from disk are stored column-wise: each factor's distinct levels once, and
per combination one small integer per factor. A million combinations load in well
under a second and a few tens of MB, and a combination is only built as a dict
when it is handed out.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import sys
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sweepstack._gc import gc_paused
from sweepstack._keys import KEY_LENGTH, canonical, item_text, key_of_items, param_key
from sweepstack.errors import JournalCorruptError
from sweepstack.store._atomic import atomic_write, read_bytes, write_all
from sweepstack.store._format import encode_sweeps_head, parse_sweeps, read_sweeps_header
from sweepstack.sweep._combinations import HashableDict

__all__ = ["Space", "decode_value", "encode_value"]


# --- values as JSON, exactly (1, 1.0 and True; tuples and lists; any dict keys) -------


def encode_value(value: Any) -> Any:
    """A JSON-able form of a parameter value that :func:`decode_value` turns back exactly."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return (
            value
            if value == value and value not in (float("inf"), float("-inf"))
            else {"$float": repr(value)}
        )
    if kind is list:
        return [encode_value(v) for v in value]
    if kind is tuple:
        return {"$tuple": [encode_value(v) for v in value]}
    if isinstance(value, Mapping):
        if all(type(k) is str and not k.startswith("$") for k in value):
            return {k: encode_value(v) for k, v in value.items()}
        return {"$dict": [[encode_value(k), encode_value(v)] for k, v in value.items()]}
    import pickle

    return {"$pickle": base64.b64encode(pickle.dumps(value, protocol=4)).decode("ascii")}


def decode_value(data: Any) -> Any:
    """The parameter value encoded by :func:`encode_value`."""
    if isinstance(data, list):
        return [decode_value(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "$tuple" in data:
        return tuple(decode_value(v) for v in data["$tuple"])
    if "$float" in data:
        return float(data["$float"])
    if "$dict" in data:
        return {decode_value(k): decode_value(v) for k, v in data["$dict"]}
    if "$pickle" in data:
        import pickle

        return pickle.loads(base64.b64decode(data["$pickle"]))
    return {k: decode_value(v) for k, v in data.items()}


_MEMO_SAFE = (str, int, bool, float, type(None))
_IDENTITY_BY_VALUE = (str, int, bool, type(None))  # floats need their hex: 0.0 and -0.0


def _hashable(combination: Mapping[Any, Any]) -> HashableDict:
    return combination if type(combination) is HashableDict else HashableDict(combination)


def _level_id(value: Any) -> Any:
    """Identity of a level: equal only for equal values of the same type (0.0 and -0.0 apart)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return (kind, value)
    if kind is float:
        return (float, value.hex())
    return ("canonical", canonical(value))


class Space:
    """An ordered set of distinct combinations, each with its key.

    Build one with :meth:`from_combinations` (keys are computed, duplicates dropped,
    the first occurrence kept) or :meth:`load`.
    """

    def __init__(
        self,
        keys: list[str],
        combinations: list[HashableDict | None],
        columns: tuple[list[Any], list[list[Any]], list[array]] | None = None,
        index: dict[str, int] | None = None,
    ) -> None:
        self.keys = keys
        self.index: dict[str, int] = (
            index if index is not None else dict(zip(keys, range(len(keys))))
        )
        self._digest: str | None = None
        self._combinations = combinations
        self._columns = columns  # (factors, levels per factor, codes per factor) when loaded

    @classmethod
    def from_combinations(
        cls, combinations: Iterable[Mapping[Any, Any]], columns: bool = False
    ) -> Space:
        """A space of the given combinations, in their order (plain dicts become HashableDicts).

        With ``columns=True`` the column-wise form for :meth:`save` is built in the same
        pass as the keys: each distinct (factor, level) item is encoded once, which is
        most of the cost of both.
        """
        combinations = list(combinations)
        n = len(combinations)
        keys: list[str] = []
        kept: list[HashableDict | None] = []
        index: dict[str, int] = {}
        factor_of: dict[Any, int] = {}
        factors: list[Any] = []
        levels: list[list[Any]] = []
        level_of: list[dict[Any, int]] = []
        codes: list[array] = []
        memos: dict[Any, dict[type, dict[Any, tuple[str, int, int]]]] = {}

        def encode(factor: Any, value: Any) -> tuple[str, int, int]:
            f = factor_of.get(factor)
            if f is None:
                f = factor_of[factor] = len(factors)
                factors.append(factor)
                levels.append([])
                level_of.append({})
                codes.append(array("i", [-1]) * n)
            kind = type(value)
            ident = (kind, value) if kind in _IDENTITY_BY_VALUE else _level_id(value)
            code = level_of[f].get(ident)
            if code is None:
                code = level_of[f][ident] = len(levels[f])
                levels[f].append(value)
            return item_text(factor, value), f, code

        with gc_paused():
            for combination in combinations:
                if not columns:
                    key = param_key(combination)
                    if key not in index:
                        index[key] = len(keys)
                        keys.append(key)
                        kept.append(_hashable(combination))
                    continue
                position = len(keys)
                texts = []
                for factor, value in combination.items():
                    kind = type(value)
                    # one memo per factor and value type (1 and True are equal keys)
                    memo_of = memos.get(factor)
                    if memo_of is None:
                        memo_of = memos[factor] = {}
                    by_value = memo_of.get(kind)
                    if by_value is None:
                        by_value = memo_of[kind] = {}
                    entry = by_value.get(value) if kind in _MEMO_SAFE else None
                    if entry is None:
                        entry = encode(factor, value)
                        if kind in _MEMO_SAFE and (kind is not float or (value and value == value)):
                            by_value[value] = entry
                    texts.append(entry[0])
                    codes[entry[1]][position] = entry[2]
                if len(texts) > 1:
                    texts.sort()
                key = key_of_items(texts)
                if key in index:  # a duplicate: undo its codes, keep the first occurrence
                    for column in codes:
                        column[position] = -1
                    continue
                index[key] = position
                keys.append(key)
                kept.append(_hashable(combination))
        space = cls(keys, kept, index=index)
        if columns:
            for column in codes:
                del column[len(keys) :]
            space._columns = (factors, levels, codes)
        return space

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: object) -> bool:
        return key in self.index

    def combination(self, position: int) -> HashableDict:
        """The combination at ``position``, built from the columns on first use."""
        combination = self._combinations[position]
        if combination is None:
            assert self._columns is not None
            factors, levels, codes = self._columns
            combination = HashableDict(
                (factor, levels[f][codes[f][position]])
                for f, factor in enumerate(factors)
                if codes[f][position] >= 0
            )
            self._combinations[position] = combination
        return combination

    def combinations(self, positions: Iterable[int] | None = None) -> list[HashableDict]:
        """The combinations at ``positions`` (all, in order, by default)."""
        if positions is None:
            positions = range(len(self.keys))
        made, make = self._combinations, self.combination
        return [c if (c := made[p]) is not None else make(p) for p in positions]

    def digest(self) -> str:
        """A digest of the ordered keys: equal spaces have equal digests."""
        if self._digest is None:
            sha = hashlib.sha256()
            for chunk in self._key_chunks():
                sha.update(chunk)
            self._digest = sha.hexdigest()
        return self._digest

    def _key_chunks(self, size: int = 65536) -> Iterator[bytes]:
        """The keys, concatenated, in pieces: never one copy of a million keys at once."""
        keys = self.keys
        for start in range(0, len(keys), size):
            yield "".join(keys[start : start + size]).encode("ascii")

    def level_counts(self, positions: Iterable[int]) -> dict[Any, dict[Any, int]]:
        """Counts of each level of each factor over ``positions``, as in sweep_stats."""
        counts: dict[Any, dict[Any, int]] = {}
        if self._columns is not None:
            # count level codes column by column, without building the combinations
            factors, levels, codes = self._columns
            if not isinstance(positions, (list, range)):
                positions = list(positions)
            for f, factor in enumerate(factors):
                column = codes[f]
                tally = Counter(column) if positions == range(len(self.keys)) else None
                if tally is None:
                    tally = Counter(map(column.__getitem__, positions))
                per_level: dict[Any, int] = {}
                for code, n in tally.items():
                    if code < 0:
                        continue  # the factor is not in these combinations (a sub-sweep)
                    level = levels[f][code]
                    try:
                        per_level[level] = per_level.get(level, 0) + n
                    except TypeError:
                        text = repr(level)
                        per_level[text] = per_level.get(text, 0) + n
                if per_level:
                    counts[factor] = per_level
            return counts
        for position in positions:
            for factor, level in self.combination(position).items():
                per_level = counts.setdefault(factor, {})
                try:
                    per_level[level] = per_level.get(level, 0) + 1
                except TypeError:  # an unhashable level (a list): count it by its text
                    text = repr(level)
                    per_level[text] = per_level.get(text, 0) + 1
        return counts

    # --- on disk -----------------------------------------------------------------------

    def _to_columns(self) -> tuple[list[Any], list[list[Any]], list[array]]:
        if self._columns is not None:
            return self._columns
        n = len(self.keys)
        factor_index: dict[Any, int] = {}
        factors: list[Any] = []
        levels: list[list[Any]] = []
        level_index: list[dict[Any, int]] = []
        codes: list[array] = []
        for position in range(n):
            for factor, value in self.combination(position).items():
                f = factor_index.get(factor)
                if f is None:
                    f = factor_index[factor] = len(factors)
                    factors.append(factor)
                    levels.append([])
                    level_index.append({})
                    codes.append(array("i", [-1]) * n)
                ident = _level_id(value)
                code = level_index[f].get(ident)
                if code is None:
                    code = level_index[f][ident] = len(levels[f])
                    levels[f].append(value)
                codes[f][position] = code
        return factors, levels, codes

    def save(self, path: str) -> None:
        """Write the space to ``path`` atomically (a single file, column-wise)."""
        factors, levels, codes = self._to_columns()

        def body() -> Iterator[bytes | memoryview]:
            # the body in pieces, twice (checksum, then write): a million keys would
            # otherwise be copied three or four times over (a few hundred MB at peak)
            yield from self._key_chunks()
            for column in codes:
                if sys.byteorder != "little":
                    column = array("i", column)
                    column.byteswap()
                yield memoryview(column).cast("B")

        sha = hashlib.sha256()
        for piece in body():
            sha.update(piece)
        head = encode_sweeps_head(
            {
                "count": len(self.keys),
                "factors": [encode_value(f) for f in factors],
                "levels": [[encode_value(v) for v in lv] for lv in levels],
                "digest": self.digest(),
                "body_sha256": sha.hexdigest(),
            }
        )

        def write(fd: int) -> None:
            for piece in (head, *body()):  # bytes, then memoryviews of the columns
                write_all(fd, piece)

        atomic_write(path, write)

    @staticmethod
    def saved_digest(path: str) -> str | None:
        """The digest of the space saved at ``path``, reading only its header; None if none."""
        digest = (read_sweeps_header(path) or {}).get("digest")
        return digest if isinstance(digest, str) else None

    @classmethod
    def load(cls, path: str) -> Space:
        """The space saved at ``path``.

        Raises:
            FileNotFoundError: nothing is saved there.
            JournalCorruptError: the file is damaged (its checksum does not match).
            FormatVersionError: it was written by a newer sweepstack.
        """
        data = read_bytes(path)
        header, body = parse_sweeps(path, data)
        try:
            n = int(header["count"])
            keys: list[str] = []
            step = 65536 * KEY_LENGTH  # decoded in pieces: no second copy of every key at once
            for first in range(0, n * KEY_LENGTH, step):
                piece = str(body[first : min(first + step, n * KEY_LENGTH)], "ascii")
                keys += [piece[i : i + KEY_LENGTH] for i in range(0, len(piece), KEY_LENGTH)]
            factors = [decode_value(f) for f in header["factors"]]
            levels = [[decode_value(v) for v in lv] for lv in header["levels"]]
            codes = []
            offset = n * KEY_LENGTH
            for _ in factors:
                column = array("i")
                column.frombytes(body[offset : offset + 4 * n])
                if sys.byteorder != "little":
                    column.byteswap()
                codes.append(column)
                offset += 4 * n
            body.release()
        except (ValueError, KeyError, TypeError, struct.error, UnicodeDecodeError) as err:
            raise JournalCorruptError(path, f"saved sweeps unreadable: {err}") from None
        del data  # before the index is built: the file's bytes are no longer needed
        return cls(keys, [None] * n, (factors, levels, codes))
