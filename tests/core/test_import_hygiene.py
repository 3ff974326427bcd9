"""The domain layer is pure: importing it loads neither textual nor tinydb."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CODE = """
import json, sys
import parking_tui.domain
import parking_tui.domain.service, parking_tui.domain.rules, parking_tui.domain.models
import parking_tui.domain.errors, parking_tui.domain.ports
heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'textual', 'tinydb', 'rich', 'filelock'})
print(json.dumps({'heavy': heavy, 'domain': 'parking_tui.domain' in sys.modules}))
"""


def _run(code: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_domain_imports_neither_textual_nor_tinydb():
    result = _run(CODE)
    assert result["domain"] is True
    assert result["heavy"] == []


def test_the_check_can_see_tinydb():
    """The probe works: the storage layer does load tinydb."""
    result = _run(CODE.replace("import parking_tui.domain\n", "import parking_tui.domain, parking_tui.storage\n", 1))
    assert "tinydb" in result["heavy"]
