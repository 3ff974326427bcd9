"""The benchmark must never measure broken data: its bulk-loaded data set passes every invariant of DESIGN.md."""

from __future__ import annotations

import json
import tempfile
from collections import Counter

import pytest

from parking_tui import open_service
from parking_tui.bench import build_dataset, count_overlaps, main
from parking_tui.domain import BookingStatus
from parking_tui.storage.tinydb.doctor import diagnose


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "parking.json"
    return build_dataset(path, "tiny")


def test_tiny_data_set_passes_the_doctor(tiny):
    findings = [f for f in diagnose(tiny.path, now=tiny.now) if f.level != "info"]
    assert findings == []


def test_no_overlap_and_one_live_booking_per_driver(tiny):
    assert count_overlaps(tiny.path) == 0
    per_driver = Counter(b["username"] for b in tiny.live)
    assert per_driver and max(per_driver.values()) == 1


def test_the_service_sees_exactly_the_loaded_data(tiny):
    svc = open_service(tiny.path, clock=lambda: tiny.now)
    admin = tiny.tokens[tiny.users[0]]
    assert len(svc.list_lots(admin)) == tiny.counts["lots"]
    assert sum(len(svc.lot_slots(admin, lot["id"])) for lot in tiny.lots) == tiny.counts["slots"]
    everything = svc.list_reservations(admin)
    assert len(everything) == tiny.counts["finished"] + tiny.counts["live"]
    live = [b for b in everything if b.status in (BookingStatus.RESERVED, BookingStatus.CHECKED_IN)]
    assert sorted(b.id for b in live) == sorted(b["id"] for b in tiny.live)
    codes = [b.confirmation_code for b in everything]
    assert len(set(codes)) == len(codes)
    # Every driver can sign in with the shared password, and their live booking is in "my bookings".
    driver = tiny.live[1]["username"]
    token = svc.login(driver, "bench-password")
    assert tiny.live[1]["id"] in {b.id for b in svc.my_bookings(token)}


def test_passwords_are_argon2id_hashes(tiny):
    users = json.loads(tiny.path.with_name("parking.users.json").read_bytes())["users"]
    assert users and all(u["password_hash"].startswith("$argon2id$") for u in users.values())


def test_the_benchmark_prints_its_table(tmp_path, capsys):
    out_json = tmp_path / "figures.json"
    assert main(["--scale", "tiny", "--ops", "5", "--only", "service", "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    assert "create_booking" in printed and "p50 ms" in printed
    figures = json.loads(out_json.read_text())["figures"]
    assert figures["create_booking"]["n"] == 5 and figures["create_booking"]["p50_ms"] > 0


def test_a_run_that_fails_leaves_no_data_set_behind(tmp_path, monkeypatch):
    from parking_tui.bench import runner

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    real = runner.build_dataset

    def build_then_fail(path, scale):
        real(path, scale)
        raise RuntimeError("a part failed")

    monkeypatch.setattr(runner, "build_dataset", build_then_fail)
    with pytest.raises(RuntimeError, match="a part failed"):
        main(["--scale", "tiny", "--ops", "5", "--only", "service"])
    assert list(tmp_path.glob("parking-bench-*")) == []
