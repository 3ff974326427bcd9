"""The layers hold: the import-linter contracts in pyproject.toml pass, and no package imports itself in a circle.

``lint-imports`` checks: the domain imports no framework, driver, store or door; a door (TUI, API) never imports
a store (only ``parking_tui.open_service``); a store never imports a door; the layers, top down: the command
line (``cli/``), the doors, the stores, the domain; screens and widgets never import ``app.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_are_kept():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(exe).exists():
        pytest.fail("lint-imports is missing: pip install -e '.[test]' installs import-linter")
    done = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert f"{len(contracts)} kept, 0 broken" in done.stdout, done.stdout[-2000:]


def test_the_tui_has_no_import_circle():
    """notices.py imported app.py and app.py imported it back; screens take shared values from small modules."""
    import grimp

    graph = grimp.build_graph("parking_tui", exclude_type_checking_imports=True, cache_dir=None)
    circles = [
        (a, b)
        for a in sorted(graph.modules)
        if a.startswith("parking_tui.tui")
        for b in graph.find_modules_directly_imported_by(a)
        if a < b and a in graph.find_modules_directly_imported_by(b)
    ]
    assert circles == []
