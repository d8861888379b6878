"""Cachers: how one stage output is written to, and read from, its artifact folder.

A cacher is a small object with two methods::

    class Cacher:
        extension = ".bin"
        def save(self, obj, path): ...   # write obj at path (may add files next to it)
        def load(self, path): ...        # return the object written at path

``path`` is ``<artifact folder>/data<extension>``; the folder is fresh and private
while saving and is published atomically afterwards, with a checksum of every file
the cacher wrote. A cacher raising while saving makes the stage fail with a
:class:`~sweepstack.errors.CacherError` and leaves nothing in the cache: a result
that cannot be stored is an error, never a silent skip.

Cachers are named in an artifact's metadata by :attr:`Cacher.name`; an artifact
written by a different cacher than the stage now declares is recomputed.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from typing import Any, ClassVar

__all__ = [
    "Cacher",
    "DillCacher",
    "JsonCacher",
    "NumpyCacher",
    "PandasCacher",
    "PathCacher",
    "PickleCacher",
]

PICKLE_PROTOCOL = 5
"""Fixed rather than HIGHEST_PROTOCOL, so that every Python a cache is shared with reads it."""


class Cacher:
    """Base of the cachers: subclass it and define ``save`` and ``load``.

    >>> class TextCacher(Cacher):
    ...     extension = ".txt"
    ...     def save(self, obj, path):
    ...         with open(path, "w") as f:
    ...             f.write(obj)
    ...     def load(self, path):
    ...         with open(path) as f:
    ...             return f.read()
    """

    extension: ClassVar[str] = ".bin"
    keep_value: ClassVar[bool] = True
    """Keep the stage's returned value in memory once saved; False: read the saved copy."""

    @property
    def name(self) -> str:
        """The name stored in the metadata: the class's qualified name."""
        cls = type(self)
        return f"{cls.__module__}.{cls.__qualname__}"

    def save(self, obj: Any, path: str) -> None:
        """Write ``obj`` at ``path`` (and possibly more files in its folder)."""
        raise NotImplementedError

    def load(self, path: str) -> Any:
        """Read back the object that :meth:`save` wrote at ``path``."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash(type(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class DillCacher(Cacher):
    """The default: dill, which also handles lambdas, closures and most local classes."""

    extension = ".dill"

    def save(self, obj: Any, path: str) -> None:
        import dill  # lazily: ~50 ms to import

        with open(path, "wb") as f:
            dill.dump(obj, f, protocol=PICKLE_PROTOCOL)

    def load(self, path: str) -> Any:
        import dill

        with open(path, "rb") as f:
            return dill.load(f)


class PickleCacher(Cacher):
    """The standard library's pickle: faster than dill, for plain data and classes."""

    extension = ".pkl"

    def save(self, obj: Any, path: str) -> None:
        with open(path, "wb") as f:
            pickle.dump(obj, f, protocol=PICKLE_PROTOCOL)

    def load(self, path: str) -> Any:
        with open(path, "rb") as f:
            return pickle.load(f)


class JsonCacher(Cacher):
    """JSON text, readable by anything (tuples come back as lists)."""

    extension = ".json"

    def save(self, obj: Any, path: str) -> None:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    def load(self, path: str) -> Any:
        with open(path, encoding="utf-8") as f:
            return json.load(f)


class PathCacher(Cacher):
    """For stages that write files themselves: the stage returns a path, of a file or folder.

    The file or folder is copied into the artifact; loading gives the path of the copy
    inside the cache (read it, do not modify it).

    >>> import tempfile
    >>> from sweepstack.dag import stage
    >>> @stage(outputs=["plot"], cachers=[PathCacher], version="1")
    ... def plot(record):
    ...     path = os.path.join(tempfile.mkdtemp(), "plot.png")
    ...     ...  # write the file
    ...     return path
    """

    extension = ""
    keep_value = False  # readers get the copy in the cache, not the stage's own file

    def save(self, obj: Any, path: str) -> None:
        source = os.fspath(obj)
        if not isinstance(source, str):
            raise TypeError(f"expected a path (str or os.PathLike), got {type(obj).__name__}")
        folder = os.path.dirname(path)
        target = os.path.join(folder, "files", os.path.basename(os.path.normpath(source)))
        os.mkdir(os.path.join(folder, "files"))
        if os.path.isdir(source):
            shutil.copytree(source, target)
        elif os.path.exists(source):
            shutil.copy2(source, target)
        else:
            raise FileNotFoundError(f"the stage returned {source!r}, which does not exist")

    def load(self, path: str) -> Any:
        files = os.path.join(os.path.dirname(path), "files")
        names = os.listdir(files)
        return os.path.join(files, names[0])


class NumpyCacher(Cacher):
    """A numpy array in ``.npy`` format (no pickled objects: portable and safe to load)."""

    extension = ".npy"

    def save(self, obj: Any, path: str) -> None:
        import numpy

        numpy.save(path, obj, allow_pickle=False)

    def load(self, path: str) -> Any:
        import numpy

        return numpy.load(path, allow_pickle=False)


class PandasCacher(Cacher):
    """A pandas DataFrame or Series, as ``pickle`` (default, exact), ``parquet``, ``csv`` or ``json``.

    >>> PandasCacher(format="csv").extension
    '.csv'
    """

    _FORMATS = ("pickle", "parquet", "csv", "json")

    def __init__(self, format: str = "pickle") -> None:
        if format not in self._FORMATS:
            raise ValueError(f"PandasCacher format must be one of {self._FORMATS}, not {format!r}")
        self.format = format

    @property
    def extension(self) -> str:  # type: ignore[override]
        return ".pkl" if self.format == "pickle" else "." + self.format

    def save(self, obj: Any, path: str) -> None:
        if self.format == "pickle":
            obj.to_pickle(path)
        elif self.format == "parquet":
            obj.to_parquet(path)
        elif self.format == "csv":
            obj.to_csv(path)
        else:
            obj.to_json(path, orient="split")

    def load(self, path: str) -> Any:
        import pandas

        if self.format == "pickle":
            return pandas.read_pickle(path)
        if self.format == "parquet":
            return pandas.read_parquet(path)
        if self.format == "csv":
            return pandas.read_csv(path, index_col=0)
        return pandas.read_json(path, orient="split")

    def __repr__(self) -> str:
        return f"PandasCacher(format={self.format!r})"


def as_cacher(spec: Any) -> Cacher | None:
    """A cacher instance from what ``@stage(cachers=[...])`` accepts: a class, an instance,
    or None (the default); None for anything else."""
    if spec is None:
        return DillCacher()
    if isinstance(spec, type) and issubclass(spec, Cacher):
        return spec()
    if isinstance(spec, Cacher):
        return spec
    if callable(getattr(spec, "save", None)) and callable(getattr(spec, "load", None)):
        return spec  # duck-typed cacher
    return None


def cacher_name(cacher: Any) -> str:
    """The name under which ``cacher`` is stored in artifact metadata."""
    name = getattr(cacher, "name", None)
    if isinstance(name, str):
        return name
    cls = type(cacher)
    return f"{cls.__module__}.{cls.__qualname__}"
