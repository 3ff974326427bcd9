"""The service talks to every store through the port (:mod:`parking_tui.domain.ports`) and nothing else."""

from __future__ import annotations

import ast
import sys
from datetime import datetime, timezone
from pathlib import Path

import parking_tui

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DOMAIN = Path(parking_tui.__file__).parent / "domain"


def test_open_service_hands_the_service_a_port_store(tmp_path):
    from parking_tui.storage.tinydb import TinyDBStore

    svc = parking_tui.open_service(tmp_path / "data" / "parking.json")
    try:
        assert isinstance(svc.store, TinyDBStore)
        assert {"view", "unit_of_work", "change_token", "describe", "close"} <= set(dir(svc.store))
    finally:
        svc.store.close()


def test_the_domain_reads_no_record():
    """Rows are typed: the service parses no stamp and casts no record field (the store maps its records)."""
    for path in DOMAIN.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "from_stamp(" not in text, path.name
        assert "int(rec[" not in text, path.name
        tree = ast.parse(text)
        names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert not names & {"transaction", "live_bookings", "put_booking", "next_id", "read_audit"}, path.name
    assert not (DOMAIN / "bridge.py").exists()


def test_the_walkthrough_on_postgresql(pg_url):
    from core.test_walkthrough import test_rest_walkthrough
    from core.conftest import FrozenClock, cheap_hasher

    clock = FrozenClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))

    def open_svc(path=None, **options):
        options.setdefault("password_hasher", cheap_hasher())
        return parking_tui.open_service(pg_url, clock=clock, **options)

    svc = open_svc()
    assert svc.store.kind == "postgres"
    test_rest_walkthrough(svc, clock, open_svc)
