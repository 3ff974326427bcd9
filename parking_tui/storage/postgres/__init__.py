"""The PostgreSQL store: one database shared by every host (kiosks, attendants, API workers).

The database guards the invariants itself (an exclusion constraint on live bookings, unique keys, check
constraints, an append-only audit table); the schema is versioned SQL in ``migrations/``.
"""
