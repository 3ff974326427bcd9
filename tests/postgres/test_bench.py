"""The benchmark measures both stores in one run, side by side, and counts what a call costs on PostgreSQL."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[postgres]'")

from parking_tui.bench import main  # noqa: E402


@pytest.mark.slow
def test_the_benchmark_measures_both_stores_side_by_side(pg_cluster, tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = ["--scale", "tiny", "--ops", "3", "--seconds", "1", "--procs", "2", "--store", "both", "--only", "service",
            "--only", "mp", "--pg-url", pg_cluster.admin_url, "--json", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    figures = report["figures"]
    for name in ("create_booking", "available_slots(lot, window)"):
        assert figures[name]["n"] == 3 and figures[f"{name} [postgres]"]["n"] == 3
    for mp in (report["multiprocess"], report["postgres"]["multiprocess"]):
        assert mp["bookings"] > 0 and mp["double_bookings"] == 0 and mp["errors"] == 0
    trips = report["postgres"]["round_trips"]
    # A booking waits for the server about once per read it needs, not once per statement (31 before pipelining).
    assert 0 < trips["create_booking"]["round_trips"] <= 16
    assert trips["create_booking"]["round_trips"] < trips["create_booking"]["statements"]
    assert trips["change_token(lot)"]["round_trips"] <= 1
    assert set(report["load_average"]) >= {"service", "service [postgres]", "multi-process [postgres]"}
    floor = report["postgres"]["floor"]  # what a booking with no checks costs, for comparison
    errors = (floor["floor_first_error"], floor["function_first_error"])
    assert floor["floor_per_s"] > 0 and floor["function_per_s"] > 0, errors
    assert floor["floor_errors"] == floor["function_errors"] == 0
    printed = capsys.readouterr().out
    assert "side by side" in printed and "PostgreSQL / TinyDB bookings/s" in printed
    assert "PostgreSQL floors" in printed
