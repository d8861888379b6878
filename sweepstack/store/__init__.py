"""The store layer: the experiment directory on disk, the one place that knows its layout."""

__all__: list[str] = []
