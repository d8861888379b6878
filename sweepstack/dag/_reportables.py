"""Reportables: figures, tables and text attached to a record, for reports and notebooks.

``record.report(obj, name=None, group=None)`` turns ``obj`` into bytes at once (a
matplotlib figure into PNG, a pandas table into HTML, text, JSON) and stores them in
the cache as a content-addressed artifact: its key is the digest of the bytes. The
record keeps a small JSON entry per reportable (name, group, stage, kind, key, file)
that goes into its document and into the metadata of the stage's outputs, so that a
cache hit brings the stage's reportables back without running it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from typing import Any

from sweepstack._keys import KEY_LENGTH
from sweepstack.errors import ReportableTypeError

__all__ = ["read_reportable", "render", "store_reportable"]

_FILES = {"figure": "data.png", "table": "data.html", "text": "data.txt", "json": "data.json"}


def render(obj: Any, name: str) -> tuple[str, bytes]:
    """``(kind, bytes)`` of a reportable object.

    Raises:
        ReportableTypeError: not a figure, table, str, or JSON dict or list.
    """
    if isinstance(obj, str):
        return "text", obj.encode("utf-8")
    if isinstance(obj, (dict, list)):
        try:
            return "json", json.dumps(obj, sort_keys=True, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError):
            raise ReportableTypeError(name, "dict or list of non-JSON values") from None
    if callable(getattr(obj, "savefig", None)):
        buffer = io.BytesIO()
        obj.savefig(buffer, format="png", bbox_inches="tight")
        return "figure", buffer.getvalue()
    if callable(getattr(obj, "to_html", None)):
        return "table", str(obj.to_html()).encode("utf-8")
    kind = type(obj)
    raise ReportableTypeError(name, f"{kind.__module__}.{kind.__qualname__}")


def store_reportable(
    obj: Any, name: str, group: str | None, stage: str | None, cache: Any
) -> tuple[dict[str, Any], bytes]:
    """Render ``obj`` and store it in ``cache`` (when not None); ``(entry, bytes)``."""
    kind, data = render(obj, name)
    key = hashlib.sha256(f"skr1|{kind}|".encode() + data).hexdigest()[:KEY_LENGTH]
    entry = {
        "name": name,
        "group": group,
        "stage": stage,
        "kind": kind,
        "key": key,
        "file": _FILES[kind],
    }
    if cache is not None and cache.read_meta(key) is None:

        def write(folder: str) -> None:
            with open(os.path.join(folder, _FILES[kind]), "wb") as f:
                f.write(data)

        meta = {"kind": "reportable", "reportable": kind, "name": name, "stage": stage}
        cache.save(key, meta, write)
    return entry, data


def read_reportable(entry: dict[str, Any], cache: Any) -> bytes:
    """The bytes of a stored reportable (verified).

    Raises:
        ArtifactCorruptError: missing or corrupt.
    """

    def read(folder: str) -> bytes:
        with open(os.path.join(folder, entry["file"]), "rb") as f:
            return f.read()

    return cache.load(entry["key"], read)
