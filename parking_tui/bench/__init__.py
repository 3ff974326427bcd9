"""The benchmark (``python -m parking_tui.bench``): the service on both stores, stock TinyDB and SQLite for
reference, the TUI and the HTTP API. Never imported by the product (an import contract in pyproject.toml).

``runner`` builds the data set and measures; the names tests and tools use are re-exported here."""

from .runner import PASSWORD, SCALES, DataSet, build_dataset, count_overlaps, count_overlaps_pg, main

__all__ = ["PASSWORD", "SCALES", "DataSet", "build_dataset", "count_overlaps", "count_overlaps_pg", "main"]
