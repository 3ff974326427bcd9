"""Demo data set-up does not look like a person: a start with the demo data already there writes nothing to
the audit log, and what the set-up does create is recorded from the terminal ``demo-setup``."""

from __future__ import annotations

from parking_tui.cli.demo import ensure_demo_data

from .conftest import open_svc


def test_demo_setup_writes_no_sign_in_when_all_is_there(db_path):
    svc = open_svc(db_path)
    assert ensure_demo_data(svc)
    events = list(svc.store.files.read_audit())
    assert events and {e["terminal"] for e in events} == {"demo-setup"}
    assert svc.terminal != "demo-setup"
    for _ in range(3):  # every later start of --demo, every browser tab of serve --demo
        other = open_svc(db_path)
        assert ensure_demo_data(other) == []
    assert list(svc.store.files.read_audit()) == events
