"""The ``open_service(**options)`` keys the PostgreSQL store takes (a module of its own, so that the package and
the store both read it without importing each other)."""

#: Connections kept per process, seconds to wait for one (and to connect), seconds a statement may run; and the
#: service's clock (``open_service`` passes its ``clock``).
OPTIONS = frozenset({"pool_size", "connect_timeout", "statement_timeout", "clock"})
