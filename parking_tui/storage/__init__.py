"""TinyDB-backed storage: the only code that touches files."""

from .tinydb.store import SCHEMA, TinyStore

__all__ = ["SCHEMA", "TinyStore"]
