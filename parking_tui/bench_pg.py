"""The benchmark's PostgreSQL part (``python -m parking_tui.bench --store postgres``): the same data set, moved
into a PostgreSQL database with the bulk loader, then the same service figures and the same multi-process run.

Without ``--pg-url`` a throwaway server is started from the machine's binaries, with fsync ON (as a real server
runs), and removed afterwards.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import statistics
import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any


def load(ds: Any, url: str) -> float:
    """Copy the data set's files into the database at ``url``; seconds taken."""
    from .domain.ports import SessionRow
    from .storage import postgres, tinydb, transfer
    from .storage.postgres.bulk import bulk_load

    t0 = time.perf_counter()
    src = tinydb.open_store(ds.path, backups=0)
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


def _worker(url: str, now_iso: str, users: list[str], tokens: dict[str, str], slot_ids: list[int], seconds: float,
            seed: int, q) -> None:
    from . import open_service
    from .domain.errors import ParkingError

    now = datetime.fromisoformat(now_iso)
    svc = open_service(url, clock=lambda: now)
    rnd = random.Random(seed)
    ok = conflicts = errors = 0
    took: list[float] = []
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
    svc.store.close()
    q.put((ok, conflicts, errors, took))


def overlaps(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as c:
        (n,) = c.execute(
            "SELECT count(*) FROM bookings a JOIN bookings b ON a.slot_id = b.slot_id AND a.id < b.id"
            " AND a.during && b.during WHERE a.status IN ('reserved', 'checked_in')"
            " AND b.status IN ('reserved', 'checked_in')"
        ).fetchone()
    return int(n)


def multiprocess(ds: Any, url: str, procs: int, seconds: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    slot_ids = [s["id"] for s in ds.slots]
    per = max(1, len(ds.users) // procs)
    workers = []
    for p in range(procs):
        users = ds.users[p * per : (p + 1) * per]
        workers.append(ctx.Process(target=_worker, args=(url, ds.now.isoformat(), users, {u: ds.tokens[u] for u in users},
                                                         slot_ids, seconds, 100 + p, q)))
    for w in workers:
        w.start()
    results = [q.get(timeout=seconds + 180) for _ in workers]
    for w in workers:
        w.join()
    ok = sum(r[0] for r in results)
    conflicts = sum(r[1] for r in results)
    errors = sum(r[2] for r in results)
    took = sorted(t for r in results for t in r[3])
    return {
        "bookings_per_s": ok / seconds,
        "attempts_per_s": (ok + conflicts + errors) / seconds,
        "bookings": ok,
        "conflicts": conflicts,
        "errors": errors,
        "double_bookings": overlaps(url),
        "create_booking_p50_ms": statistics.median(took) * 1e3 if took else None,
        "create_booking_p99_ms": took[int(0.99 * (len(took) - 1))] * 1e3 if took else None,
    }


def run(ds: Any, *, ops: int, procs: int, seconds: float, url: str | None = None) -> tuple[list[Any], dict[str, Any]]:
    """The PostgreSQL figures (named ``... [postgres]``) and the multi-process result."""
    from .bench import bench_service
    from .storage.postgres.throwaway import ThrowawayServer

    server = None
    if url is None:
        server = ThrowawayServer(fsync=True)
        server.start()
        url = server.url()
    try:
        # a database of its own, created empty, then loaded
        import psycopg

        with psycopg.connect(url, autocommit=True) as c:
            name = f"parking_bench_{int(time.time())}"
            c.execute(f"CREATE DATABASE {name}")
        db_url = url.rsplit("/", 1)[0] + "/" + name
        load_s = load(ds, db_url)
        print(f"PostgreSQL: data set loaded in {load_s:.1f} s", flush=True)
        figs = bench_service(replace(ds, path=db_url), ops)
        for f in figs:
            f.name = f"{f.name} [postgres]"
        print("PostgreSQL service done", flush=True)
        mp_res = multiprocess(ds, db_url, procs, seconds)
        mp_res["load_seconds"] = load_s
        print("PostgreSQL multi-process done", flush=True)
        with psycopg.connect(url, autocommit=True) as c:
            c.execute(f"DROP DATABASE {name} WITH (FORCE)")
        return figs, mp_res
    finally:
        if server is not None:
            server.destroy()
