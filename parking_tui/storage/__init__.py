"""TinyDB-backed storage: the only code that touches files."""

from .store import SCHEMA, TinyStore

__all__ = ["SCHEMA", "TinyStore"]
