"""The TUI part of the benchmark runs and reports every figure (not timed: the figures are read, not asserted)."""

from __future__ import annotations

import math

from parking_tui.bench import tui as tui_bench
from parking_tui.bench import build_dataset

FIGURES = (
    "login screen ready, bare App s",
    "login screen ready, parking-tui s",
    "login screen ready, ratio",
    "login ready from a cold start, bare App s",
    "login ready from a cold start, parking-tui s",
    "login ready from a cold start, ratio",
    "login ready from a cold start, store opened first s",
    "store open behind the sign-in screen, from a cold start s",
    "change by another process visible s",
    "memory VmRSS MB",
    "memory peak (VmHWM) MB",
)


def test_tui_bench_reports_every_figure(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    ds = build_dataset(tmp_path / "parking.json", "tiny")
    figures = tui_bench.run(ds, 1)
    big = len([s for s in ds.slots if s["lot_id"] == ds.big_lot_id])
    expected = FIGURES + (f"map of {big} slots painted s",)
    missing = [name for name in expected if name not in figures]
    assert not missing, f"missing figures: {missing}; got {sorted(figures)}"
    for name in expected:
        value = figures[name]
        assert isinstance(value, float) and math.isfinite(value) and value > 0, (name, value)
    # The map really held the whole lot (a figure for an empty map would be meaningless).
    assert big > 0
