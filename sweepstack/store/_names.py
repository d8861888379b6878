"""Names that become file names: sweeper and sweep names, record keys, writer tags.

Names in an experiment directory come from sweepstack (keys are hex digests, names are
chosen by the script), never from raw parameter values. These checks keep a name from
leaving its folder (``/``, ``..``) or passing for a temporary file (a leading ``.``).
"""

from __future__ import annotations

import os
import re
import socket
import uuid

from sweepstack.errors import StoreValueError

__all__ = ["HOST", "SHORT_HOST", "check_key", "check_name", "writer_tag"]

HOST = socket.gethostname() or "localhost"
"""This host's name as written in documents: the one place sweepstack asks for it."""

SHORT_HOST = HOST.split(".")[0] or "host"
"""The host name without its domain, for file names (temporary files, quarantine)."""

_NAME = re.compile(r"[^/\\\x00-\x1f\x7f]{1,128}")
_NAME_RULE = "1 to 128 characters without '/', '\\' or control characters, not starting with '.'"

_KEY = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{1,127}")
_KEY_RULE = "2 to 128 letters, digits, '_' or '-', starting with a letter or digit (a param_key)"

_TAG_UNSAFE = re.compile(r"[^0-9A-Za-z.-]+")


def check_name(what: str, name: object) -> str:
    """Return ``name`` if it can name a folder of the experiment directory.

    >>> check_name("sweeper name", "main")
    'main'

    Raises:
        StoreValueError: ``name`` is not a str, is empty, holds a path separator or a
            control character, or starts with ``.``.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.startswith("."):
        raise StoreValueError(what, name, _NAME_RULE)
    if name != name.strip():
        raise StoreValueError(what, name, "no leading or trailing spaces")
    return name


def check_key(key: object) -> str:
    """Return ``key`` if it can name a record file.

    Raises:
        StoreValueError: ``key`` is not made of letters, digits, ``_`` and ``-``.
    """
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise StoreValueError("record key", key, _KEY_RULE)
    return key


def writer_tag() -> str:
    """A name unique to this process on any host: ``<host>-<pid>-<random>``."""
    host = _TAG_UNSAFE.sub("_", SHORT_HOST)[:64] or "host"
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
