"""The application's role of docs/operations.md ("Many hosts"): with exactly those grants the whole service
runs, and the audit log is append-only for it (no UPDATE, DELETE or TRUNCATE, and it cannot switch the trigger
off)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[postgres]'")
import psycopg  # noqa: E402

import parking_tui  # noqa: E402

from core.conftest import cheap_hasher, make_user  # noqa: E402

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def _grants() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("## Many hosts", 1)[1]
    sql = re.search(r"```sql\n(.*?)```", block, re.S).group(1)
    return [s.strip() for s in sql.split(";") if s.strip() and not s.strip().startswith("CREATE ROLE")]


def test_the_documented_grants_run_the_service_and_keep_the_audit_append_only(pg_cluster):
    url = pg_cluster.fresh_db()
    role = f"parking_app_{os.getpid()}"
    dbname = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f"DROP ROLE IF EXISTS {role}")
        c.execute(f"CREATE ROLE {role} LOGIN")
        for stmt in _grants():
            stmt = re.sub(r"--.*", "", stmt).replace("parking_app", role).replace("DATABASE parking", f"DATABASE {dbname}")
            c.execute(stmt)
    app_url = url.replace("://postgres@", f"://{role}@")
    try:
        svc = parking_tui.open_service(app_url, password_hasher=cheap_hasher())
        admin = make_user(svc, "admin", admin=True)
        driver = make_user(svc, "dora")
        lot = svc.create_lot(admin, "North", "x", 3)
        (slot,) = svc.add_slots(admin, lot.id, ["A1"])
        now = svc.now()
        b = svc.create_booking(driver, slot.id, now.replace(microsecond=0) + _h(1), now.replace(microsecond=0) + _h(2))
        svc.cancel_booking(driver, b.id)
        svc.store.close()
        with psycopg.connect(app_url, autocommit=True) as c:
            assert c.execute("SELECT count(*) FROM audit").fetchone()[0] > 0
            for sql in ("UPDATE audit SET op = 'x'", "DELETE FROM audit", "TRUNCATE audit",
                        "ALTER TABLE audit DISABLE TRIGGER audit_no_update"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    c.execute(sql)
    finally:
        pg_cluster.drop(url)
        with psycopg.connect(pg_cluster.admin_url, autocommit=True) as c:
            c.execute(f"DROP ROLE IF EXISTS {role}")


def _h(n):
    from datetime import timedelta

    return timedelta(hours=n)
