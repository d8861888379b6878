"""Artifact keys: what a stage output's key is made of, and its digest.

The key of an output is the digest of its *key parts*::

    {"stage":   stage name,
     "code":    code fingerprint, or "version:<v>" when the stage gives version=,
     "outputs": every output name of the stage, in order,
     "params":  {declared param: value}  (every param when the stage declares none),
     "config":  {declared name: value}   (declared names found in record.config),
     "missing": [declared names found in neither],
     "inputs":  {input name: key of the artifact it came from}
                (an aggregate: {input name: {member record key: artifact key}})}

plus the output's own name. The digest is the first 128 bits, in hex, of the SHA-256
of ``"ska1|" + canonical(parts) + canonical(output)`` with the canonical text of
:func:`sweepstack._keys.canonical`: independent of dict order, process, host and
Python version, telling ``1``, ``1.0`` and ``True`` apart. Golden keys are pinned in
the tests; changing this text orphans every user's cache.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

from sweepstack._keys import KEY_LENGTH, canonical

__all__ = ["artifact_key", "jsonable", "key_base"]

_PREFIX = "ska1|"  # bumped only together with a migration of every cached artifact


def key_base(parts: Mapping[str, Any]) -> bytes:
    """The part of the digested text shared by every output of one stage call.

    Raises:
        UnkeyableValueError: a declared param has a value with no stable key.
    """
    return (_PREFIX + canonical(parts)).encode("utf-8", "surrogatepass")


def artifact_key(parts: Mapping[str, Any], output: str, base: bytes | None = None) -> str:
    """The key of output ``output`` of the stage call described by ``parts``.

    >>> parts = {"stage": "draw", "code": "version:1", "outputs": ["points"],
    ...          "params": {"n": 100, "seed": 0}, "config": {}, "missing": [], "inputs": {}}
    >>> artifact_key(parts, "points")
    'a7351e514f19354e00d75b0e8f573b60'
    """
    digest = hashlib.sha256(base if base is not None else key_base(parts))
    digest.update(canonical(output).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:KEY_LENGTH]


def jsonable(value: Any) -> Any:
    """``value`` as JSON values, for people to read (keys are made from the real values).

    Tuples become lists, dicts with non-str keys lists of pairs, non-finite floats
    strings, and any other type its ``repr``.
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        if all(type(k) is str for k in value):
            return {k: jsonable(v) for k, v in value.items()}
        return [[jsonable(k), jsonable(v)] for k, v in value.items()]
    for base in (bool, int, float, str):
        if isinstance(value, base):
            return jsonable(base(value))
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "ndim", 1) == 0:
        return jsonable(item())
    return repr(value)
