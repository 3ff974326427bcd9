"""The benchmark: ``python -m parking_tui.bench [--scale full|small|tiny] [--store tinydb|postgres|both] [--json FILE]
[--tui] [--api]``.

Builds a synthetic data set with the bulk loader (full scale: 50 lots, 10,000 slots - one lot of 2,000 -,
200,000 finished bookings over the past year, 5,000 live ones, 5,000 users), then measures p50/p99 of the service
operations, a multi-process run, and the same create_booking / available_slots workload against stock TinyDB and
SQLite in WAL mode in the same run, so the ratios are honest on a noisy machine. With ``--store postgres`` (or
``both``) the same data set is moved into a PostgreSQL database (a throwaway server started from the machine's
binaries with fsync on, or ``--pg-url``) and the same service figures and multi-process run are measured there,
with the statements and round trips each call costs. Prints one table (both stores side by side); ``--json``
writes the same figures, with the machine's load average around each part. Targets are checked by reading the
figures, never by a timed test.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import os
import platform
import random
import resource
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

SCALES: dict[str, dict[str, int]] = {
    "full": {"lots": 50, "slots": 10_000, "big_lot": 2_000, "finished": 200_000, "live": 5_000, "users": 5_000},
    "small": {"lots": 10, "slots": 1_000, "big_lot": 200, "finished": 20_000, "live": 500, "users": 500},
    "tiny": {"lots": 3, "slots": 60, "big_lot": 24, "finished": 400, "live": 20, "users": 30},
}
PASSWORD = "bench-password"
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class Clock:
    """A clock the benchmark can set; starts at the current minute."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(timezone.utc).replace(second=0, microsecond=0)

    def __call__(self) -> datetime:
        return self.now


def _stamp(dt: datetime) -> str:
    from ..domain.rules import to_stamp

    return to_stamp(dt)


@dataclass
class DataSet:
    path: Path
    now: datetime
    users: list[str]
    tokens: dict[str, str]
    lots: list[dict[str, Any]]
    slots: list[dict[str, Any]]
    live: list[dict[str, Any]]
    big_lot_id: int
    counts: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ data set


def build_dataset(path: Path, scale: str, *, seed: int = 7, now: datetime | None = None) -> DataSet:
    """Generate and bulk-load the synthetic data set. Live bookings never overlap per slot or per driver."""
    from argon2 import PasswordHasher

    from .. import open_service
    from ..domain.context import hash_token as _hash_token
    from ..storage.tinydb.bulk import bulk_load

    cfg = SCALES[scale]
    rnd = random.Random(seed)
    now = now or datetime.now(timezone.utc).replace(second=0, microsecond=0)
    pw_hash = PasswordHasher().hash(PASSWORD)  # one real argon2id hash, shared (hashing 5,000 takes minutes)

    users = [f"u{i:05d}" for i in range(cfg["users"])]
    user_recs = [
        {
            "username": u,
            "email": f"{u}@example.com",
            "phone_number": "",
            "password_hash": pw_hash,
            "is_admin": i == 0,
            "created_at": _stamp(now - timedelta(days=400)),
        }
        for i, u in enumerate(users)
    ]
    tokens = {u: secrets.token_urlsafe(32) for u in users}
    sessions = [
        {
            "token_hash": _hash_token(tokens[u]),
            "username": u,
            "created_at": _stamp(now),
            "expires_at": _stamp(now + timedelta(days=3)),
        }
        for u in users
    ]

    # Lots: one big lot, the rest share the remaining slots.
    n_lots = cfg["lots"]
    rest = cfg["slots"] - cfg["big_lot"]
    sizes = [cfg["big_lot"]] + [rest // (n_lots - 1) + (1 if i < rest % (n_lots - 1) else 0) for i in range(n_lots - 1)]
    lots, slots = [], []
    slot_id = 0
    for lot_id, size in enumerate(sizes, start=1):
        lots.append(
            {
                "id": lot_id,
                "name": "Stadium Park+Ride" if lot_id == 1 else f"Bench Lot {lot_id:02d}",
                "location": f"{lot_id} Bench Street",
                "total_slots": size,
                "policy": {},
                "created_at": _stamp(now - timedelta(days=400)),
            }
        )
        for i in range(size):
            slot_id += 1
            row = "ABCDEFGHJKLMNPQRSTUVWXYZ"[(i // 40) % 24]
            slots.append({"id": slot_id, "lot_id": lot_id, "slot_number": f"{row}{i % 40 + 1}" + (f"-{i // 960}" if i >= 960 else ""), "admin_status": "available"})

    codes: set[str] = set()

    def code() -> str:
        while True:
            raw = "".join(rnd.choice(CODE_ALPHABET) for _ in range(8))
            c = f"{raw[:4]}-{raw[4:]}"
            if c not in codes:
                codes.add(c)
                return c

    bookings: list[dict[str, Any]] = []
    booking_id = 0
    # Finished bookings: per slot, the past year split into equal segments, one booking in each.
    per_slot = max(1, cfg["finished"] // len(slots))
    extra = cfg["finished"] - per_slot * len(slots)
    year = timedelta(days=365)
    for idx, slot in enumerate(slots):
        n = per_slot + (1 if idx < extra else 0)
        seg = year / n
        for k in range(n):
            seg_start = now - year + seg * k
            start = seg_start + timedelta(minutes=15 * rnd.randrange(0, max(1, int(seg.total_seconds() // 900) - 20)))
            end = start + timedelta(minutes=15 * rnd.randint(2, 16))
            end = min(end, seg_start + seg - timedelta(minutes=1))
            if end <= start:
                end = start + timedelta(minutes=10)
            booking_id += 1
            roll = rnd.random()
            status = "completed" if roll < 0.8 else "cancelled" if roll < 0.92 else "expired"
            rec = {
                "id": booking_id,
                "slot_id": slot["id"],
                "lot_id": slot["lot_id"],
                "slot_number": slot["slot_number"],
                "username": users[rnd.randrange(len(users))],
                "start_time": _stamp(start),
                "end_time": _stamp(end),
                "status": status,
                "confirmation_code": code(),
                "created_at": _stamp(start - timedelta(days=1)),
            }
            if status == "completed":
                rec["checked_in_at"] = _stamp(start + timedelta(minutes=rnd.randint(-10, 10)))
                rec["checked_out_at"] = _stamp(end + timedelta(minutes=rnd.randint(-30, 20)))
            elif status == "cancelled":
                rec["cancelled_at"] = _stamp(start - timedelta(hours=2))
            else:
                rec["expired_at"] = _stamp(start + timedelta(minutes=16))
            bookings.append(rec)

    # Live bookings: each driver holds at most one, on distinct slots, between now+2h and now+10d;
    # one in ten is checked in now (started within the last hour).
    live_slots = rnd.sample(slots, min(cfg["live"], len(slots)))
    live = []
    for i, slot in enumerate(live_slots):
        user = users[i % len(users)]
        if i % 10 == 0:
            start = now - timedelta(minutes=15 * rnd.randint(1, 4))
            status = "checked_in"
        else:
            start = now + timedelta(hours=2) + timedelta(minutes=15 * rnd.randrange(0, 4 * 24 * 8))
            status = "reserved"
        end = start + timedelta(minutes=15 * rnd.randint(4, 16))
        booking_id += 1
        rec = {
            "id": booking_id,
            "slot_id": slot["id"],
            "lot_id": slot["lot_id"],
            "slot_number": slot["slot_number"],
            "username": user,
            "start_time": _stamp(start),
            "end_time": _stamp(end),
            "status": status,
            "confirmation_code": code(),
            "created_at": _stamp(now - timedelta(days=1)),
        }
        if status == "checked_in":
            rec["checked_in_at"] = _stamp(start)
        live.append(rec)
    bookings.extend(live)

    svc = open_service(path)
    bulk_load(svc.store.files, users=user_recs, sessions=sessions, lots=lots, slots=slots, bookings=bookings)
    svc.store.close()
    return DataSet(
        path=path,
        now=now,
        users=users,
        tokens=tokens,
        lots=lots,
        slots=slots,
        live=live,
        big_lot_id=1,
        counts={
            "lots": len(lots),
            "slots": len(slots),
            "finished": len(bookings) - len(live),
            "live": len(live),
            "users": len(users),
        },
    )


def data_size(path: Path) -> int:
    stem = path.name[:-5]
    return sum(p.stat().st_size for p in path.parent.glob(f"{stem}*.json"))


# ------------------------------------------------------------------------------------------- timing


@dataclass
class Figure:
    name: str
    samples: list[float]
    note: str = ""
    cpu: float | None = None
    """CPU seconds this process spent per operation (its own thread's time: what the machine's load does not
    inflate much, unlike the wall-clock samples)."""

    @property
    def p50(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def p99(self) -> float:
        if not self.samples:
            return float("nan")
        s = sorted(self.samples)
        return s[min(len(s) - 1, int(round(0.99 * (len(s) - 1))))]


def timed(name: str, fn: Callable[[int], Any], n: int, warmup: int = 10, note: str = "") -> Figure:
    for i in range(warmup):
        fn(-1 - i)
    gc.collect()
    samples = []
    c0 = time.thread_time()
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - t0)
    return Figure(name, samples, note, cpu=(time.thread_time() - c0) / n if n else None)


# ----------------------------------------------------------------------------------- our service


def bench_service(ds: DataSet, n: int) -> list[Figure]:
    from .. import open_service

    clock = Clock(ds.now)
    svc = open_service(ds.path, clock=clock)
    rnd = random.Random(11)
    figs: list[Figure] = []
    lot_ids = [lot["id"] for lot in ds.lots]
    slot_ids = [s["id"] for s in ds.slots]
    admin = ds.tokens[ds.users[0]]

    # create_booking: every op its own hour, 12+ days ahead where no live booking exists -> never a conflict.
    band = ds.now + timedelta(days=12)
    created: list[int] = []

    def create(i: int) -> None:
        k = i + 50 if i >= 0 else -i  # warm-up ops use hours 1..; timed ops follow
        user = ds.users[rnd.randrange(len(ds.users))]
        start = band + timedelta(hours=k)
        b = svc.create_booking(ds.tokens[user], rnd.choice(slot_ids), start, start + timedelta(minutes=45))
        created.append((b.id, user))

    figs.append(timed("create_booking", create, n))

    def cancel(i: int) -> None:
        bid, user = created.pop()
        svc.cancel_booking(ds.tokens[user], bid)

    w = min(10, len(created) // 4)
    figs.append(timed("cancel_booking", cancel, min(n, len(created) - w), warmup=w))

    # check_in / check_out: bookings starting now, for drivers whose own live booking is later.
    busy = {b["username"] for b in ds.live if b["status"] == "checked_in"}
    free_users = [u for u in ds.users if u not in busy]
    rnd.shuffle(free_users)
    window = (ds.now, ds.now + timedelta(minutes=50))
    free_slots = [s.id for s in svc.available_slots(admin, None, *window)]
    rnd.shuffle(free_slots)
    now_bookings = []
    for i in range(min(n + 10, len(free_users), len(free_slots))):
        user = free_users[i]
        try:
            b = svc.create_booking(ds.tokens[user], free_slots[i], *window)
        except Exception:  # a driver whose own booking overlaps: skip
            continue
        now_bookings.append((b.id, user))
    ins = list(now_bookings)
    w = min(10, len(ins) // 4)
    figs.append(
        timed("check_in", lambda i: svc.check_in(ds.tokens[ins[-1][1]], ins.pop()[0]), len(ins) - w, warmup=w)
    )
    outs = [b for b in now_bookings if svc.get_booking(ds.tokens[b[1]], b[0]).status == "checked_in"]
    w = min(10, len(outs) // 4)
    figs.append(
        timed("check_out", lambda i: svc.check_out(ds.tokens[outs[-1][1]], outs.pop()[0]), len(outs) - w, warmup=w)
    )

    def avail(i: int) -> None:
        start = ds.now + timedelta(days=rnd.randint(0, 6), minutes=15 * rnd.randint(0, 90))
        svc.available_slots(admin, rnd.choice(lot_ids), start, start + timedelta(hours=2))

    figs.append(timed("available_slots(lot, window)", avail, n))
    figs.append(timed("lot_slots(lot)", lambda i: svc.lot_slots(admin, rnd.choice(lot_ids)), n))
    figs.append(
        timed("lot_slots(2,000-slot lot)", lambda i: svc.lot_slots(admin, ds.big_lot_id), n)
    )
    figs.append(
        timed("my_bookings", lambda i: svc.my_bookings(ds.tokens[ds.users[rnd.randrange(len(ds.users))]]), n)
    )
    figs.append(timed("list_lots", lambda i: svc.list_lots(admin), n))
    figs.append(timed("lot_overview (lot browser)", lambda i: svc.lot_overview(admin), max(20, n // 10)))
    figs.append(
        timed(
            "occupancy_by_hour(7 days, all lots) (Summary chart)",
            lambda i: svc.occupancy_by_hour(admin, days=7),
            max(10, n // 20),
            warmup=2,
        )
    )

    from argon2 import PasswordHasher

    ph = PasswordHasher()
    h = ph.hash(PASSWORD)
    n_login = max(20, n // 4)
    figs.append(timed("argon2 verify alone", lambda i: ph.verify(h, PASSWORD), n_login, warmup=3))
    figs.append(
        timed(
            "login (incl. argon2)",
            lambda i: svc.login(ds.users[rnd.randrange(1, len(ds.users))], PASSWORD),
            n_login,
            warmup=3,
        )
    )
    return figs


def bench_cold_open(ds: DataSet, runs: int) -> Figure:
    code = (
        "import time,sys; t=time.perf_counter();"
        "from parking_tui import open_service;"
        "svc=open_service(sys.argv[1]); tok=sys.argv[2];"
        "svc.lot_slots(tok, 1); svc.my_bookings(tok); svc.list_lots(tok);"
        "print(time.perf_counter()-t)"
    )
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code, str(ds.path), ds.tokens[ds.users[0]]],
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return Figure("open store cold + first queries", samples, note=f"fresh process x{runs}, incl. imports")


# --------------------------------------------------------------------------------- multi-process


def _mp_worker(target: str, now_iso: str, users: list[str], tokens: dict[str, str], slot_ids: list[int], seconds: float,
               seed: int, q) -> None:
    from .. import open_service
    from ..domain.errors import ParkingError

    now = datetime.fromisoformat(now_iso)
    svc = open_service(target, clock=lambda: now)
    held: list[float] = []
    store = getattr(svc.store, "files", svc.store)  # TinyDB: the store's files, which hold the data lock
    inner = getattr(store, "_locked", None)  # the TinyDB store's data lock: measure how long each write holds it
    if inner is not None:

        @contextmanager
        def measured():
            with inner():
                t0 = time.perf_counter()
                try:
                    yield
                finally:
                    held.append(time.perf_counter() - t0)

        store._locked = measured  # noqa: SLF001
    rnd = random.Random(seed)
    ok = conflicts = errors = 0
    took: list[float] = []
    prof = None
    if os.environ.get("PARKING_BENCH_PROFILE") and seed == 100:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        user = rnd.choice(users)
        start = now + timedelta(days=11, minutes=15 * rnd.randrange(0, 4 * 24 * 18))
        t0 = time.perf_counter()
        try:
            svc.create_booking(tokens[user], rnd.choice(slot_ids), start, start + timedelta(hours=1))
            ok += 1
        except ParkingError as exc:
            if exc.code == "conflict":
                conflicts += 1
            else:
                errors += 1
                if errors <= 2 and os.environ.get("PARKING_BENCH_ERRORS"):
                    print(f"bench worker: {exc}", flush=True)
        took.append(time.perf_counter() - t0)
    if prof is not None:
        prof.disable()
        prof.dump_stats(os.environ["PARKING_BENCH_PROFILE"])
    close = getattr(store, "close", None)
    if close is not None:
        close()
    q.put((ok, conflicts, errors, held, took))


def _collect(workers: list, q: Any, timeout: float) -> list:
    """Start the worker processes, take one result from each off ``q``, and wait for them to end."""
    for w in workers:
        w.start()
    results = [q.get(timeout=timeout) for _ in workers]
    for w in workers:
        w.join()
    return results


def bench_multiprocess(ds: DataSet, procs: int, seconds: float) -> tuple[Figure, dict[str, Any]]:
    """``procs`` processes booking random slots of every lot for ``seconds`` on the store at ``ds.path`` (a data
    file or a ``postgresql://`` URL)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    # Random slots of every lot, as the issue asks (same-slot races are the tests' job).
    slot_ids = [s["id"] for s in ds.slots]
    per = max(1, len(ds.users) // procs)
    workers = []
    for p in range(procs):
        users = ds.users[p * per : (p + 1) * per]
        toks = {u: ds.tokens[u] for u in users}
        w = ctx.Process(
            target=_mp_worker,
            args=(str(ds.path), ds.now.isoformat(), users, toks, slot_ids, seconds, 100 + p, q),
        )
        workers.append(w)
    load0 = os.getloadavg()
    results = _collect(workers, q, timeout=seconds + 180)
    ok = sum(r[0] for r in results)
    conflicts = sum(r[1] for r in results)
    errors = sum(r[2] for r in results)
    held = sorted(h for r in results for h in r[3])
    took = sorted(t for r in results for t in r[4])
    is_pg = str(ds.path).startswith(("postgresql://", "postgres://"))
    doubles = count_overlaps_pg(str(ds.path)) if is_pg else count_overlaps(ds.path)
    return Figure(f"{procs} processes booking for {seconds:g} s", []), {
        "store": "postgres" if is_pg else "tinydb",
        "procs": procs,
        "seconds": seconds,
        "bookings_per_s": ok / seconds,
        "attempts_per_s": (ok + conflicts + errors) / seconds,
        "bookings": ok,
        "conflicts": conflicts,
        "errors": errors,
        "double_bookings": doubles,
        "create_booking_p50_ms": statistics.median(took) * 1e3 if took else None,
        "create_booking_p99_ms": took[int(0.99 * (len(took) - 1))] * 1e3 if took else None,
        "lock_held_p50_ms": statistics.median(held) * 1e3 if held else None,
        "lock_held_p99_ms": held[int(0.99 * (len(held) - 1))] * 1e3 if held else None,
        "lock_busy_fraction": sum(held) / seconds if held else None,
        "load_average": [round(x, 2) for x in (load0 + os.getloadavg())],
    }


# The 8-process run's floors on PostgreSQL: what a booking costs with no checks at all, to show how far the
# service is from what the machine can do. "floor": a booking's minimum in one pipeline (BEGIN, the session's and
# the slot's locked reads, the INSERT, the audit line, COMMIT), one round trip; "function": the same work as one
# PL/pgSQL call, the shape a booking would take with its rules in the database. Neither is the product.
_FLOOR_FUNCTION = """
CREATE FUNCTION bench_floor_book(p_tok text, p_slot bigint, p_user text, p_start timestamptz, p_end timestamptz,
                                 p_code text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE s record; b bigint;
BEGIN
    PERFORM * FROM parking_session_locked(p_tok);
    SELECT * INTO s FROM parking_slot_locked(p_slot);
    INSERT INTO bookings (slot_id, lot_id, slot_number, username, start_time, end_time, status, confirmation_code,
                          created_at)
         VALUES (s.id, s.lot_id, s.slot_number, p_user, p_start, p_end, 'reserved', p_code, p_start)
      RETURNING id INTO b;
    INSERT INTO audit (at, "user", terminal, op, details, committed)
         VALUES (p_start, p_user, 'bench', 'create_booking', jsonb_build_object('booking_id', b), true);
    RETURN b;
END $$;
"""


def _floor_worker(url: str, kind: str, p: int, seconds: float, q) -> None:
    import psycopg

    conn = psycopg.connect(url, autocommit=True, prepare_threshold=0)
    toks = [r[0] for r in conn.execute("SELECT token_hash FROM sessions ORDER BY token_hash")]
    user = conn.execute("SELECT username FROM users ORDER BY username LIMIT 1").fetchone()[0]
    slots = conn.execute("SELECT id, lot_id, slot_number FROM slots ORDER BY id").fetchall()
    # Windows no other booking has (each process and each kind its own years): never a conflict.
    base = datetime(2100 if kind == "floor" else 2400, 1, 1, tzinfo=timezone.utc)
    n = errors = 0
    first_error = ""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        n += 1
        sid, lot, number = slots[(p * 7919 + n * 31) % len(slots)]
        start = base + timedelta(minutes=15 * (p * 1_000_000 + n))
        tok, code = toks[(p * 50 + n) % len(toks)], f"{kind}-{p}-{n}"
        try:
            _floor_booking(conn, kind, tok, sid, lot, number, user, start, code)
        except psycopg.Error as exc:
            errors += 1
            first_error = first_error or str(exc).splitlines()[0]
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
    conn.close()
    q.put((n - errors, errors, first_error))


def _floor_booking(conn: Any, kind: str, tok: str, sid: int, lot: int, number: str, user: str, start: datetime,
                   code: str) -> None:
    from psycopg.types.json import Jsonb

    with conn.pipeline():
        conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        if kind == "function":
            conn.execute("SELECT bench_floor_book(%s, %s, %s, %s, %s, %s)",
                         (tok, sid, user, start, start + timedelta(minutes=15), code))
        else:
            conn.execute("SELECT * FROM parking_session_locked(%s)", (tok,))
            conn.execute("SELECT * FROM parking_slot_locked(%s)", (sid,))
            conn.execute(
                "INSERT INTO bookings (slot_id, lot_id, slot_number, username, start_time, end_time, status,"
                " confirmation_code, created_at) VALUES (%s, %s, %s, %s, %s, %s, 'reserved', %s, %s)",
                (sid, lot, number, user, start, start + timedelta(minutes=15), code, start),
            )
            conn.execute(
                'INSERT INTO audit (at, "user", terminal, op, details, committed) VALUES (%s, %s, %s, %s, %s, %s)',
                (start, user, "bench", "create_booking", Jsonb({"booking": code}), True),
            )
        conn.execute("COMMIT")


def bench_pg_floor(url: str, procs: int, seconds: float) -> dict[str, Any]:
    """Bookings/s of ``procs`` processes for each floor (see ``_FLOOR_FUNCTION``), one after the other, on the
    PostgreSQL database at ``url`` (a copy of the data set: it is written to)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as c:
        c.execute(_FLOOR_FUNCTION)
    out: dict[str, Any] = {"procs": procs, "seconds": seconds}
    ctx = mp.get_context("spawn")
    for kind in ("floor", "function"):
        q = ctx.Queue()
        workers = [ctx.Process(target=_floor_worker, args=(url, kind, p, seconds, q)) for p in range(procs)]
        load0 = os.getloadavg()
        results = _collect(workers, q, timeout=seconds + 120)
        out[f"{kind}_per_s"] = sum(r[0] for r in results) / seconds
        out[f"{kind}_errors"] = sum(r[1] for r in results)
        out[f"{kind}_first_error"] = next((r[2] for r in results if r[2]), "")
        out[f"{kind}_load_average"] = [round(x, 2) for x in (load0 + os.getloadavg())]
    return out


def count_overlaps(path: Path) -> int:
    """Live bookings of one slot that overlap in time, read straight from the files (0 is the invariant)."""
    stem = path.name[:-5]
    by_slot: dict[int, list[tuple[str, str]]] = {}
    for f in path.parent.glob(f"{stem}.lot-*.json"):
        data = json.loads(f.read_bytes())
        for rec in data.get("bookings", {}).values():
            if rec["status"] in ("reserved", "checked_in"):
                by_slot.setdefault(rec["slot_id"], []).append((rec["start_time"], rec["end_time"]))
    bad = 0
    for windows in by_slot.values():
        windows.sort()
        for (s1, e1), (s2, e2) in zip(windows, windows[1:]):
            if datetime.fromisoformat(s2) < datetime.fromisoformat(e1):
                bad += 1
    return bad


# ---------------------------------------------------------------------------------- PostgreSQL


def count_overlaps_pg(url: str) -> int:
    """Live bookings of one slot that overlap in time, read straight from the tables (0 is the invariant)."""
    import psycopg

    with psycopg.connect(url) as c:
        (n,) = c.execute(
            "SELECT count(*) FROM bookings a JOIN bookings b ON a.slot_id = b.slot_id AND a.id < b.id"
            " AND a.during && b.during WHERE a.status IN ('reserved', 'checked_in')"
            " AND b.status IN ('reserved', 'checked_in')"
        ).fetchone()
    return int(n)


def load_postgres(ds: DataSet, url: str) -> float:
    """Copy the data set's files into the (empty) database at ``url`` with the bulk loader; seconds taken."""
    from ..domain.ports import SessionRow
    from ..storage import postgres, tinydb, transfer
    from ..storage.postgres.bulk import bulk_load

    t0 = time.perf_counter()
    src = tinydb.open_store(str(ds.path), backups=0)
    try:
        data: dict[str, list[Any]] = {k: [] for k in transfer.KINDS}
        for kind, row in transfer.rows(src):
            data[kind].append(row)
    finally:
        src.close()
    auth = json.loads(ds.path.with_name(ds.path.stem + ".auth.json").read_bytes())
    sessions = [
        SessionRow(s["token_hash"], s["username"], datetime.fromisoformat(s["created_at"]),
                   datetime.fromisoformat(s["expires_at"]))
        for s in auth.get("sessions", {}).values()
    ]
    dst = postgres.open_store(url)
    try:
        bulk_load(dst, users=data["user"], sessions=sessions, lots=data["lot"], slots=data["slot"],
                  bookings=data["booking"], audit=data["audit"])
    finally:
        dst.close()
    return time.perf_counter() - t0


class PostgresBench:
    """The data set in a PostgreSQL database, loaded once; each part of the run gets a fresh copy of it
    (``CREATE DATABASE ... TEMPLATE``, a file copy on the server), as each TinyDB part gets fresh files.

    Without a URL a throwaway server is started from the machine's binaries, with fsync and synchronous_commit
    on (as a real server runs), and removed at the end."""

    def __init__(self, ds: DataSet, url: str | None = None) -> None:
        self.ds = ds
        self.server = None
        if url is None:
            from ..storage.postgres.throwaway import ThrowawayServer

            self.server = ThrowawayServer(fsync=True)
            self.server.start()
            url = self.server.url()
        self.url = url
        self.prefix = f"parking_bench_{os.getpid()}_{int(time.time())}"
        self.made: list[str] = []
        self.seed = self._create(f"{self.prefix}_seed")
        self.load_seconds = load_postgres(ds, self._url(self.seed))
        import psycopg

        with psycopg.connect(self._url(self.seed), autocommit=True) as c:
            c.execute("VACUUM ANALYZE")

    def _url(self, name: str) -> str:
        return self.url.rsplit("/", 1)[0] + "/" + name

    def _admin(self):
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    def _create(self, name: str, template: str | None = None) -> str:
        with self._admin() as c:
            c.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        self.made.append(name)
        return name

    def fresh(self, part: str) -> DataSet:
        """A copy of the loaded data set for one part of the run."""
        name = self._create(f"{self.prefix}_{part}", template=self.seed)
        return replace(self.ds, path=self._url(name))  # type: ignore[arg-type]

    def close(self) -> None:
        try:
            with self._admin() as c:
                for name in reversed(self.made):
                    c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        except Exception:
            pass
        finally:
            if self.server is not None:
                self.server.destroy()


def pg_round_trips(ds: DataSet, n: int = 100) -> dict[str, dict[str, float]]:
    """Statements sent and round trips waited for, per service call, on the PostgreSQL store at ``ds.path``.

    Counted in this process by wrapping psycopg: a round trip is a wait for the server's answer (a statement
    outside a pipeline, a flush of the pipeline with answers pending, a pipeline sync or exit). The CPU each call
    costs is read too: this thread's, and the server processes' serving this store (from ``/proc``, so only for
    a server on this machine, at the kernel's clock-tick resolution)."""
    import psycopg
    from psycopg import _pipeline_base

    from .. import open_service

    counts = {"statements": 0, "round_trips": 0}
    leaving = [0]  # inside a pipeline's exit: its last fetch waits for the same answer as its sync
    originals = {
        "execute": psycopg.Cursor.execute,
        "executemany": psycopg.Cursor.executemany,
        "fetch": _pipeline_base.BasePipeline._fetch_gen,
        "sync": _pipeline_base.BasePipeline._sync_gen,
        "exit": _pipeline_base.BasePipeline._exit_gen,
    }

    def execute(self, query, params=None, **kw):
        counts["statements"] += 1
        if self._conn._pipeline is None:
            counts["round_trips"] += 1
        return originals["execute"](self, query, params, **kw)

    def executemany(self, query, params_seq, **kw):
        counts["statements"] += 1
        if self._conn._pipeline is None:
            counts["round_trips"] += 1
        return originals["executemany"](self, query, params_seq, **kw)

    def fetch(self, *, flush):
        if flush and self.result_queue and not leaving[0]:
            counts["round_trips"] += 1
        return originals["fetch"](self, flush=flush)

    def sync(self):
        counts["round_trips"] += 1
        return originals["sync"](self)

    def exit_(self):
        counts["round_trips"] += 1
        inner = originals["exit"](self)

        def outer():
            leaving[0] += 1
            try:
                return (yield from inner)
            finally:
                leaving[0] -= 1

        return outer()

    clock = Clock(ds.now)
    svc = open_service(str(ds.path), clock=clock)
    rnd = random.Random(23)
    slot_ids = [s["id"] for s in ds.slots]
    lot_ids = [lot["id"] for lot in ds.lots]
    admin = ds.tokens[ds.users[0]]
    band = ds.now + timedelta(days=20, minutes=30)
    made: list[tuple[str, int]] = []

    def create(i: int) -> None:
        user = ds.users[rnd.randrange(len(ds.users))]
        start = band + timedelta(hours=i)
        b = svc.create_booking(ds.tokens[user], rnd.choice(slot_ids), start, start + timedelta(minutes=45))
        made.append((user, b.id))

    def avail(i: int) -> None:
        start = ds.now + timedelta(days=rnd.randint(0, 6), minutes=15 * rnd.randint(0, 90))
        svc.available_slots(admin, rnd.choice(lot_ids), start, start + timedelta(hours=2))

    calls = [
        ("create_booking", create),
        ("cancel_booking", lambda i: svc.cancel_booking(ds.tokens[made[-1][0]], made.pop()[1])),
        ("available_slots(lot, window)", avail),
        ("lot_slots(lot)", lambda i: svc.lot_slots(admin, rnd.choice(lot_ids))),
        ("my_bookings", lambda i: svc.my_bookings(ds.tokens[ds.users[rnd.randrange(len(ds.users))]])),
        ("change_token(lot)", lambda i: svc.store.change_token(rnd.choice(lot_ids))),
    ]
    for i in range(3):
        create(-1 - i)
    with psycopg.connect(str(ds.path)) as c:
        backends = [r[0] for r in c.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'parking-tui' AND datname = current_database()"
        )]

    def server_cpu() -> float:
        """CPU seconds the store's server processes have used (readable when the server runs on this machine)."""
        total = 0.0
        for pid in backends:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, ValueError, IndexError):
                pass
        return total

    out: dict[str, dict[str, float]] = {}
    psycopg.Cursor.execute = execute
    psycopg.Cursor.executemany = executemany
    _pipeline_base.BasePipeline._fetch_gen = fetch
    _pipeline_base.BasePipeline._sync_gen = sync
    _pipeline_base.BasePipeline._exit_gen = exit_
    try:
        for name, fn in calls:
            counts.update(statements=0, round_trips=0)
            c0, s0 = time.thread_time(), server_cpu()
            for i in range(n):
                fn(i)
            out[name] = {k: v / n for k, v in counts.items()}
            out[name]["client_cpu_ms"] = (time.thread_time() - c0) / n * 1e3
            out[name]["server_cpu_ms"] = (server_cpu() - s0) / n * 1e3
    finally:
        psycopg.Cursor.execute = originals["execute"]
        psycopg.Cursor.executemany = originals["executemany"]
        _pipeline_base.BasePipeline._fetch_gen = originals["fetch"]
        _pipeline_base.BasePipeline._sync_gen = originals["sync"]
        _pipeline_base.BasePipeline._exit_gen = originals["exit"]
        svc.store.close()
    return out


# ---------------------------------------------------------------------------------- references


def bench_stock_tinydb(ds: DataSet, workdir: Path, n: int) -> list[Figure]:
    """The obvious implementation: default JSONStorage, everything in one file, queries with Query()."""
    from tinydb import Query, TinyDB

    src = ds.path
    stem = src.name[:-5]
    bookings: list[dict] = []
    for f in sorted(src.parent.glob(f"{stem}.*.json")):
        data = json.loads(f.read_bytes())
        if ".lot-" in f.name or ".archive-" in f.name:
            bookings.extend(data.get("bookings", {}).values())
    path = workdir / "stock.json"
    db = TinyDB(path)
    db.table("slots").insert_multiple(ds.slots)
    db.table("bookings").insert_multiple(bookings)
    db.close()
    db = TinyDB(path)
    B = Query()
    rnd = random.Random(5)
    slot_ids = [s["id"] for s in ds.slots]
    band = ds.now + timedelta(days=12)

    def create(i: int) -> None:
        slot = rnd.choice(slot_ids)
        start = band + timedelta(hours=1000 + i)
        end = start + timedelta(minutes=45)
        s, e = _stamp(start), _stamp(end)
        live = db.table("bookings").search(
            (B.slot_id == slot) & B.status.one_of(["reserved", "checked_in"]) & (B.start_time < e) & (B.end_time > s)
        )
        if not live:
            db.table("bookings").insert({"slot_id": slot, "start_time": s, "end_time": e, "status": "reserved", "username": "x"})

    def avail(i: int) -> None:
        lot = rnd.choice(ds.lots)["id"]
        start = ds.now + timedelta(days=rnd.randint(0, 6))
        s, e = _stamp(start), _stamp(start + timedelta(hours=2))
        busy = {
            b["slot_id"]
            for b in db.table("bookings").search(
                (B.lot_id == lot) & B.status.one_of(["reserved", "checked_in"]) & (B.start_time < e) & (B.end_time > s)
            )
        }
        [x for x in db.table("slots").search(B.lot_id == lot) if x["id"] not in busy]

    figs = [
        timed("stock TinyDB create_booking", create, n, warmup=1, note=f"{len(bookings):,} bookings in one file"),
        timed("stock TinyDB available_slots", avail, n, warmup=1),
    ]
    db.close()
    return figs


def bench_sqlite(ds: DataSet, workdir: Path, n: int) -> list[Figure]:
    """What an engineer might pick instead: SQLite, WAL, synchronous=FULL, an index on (slot_id, start)."""
    src = ds.path
    stem = src.name[:-5]
    path = workdir / "ref.sqlite"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE slots(id INTEGER PRIMARY KEY, lot_id INT, slot_number TEXT, admin_status TEXT)")
    con.execute(
        "CREATE TABLE bookings(id INTEGER PRIMARY KEY, slot_id INT, lot_id INT, username TEXT, start_time TEXT, "
        "end_time TEXT, status TEXT, code TEXT)"
    )
    con.execute("CREATE INDEX b_slot ON bookings(slot_id, status, start_time)")
    con.execute("CREATE INDEX b_user ON bookings(username, status)")
    con.execute("CREATE INDEX b_lot ON bookings(lot_id, status, start_time)")
    con.execute("BEGIN")
    con.executemany("INSERT INTO slots VALUES(?,?,?,?)", [(s["id"], s["lot_id"], s["slot_number"], s["admin_status"]) for s in ds.slots])
    for f in sorted(src.parent.glob(f"{stem}.*.json")):
        if ".lot-" in f.name or ".archive-" in f.name:
            rows = json.loads(f.read_bytes()).get("bookings", {})
            con.executemany(
                "INSERT INTO bookings VALUES(?,?,?,?,?,?,?,?)",
                [
                    (int(k), r["slot_id"], r["lot_id"], r["username"], r["start_time"], r["end_time"], r["status"], r["confirmation_code"])
                    for k, r in rows.items()
                ],
            )
    con.execute("COMMIT")
    rnd = random.Random(5)
    slot_ids = [s["id"] for s in ds.slots]
    band = ds.now + timedelta(days=12)

    def create(i: int) -> None:
        slot = rnd.choice(slot_ids)
        user = rnd.choice(ds.users)
        start = band + timedelta(hours=1000 + i)
        s, e = _stamp(start), _stamp(start + timedelta(minutes=45))
        con.execute("BEGIN IMMEDIATE")
        clash = con.execute(
            "SELECT 1 FROM bookings WHERE slot_id=? AND status IN ('reserved','checked_in') AND start_time<? AND end_time>? LIMIT 1",
            (slot, e, s),
        ).fetchone()
        hoard = con.execute(
            "SELECT 1 FROM bookings WHERE username=? AND status IN ('reserved','checked_in') AND start_time<? AND end_time>? LIMIT 1",
            (user, e, s),
        ).fetchone()
        if not clash and not hoard:
            con.execute(
                "INSERT INTO bookings(slot_id, lot_id, username, start_time, end_time, status, code) VALUES(?,?,?,?,?,?,?)",
                (slot, 0, user, s, e, "reserved", secrets.token_hex(4)),
            )
        con.execute("COMMIT")

    def avail(i: int) -> None:
        lot = rnd.choice(ds.lots)["id"]
        start = ds.now + timedelta(days=rnd.randint(0, 6))
        s, e = _stamp(start), _stamp(start + timedelta(hours=2))
        con.execute(
            "SELECT id, slot_number FROM slots WHERE lot_id=? AND admin_status='available' AND id NOT IN ("
            "SELECT slot_id FROM bookings WHERE lot_id=? AND status IN ('reserved','checked_in') AND start_time<? AND end_time>?)",
            (lot, lot, e, s),
        ).fetchall()

    figs = [timed("SQLite WAL create_booking", create, n), timed("SQLite WAL available_slots", avail, n)]
    con.close()
    return figs


# --------------------------------------------------------------------------------------------- TUI


# ---------------------------------------------------------------------------------------- HTTP API


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far (Linux ``/proc``; ``None`` elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


@contextmanager
def api_server(path: Path, workers: int = 1, pids: list[int] | None = None):
    """``parking-tui api`` on the data set, in a subprocess on a free port; yields its base URL. With one
    worker the server is that subprocess; its pid goes into ``pids``."""
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKING_TUI_")}
    log = path.parent / f"api-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "parking_tui", "api", "--db", str(path), "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    if pids is not None:
        pids.append(proc.pid)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the API server exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{url}/api/schema/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the API server did not answer within 60 s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _Http:
    """A minimal keep-alive HTTP/1.1 client (the standard library's), so the figures are the server's and the
    network's, not a client library's."""

    def __init__(self, url: str) -> None:
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)

    def request(self, method: str, path: str, token: str, body: Any = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Token {token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def close(self) -> None:
        self.conn.close()


def bench_api(ds: DataSet, n: int) -> list[Figure]:
    """create_booking and available slots through ``parking-tui api`` (one process) and in this process, the
    ``bench_service`` workload, one operation of each door in turn: both doors are measured at the same
    moments of a shared, noisy machine, on the same data. HTTP goes over one keep-alive connection."""
    from urllib.parse import urlencode

    from .. import open_service

    rnd = random.Random(11)
    lot_ids = [lot["id"] for lot in ds.lots]
    slot_ids = [s["id"] for s in ds.slots]
    admin = ds.tokens[ds.users[0]]
    band = ds.now + timedelta(days=12)
    svc = open_service(ds.path)  # the real clock, as the server's
    hours = iter(range(1, 10**6))

    def window() -> tuple[str, int, datetime, datetime]:
        start = band + timedelta(hours=next(hours))
        return ds.users[rnd.randrange(len(ds.users))], rnd.choice(slot_ids), start, start + timedelta(minutes=45)

    def a_window() -> tuple[int, datetime, datetime]:
        start = ds.now + timedelta(days=rnd.randint(1, 6), minutes=15 * rnd.randint(0, 90))
        return rnd.choice(lot_ids), start, start + timedelta(hours=2)

    pids: list[int] = []
    with api_server(ds.path, pids=pids) as url:
        client = _Http(url)

        def http_create() -> None:
            user, slot, start, end = window()
            body = {"slot_id": slot, "start_time": start.isoformat(), "end_time": end.isoformat()}
            status, text = client.request("POST", "/api/booking/create/", ds.tokens[user], body)
            if status != 201:
                raise RuntimeError(f"create_booking over HTTP answered {status}: {text[:200]!r}")

        def local_create() -> None:
            user, slot, start, end = window()
            svc.create_booking(ds.tokens[user], slot, start, end)

        def http_avail() -> None:
            lot, start, end = a_window()
            query = urlencode({"lot": lot, "start_time": start.isoformat(), "end_time": end.isoformat()})
            status, text = client.request("GET", f"/api/slots/available/?{query}", admin)
            if status != 200:
                raise RuntimeError(f"available slots over HTTP answered {status}: {text[:200]!r}")

        def local_avail() -> None:
            svc.available_slots(admin, *a_window())

        def local_profile() -> None:
            svc.profile(admin)

        def http_profile() -> None:
            client.request("GET", "/api/auth/profile/", admin)

        figs: list[Figure] = []
        for label, local, http in (
            ("create_booking", local_create, http_create),
            ("available_slots(lot, window)", local_avail, http_avail),
            ("profile", local_profile, http_profile),
        ):
            for _ in range(10):
                local()
                http()
            gc.collect()
            pair: dict[str, list[float]] = {"local": [], "http": []}
            local_cpu = 0.0
            server_cpu0 = process_cpu(pids[0])
            for _ in range(n):
                c0 = time.thread_time()
                t0 = time.perf_counter()
                local()
                pair["local"].append(time.perf_counter() - t0)
                local_cpu += time.thread_time() - c0
                t0 = time.perf_counter()
                http()
                pair["http"].append(time.perf_counter() - t0)
            server_cpu1 = process_cpu(pids[0])
            server_ms = (server_cpu1 - server_cpu0) / n * 1e3 if server_cpu0 is not None and server_cpu1 is not None else float("nan")
            figs.append(Figure(f"{label}, in-process (paired)", pair["local"], f"CPU {local_cpu / n * 1e3:.2f} ms/op"))
            figs.append(Figure(f"{label}, HTTP (paired)", pair["http"], f"server CPU {server_ms:.2f} ms/request"))
        client.close()
    return figs


def bench_api_concurrent(ds: DataSet, clients: int, workers: int, seconds: float) -> dict[str, Any]:
    """``clients`` HTTP clients booking at once against ``parking-tui api --workers N``, the multi-process
    workload (random slots of every lot, 1-hour windows 11+ days ahead). Each client is a thread with its own
    keep-alive connection (the standard library's client: light, so the clients do not starve the server)."""
    import threading

    slot_ids = [s["id"] for s in ds.slots]
    per = max(1, len(ds.users) // clients)
    statuses: dict[int, int] = {}
    guard = threading.Lock()

    def client(c: int, url: str, gate: threading.Barrier, stop: list[float]) -> None:
        rnd = random.Random(500 + c)
        users = ds.users[c * per : (c + 1) * per]
        http = _Http(url)
        seen: dict[int, int] = {}
        gate.wait()
        while time.monotonic() < stop[0]:
            user = rnd.choice(users)
            start = ds.now + timedelta(days=11, minutes=15 * rnd.randrange(0, 4 * 24 * 18))
            body = {"slot_id": rnd.choice(slot_ids), "start_time": start.isoformat(),
                    "end_time": (start + timedelta(hours=1)).isoformat()}
            status, _ = http.request("POST", "/api/booking/create/", ds.tokens[user], body)
            seen[status] = seen.get(status, 0) + 1
        http.close()
        with guard:
            for k, v in seen.items():
                statuses[k] = statuses.get(k, 0) + v

    with api_server(ds.path, workers=workers) as url:
        gate = threading.Barrier(clients + 1)
        stop = [float("inf")]
        threads = [threading.Thread(target=client, args=(c, url, gate, stop)) for c in range(clients)]
        for t in threads:
            t.start()
        gate.wait()
        stop[0] = time.monotonic() + seconds
        for t in threads:
            t.join(seconds + 120)
    ok, conflicts = statuses.get(201, 0), statuses.get(409, 0)
    return {
        "clients": clients,
        "workers": workers,
        "seconds": seconds,
        "bookings_per_s": ok / seconds,
        "attempts_per_s": sum(statuses.values()) / seconds,
        "bookings": ok,
        "conflicts": conflicts,
        "errors": sum(statuses.values()) - ok - conflicts,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "double_bookings": count_overlaps(ds.path),
    }


def bench_tui(ds: DataSet, n: int) -> dict[str, Any]:
    """Headless figures of the Textual app, measured with ``run_test`` in this process."""
    from . import tui as tui_bench

    return tui_bench.run(ds, n)


# -------------------------------------------------------------------------------------------- main


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m parking_tui.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", choices=sorted(SCALES), default="full")
    ap.add_argument("--ops", type=int, default=200, help="timed operations per figure (default 200)")
    ap.add_argument("--ref-ops", type=int, default=None, help="operations against stock TinyDB (default: 5 at full scale, else --ops)")
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--tui", action="store_true", help="also measure the Textual app headless")
    ap.add_argument(
        "--api",
        action="store_true",
        help="also measure the HTTP API (needs the 'api' extra): create_booking and available slots over HTTP, "
        "and --clients HTTP clients booking against --api-workers processes",
    )
    ap.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients for --api (default 16)")
    ap.add_argument("--api-workers", type=int, default=2, help="API processes for the --api concurrent run (default 2)")
    ap.add_argument("--api-rounds", type=int, default=3, help="rounds of in-process vs HTTP throughput (default 3)")
    ap.add_argument(
        "--store",
        choices=["tinydb", "postgres", "both"],
        default="tinydb",
        help="the store(s) the service figures and the multi-process run are measured on (default tinydb): "
        "postgres moves the same data set into a PostgreSQL database (a throwaway server with fsync on, or "
        "--pg-url); both measures the two in one run, part by part, side by side",
    )
    ap.add_argument("--pg-url", metavar="URL", help="a PostgreSQL server to use for --store postgres (its role must "
                    "be able to create a database)")
    ap.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    ap.add_argument("--keep", metavar="DIR", help="build the data set in DIR and keep it")
    ap.add_argument(
        "--only",
        choices=["service", "mp", "refs", "tui", "api"],
        action="append",
        help="run only these parts (repeatable; default: all but tui, plus tui with --tui)",
    )
    args = ap.parse_args(argv)

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="parking-bench-"))
    try:
        return _bench(args, work)
    finally:
        # The data set is removed however the run ends (a part that raises, Ctrl+C), unless --keep asked for it.
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _bench(args: argparse.Namespace, work: Path) -> int:
    """The benchmark itself, on the data set built in ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / "parking.json"
    for old in work.glob("parking*"):  # a data set kept by an earlier --keep run: its backups are a folder
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()
    t0 = time.perf_counter()
    ds = build_dataset(path, args.scale)
    load_s = time.perf_counter() - t0
    print(
        f"data set ({args.scale}): {ds.counts['lots']} lots, {ds.counts['slots']:,} slots, "
        f"{ds.counts['finished']:,} finished + {ds.counts['live']:,} live bookings, {ds.counts['users']:,} users; "
        f"{data_size(path) / 1e6:.1f} MB on disk, loaded in {load_s:.1f} s",
        flush=True,
    )
    pristine = work / "pristine"
    shutil.rmtree(pristine, ignore_errors=True)
    pristine.mkdir()
    for f in work.glob("parking*.json"):
        shutil.copy2(f, pristine / f.name)

    parts = set(args.only or ["service", "mp", "refs"] + (["tui"] if args.tui else []) + (["api"] if args.api else []))
    stores = ["tinydb", "postgres"] if args.store == "both" else [args.store]
    figs: list[Figure] = []
    loads: dict[str, list[float]] = {}  # the load average (1, 5, 15 min) before and after each part

    def part(name: str, fn: Callable[[], Any]) -> Any:
        before = os.getloadavg()
        out = fn()
        loads[name] = [round(x, 2) for x in before + os.getloadavg()]
        print(f"{name} done (load average {loads[name][0]:.1f} -> {loads[name][3]:.1f})", flush=True)
        return out

    pg = None
    pg_res: dict[str, Any] = {}
    if "postgres" in stores and parts & {"service", "mp"}:
        pg = PostgresBench(ds, args.pg_url)
        pg_res["load_seconds"] = pg.load_seconds
        print(f"PostgreSQL: data set loaded in {pg.load_seconds:.1f} s", flush=True)
    mp_res = None
    try:
        if "service" in parts:
            for store in stores:
                if store == "tinydb":
                    figs.append(part("cold open", lambda: bench_cold_open(_restore(ds, pristine, work), runs=10)))
                    figs += part("service", lambda: bench_service(_restore(ds, pristine, work), args.ops))
                else:
                    assert pg is not None
                    cold = part("cold open [postgres]", lambda: bench_cold_open(pg.fresh("cold"), runs=10))
                    pg_figs = [cold] + part("service [postgres]", lambda: bench_service(pg.fresh("service"), args.ops))
                    for f in pg_figs:
                        f.name = f"{f.name} [postgres]"
                    figs += pg_figs
                    pg_res["round_trips"] = part("round trips [postgres]", lambda: pg_round_trips(pg.fresh("trips")))
        if "mp" in parts:
            for store in stores:
                if store == "tinydb":
                    _, mp_res = part(
                        "multi-process", lambda: bench_multiprocess(_restore(ds, pristine, work), args.procs, args.seconds)
                    )
                else:
                    assert pg is not None
                    _, pg_res["multiprocess"] = part(
                        "multi-process [postgres]", lambda: bench_multiprocess(pg.fresh("mp"), args.procs, args.seconds)
                    )
                    pg_res["floor"] = part(
                        "floors [postgres]",
                        lambda: bench_pg_floor(str(pg.fresh("floor").path), args.procs, args.seconds),
                    )
    finally:
        if pg is not None:
            pg.close()
    if "refs" in parts:
        ref_ops = args.ref_ops if args.ref_ops is not None else (5 if args.scale == "full" else args.ops)
        figs += part("stock TinyDB", lambda: bench_stock_tinydb(_restore(ds, pristine, work), work, ref_ops))
        figs += part("SQLite", lambda: bench_sqlite(_restore(ds, pristine, work), work, args.ops))
    api_res = None
    if "api" in parts:
        figs += bench_api(_restore(ds, pristine, work), args.ops)
        print("HTTP API done", flush=True)
        # Throughput: in-process processes and HTTP clients in turn, a few short rounds each, so that the
        # machine's load falls on both alike; the medians are compared.
        rounds = []
        for r in range(args.api_rounds):
            _, local = bench_multiprocess(_restore(ds, pristine, work), args.procs, args.seconds)
            http = bench_api_concurrent(_restore(ds, pristine, work), args.clients, args.api_workers, args.seconds)
            rounds.append((local, http))
            print(f"HTTP API round {r + 1}: {local['bookings_per_s']:.0f} in-process vs {http['bookings_per_s']:.0f} "
                  "HTTP bookings/s", flush=True)
        api_res = {
            "clients": args.clients,
            "workers": args.api_workers,
            "procs": args.procs,
            "seconds": args.seconds,
            "rounds": [{"in_process": lo, "http": ht} for lo, ht in rounds],
            "in_process_bookings_per_s": statistics.median(lo["bookings_per_s"] for lo, _ in rounds),
            "http_bookings_per_s": statistics.median(ht["bookings_per_s"] for _, ht in rounds),
            "double_bookings": sum(lo["double_bookings"] + ht["double_bookings"] for lo, ht in rounds),
            "http_errors": sum(ht["errors"] for _, ht in rounds),
        }
        api_res["ratio"] = api_res["http_bookings_per_s"] / api_res["in_process_bookings_per_s"]
    tui = bench_tui(_restore(ds, pristine, work), args.ops) if "tui" in parts else None

    by = {f.name: f for f in figs}
    ratios = {}
    for label, ours, theirs in (
        ("create_booking vs stock TinyDB", "create_booking", "stock TinyDB create_booking"),
        ("available_slots vs stock TinyDB", "available_slots(lot, window)", "stock TinyDB available_slots"),
        ("create_booking vs SQLite WAL", "create_booking", "SQLite WAL create_booking"),
        ("available_slots vs SQLite WAL", "available_slots(lot, window)", "SQLite WAL available_slots"),
    ):
        if ours in by and theirs in by:
            ratios[label] = by[ours].p50 / by[theirs].p50
    print()
    print(f"{'figure':<52} {'n':>5} {'p50 ms':>10} {'p99 ms':>10} {'CPU ms':>8}")
    print("-" * 86)
    for f in figs:
        cpu = f"{f.cpu * 1e3:>8.2f}" if f.cpu is not None else " " * 8
        print(f"{f.name:<52} {len(f.samples):>5} {f.p50 * 1e3:>10.2f} {f.p99 * 1e3:>10.2f} {cpu}  {f.note}")
    print("-" * 76)
    side = [(f.name, f, by.get(f"{f.name} [postgres]")) for f in figs if f"{f.name} [postgres]" in by]
    if side:
        print(f"{'side by side, p50 / p99 ms':<52} {'TinyDB':>17} {'PostgreSQL':>17} {'ratio':>6}")
        for name, tiny, pgf in side:
            print(f"{name:<52} {tiny.p50 * 1e3:>8.2f}/{tiny.p99 * 1e3:<8.2f} "
                  f"{pgf.p50 * 1e3:>8.2f}/{pgf.p99 * 1e3:<8.2f}"
                  f" {pgf.p50 / tiny.p50:>6.2f}")
        print("-" * 76)
    for label, res in (("TinyDB", mp_res), ("PostgreSQL", pg_res.get("multiprocess"))):
        if not res:
            continue
        print(
            f"{label}: {res['procs']} processes booking for {res['seconds']:g} s: "
            f"{res['bookings_per_s']:.0f} bookings/s "
            f"({res['attempts_per_s']:.0f} attempts/s, {res['conflicts']} conflicts, {res['errors']} errors), "
            f"double bookings: {res['double_bookings']}; create_booking under that load p50 "
            f"{res['create_booking_p50_ms']:.1f} ms, p99 {res['create_booking_p99_ms']:.1f} ms"
        )
        if res.get("lock_held_p50_ms") is not None:
            print(
                f"{'':<12}lock held p50 {res['lock_held_p50_ms']:.1f} ms, p99 {res['lock_held_p99_ms']:.1f} ms, "
                f"busy {res['lock_busy_fraction']:.0%} of the time"
            )
    floor = pg_res.get("floor")
    if floor:
        print(
            f"PostgreSQL floors, {floor['procs']} processes for {floor['seconds']:g} s, no checks: one pipeline "
            f"{floor['floor_per_s']:.0f} bookings/s, one server-side call {floor['function_per_s']:.0f} bookings/s "
            f"({floor['floor_errors'] + floor['function_errors']} errors)"
        )
    if mp_res and pg_res.get("multiprocess") and mp_res["bookings_per_s"]:
        ratio = pg_res["multiprocess"]["bookings_per_s"] / mp_res["bookings_per_s"]
        print(f"PostgreSQL / TinyDB bookings/s: {ratio:.1f}x")
    for name, rt in pg_res.get("round_trips", {}).items():
        print(f"PostgreSQL {name:<34} {rt['statements']:5.1f} statements, {rt['round_trips']:5.1f} round trips, "
              f"CPU {rt['client_cpu_ms']:.2f} ms here + {rt['server_cpu_ms']:.2f} ms in the server")
    for name, la in loads.items():
        print(f"load average around {name:<28} {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} -> {la[3]:.2f} {la[4]:.2f} {la[5]:.2f}")
    for name, r in ratios.items():
        print(f"ratio ours / theirs, {name:<32} {r:8.3f}")
    api_vs = {}
    for label in ("create_booking", "available_slots(lot, window)", "profile"):
        local, http = by.get(f"{label}, in-process (paired)"), by.get(f"{label}, HTTP (paired)")
        if local and http:
            api_vs[label] = {"http_p50_ms": http.p50 * 1e3, "in_process_p50_ms": local.p50 * 1e3,
                             "extra_ms": (http.p50 - local.p50) * 1e3}
            print(f"HTTP - in-process p50, {label:<30} {api_vs[label]['extra_ms']:+8.2f} ms")
    if api_res:
        print(
            f"{api_res['clients']} HTTP clients on --workers {api_res['workers']} vs {api_res['procs']} processes in "
            f"turn, {len(api_res['rounds'])} rounds of {api_res['seconds']:g} s: median {api_res['http_bookings_per_s']:.0f} "
            f"vs {api_res['in_process_bookings_per_s']:.0f} bookings/s = {api_res['ratio']:.0%}; "
            f"double bookings: {api_res['double_bookings']}, HTTP errors: {api_res['http_errors']}"
        )
    if tui:
        for k, v in tui.items():
            print(f"TUI {k:<36} {v}")
    print(f"peak RSS of this process: {rss_mb():.0f} MB")
    if args.json:
        out = {
            "scale": args.scale,
            "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "counts": ds.counts,
            "load_seconds": load_s,
            "figures": {
                f.name: {"n": len(f.samples), "p50_ms": f.p50 * 1e3, "p99_ms": f.p99 * 1e3,
                         "cpu_ms": f.cpu * 1e3 if f.cpu is not None else None}
                for f in figs
            },
            "multiprocess": mp_res,
            "ratios": ratios,
            "api_vs_in_process": api_vs,
            "api_throughput": api_res,
            "tui": tui,
            "postgres": pg_res or None,
            "load_average": loads,
        }
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


def _restore(ds: DataSet, pristine: Path, work: Path) -> DataSet:
    """Put the freshly loaded data set back, so each part measures the same data."""
    for f in work.glob("parking*.json"):
        f.unlink()
    for f in pristine.glob("*.json"):
        shutil.copy2(f, work / f.name)
    return ds

