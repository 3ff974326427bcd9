"""The TUI figures of the benchmark (``python -m parking_tui.bench --tui``), measured headless with ``run_test``.

* login screen ready: from entering ``run_test`` until the sign-in screen is mounted with its username field
  focused, against a bare ``textual.app.App`` holding one ``Input`` measured the same way in the same run (in this
  process, imports done); and the same from a cold start (a fresh Python, imports included);
* the big lot's map painted: on the lot browser, the big lot highlighted, Enter - until the grid holds every slot
  and has drawn its lines;
* a change by another process visible: a subprocess books a free slot of the open map's lot; from the booking's
  return until the map shows the slot reserved (the map polls the store's version);
* memory: VmRSS of a fresh process that only opens the app headless on the data file, with the big lot's map
  open over the lot browser.

Each figure is the median of several runs. Targets are read from the figures, never asserted in a test.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runner import DataSet

SIZE = (120, 40)
POLL = 0.005  # seconds between checks while waiting for the screen
TIMEOUT = 30.0


async def _until(pilot, done, timeout: float = TIMEOUT) -> None:
    """Let the app run on its own (its own timers paint the screen, as in a terminal) until ``done()`` holds."""
    give_up = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > give_up:
            raise TimeoutError("the screen did not get there in time")
        await asyncio.sleep(POLL)


# ------------------------------------------------------------------------------------------- login


async def _bare_ready() -> float:
    from textual.app import App, ComposeResult
    from textual.widgets import Input

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Input(id="name")

    app = Bare()
    t0 = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: app.focused is not None and app.focused.id == "name")
        elapsed = time.perf_counter() - t0
    return elapsed


async def _login_ready(svc) -> float:
    from ..tui.app import make_app
    from ..tui.screens.login import LoginScreen

    app = make_app(svc)

    def ready() -> bool:
        return (
            isinstance(app.screen, LoginScreen)
            and app.screen.is_mounted
            and app.focused is not None
            and app.focused.id == "login-username"
        )

    t0 = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, ready)
        elapsed = time.perf_counter() - t0
    return elapsed


_COLD_SCRIPT = r"""
import asyncio, sys
which, path = sys.argv[1], sys.argv[2]

async def main():
    if which == "bare":
        from textual.app import App
        from textual.widgets import Input

        class Bare(App):
            def compose(self):
                yield Input(id="name")

        app = Bare()
        ready = lambda: app.focused is not None and app.focused.id == "name"
    else:
        from parking_tui import open_service
        from parking_tui.tui.app import make_app
        from parking_tui.tui.screens.login import LoginScreen

        if which == "eager":  # the store opened before the app starts (as with no terminal)
            app = make_app(open_service(path))
        else:  # as the command line starts it in a terminal: the store opens behind the sign-in screen
            app = make_app(opener=lambda: open_service(path))
        ready = lambda: (isinstance(app.screen, LoginScreen) and app.focused is not None
                         and app.focused.id == "login-username")
    async with app.run_test(size=(120, 40)):
        while not ready():
            await asyncio.sleep(0.005)
        print("ready", flush=True)
        if which != "bare":
            while not app.service_open:
                await asyncio.sleep(0.005)
        print("open", flush=True)

asyncio.run(main())
"""


def _compile_program() -> None:
    """Write the program's bytecode before the cold starts, as installing it does: Textual's comes compiled from
    pip, and a checkout run with ``PYTHONDONTWRITEBYTECODE`` (or edited since its last run) would otherwise compile
    the program's modules in every cold start and count that against it."""
    import compileall
    from pathlib import Path

    compileall.compile_dir(str(Path(__file__).resolve().parent.parent), quiet=1)


def _cold_ready(which: str, path) -> tuple[float, float]:
    """Seconds from starting a fresh Python until its login screen (or the bare app's Input) is ready, and until
    its store is open too (``which``: ``bare``, ``ours`` as the command line starts it in a terminal, or
    ``eager``: the store opened before the app starts)."""
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _COLD_SCRIPT, which, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    ready = time.perf_counter() - t0
    opened = proc.stdout.readline()
    open_s = time.perf_counter() - t0
    _, err = proc.communicate(timeout=60)
    if not line.startswith(b"ready") or not opened.startswith(b"open"):
        raise RuntimeError(f"the {which} app did not start: {err.decode()[-800:]}")
    return ready, open_s


# --------------------------------------------------------------------------------------------- map


def _driver(ds: DataSet) -> str:
    """A driver (not the admin) with a session."""
    return next(u for u in ds.users[1:] if u in ds.tokens)


async def _open_big_map(svc, ds: DataSet, *, changes: int = 0) -> dict[str, Any]:
    """Start signed in, choose the big lot, press Enter; time until the map is painted. Then, ``changes``
    times, let another process book a slot of the lot and time until the open map shows it."""
    from ..tui.app import make_app
    from ..tui.screens.lots import LotBrowserScreen, LotList
    from ..tui.screens.slot_map import SlotMapScreen
    from ..tui.widgets.slot_grid import SlotGrid

    token = ds.tokens[_driver(ds)]
    app = make_app(svc, session_token=token)
    total = svc.get_lot(token, ds.big_lot_id).total_slots
    out: dict[str, Any] = {"changes": []}
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: isinstance(app.screen, LotBrowserScreen) and bool(app.screen.rows))
        screen = app.screen
        lots = screen.query_one(LotList)
        await _until(pilot, lambda: lots.option_count > 0)
        lots.highlighted = lots.get_option_index(str(ds.big_lot_id))
        lots.focus()
        await pilot.pause()

        def painted() -> bool:
            if not isinstance(app.screen, SlotMapScreen) or not app.screen.is_mounted:
                return False
            grid = app.screen.query_one(SlotGrid)
            return len(grid.slots) == total and grid.lines_rendered > 0

        t0 = time.perf_counter()
        app.simulate_key("enter")
        await _until(pilot, painted)
        out["map"] = time.perf_counter() - t0
        grid = app.screen.query_one(SlotGrid)
        for i in range(changes):
            out["changes"].append(await _change_seen(pilot, ds, grid, i))
    return out


_BOOK_SCRIPT = r"""
import json, sys, time
from datetime import timedelta
from parking_tui import open_service
from parking_tui.domain.errors import ParkingError
args = json.loads(sys.argv[1])
svc = open_service(args["path"])
lot = args["lot"]
for user, token in args["users"]:
    free = svc.available_slots(token, lot)
    if not free:
        break
    slot = free[len(free) // 2]
    now = svc.now()
    try:
        svc.create_booking(token, slot.id, now, now + timedelta(hours=1))
    except ParkingError:
        continue  # this driver holds a booking already: try the next
    done = time.time()
    print(json.dumps({"slot": slot.id, "done": done}), flush=True)
    break
else:
    print(json.dumps({"error": "no booking could be made"}), flush=True)
"""


async def _change_seen(pilot, ds: DataSet, grid, attempt: int) -> float:
    """Another process books a free slot of the open lot: seconds from its return until the map shows it."""
    seen: dict[int, float] = {}
    before = {s.id: k for s, k in zip(grid.slots, grid.kinds)}
    candidates = [(u, ds.tokens[u]) for u in ds.users[-(attempt + 1) * 40 :][:40] if u in ds.tokens]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _BOOK_SCRIPT,
        json.dumps({"path": str(ds.path), "lot": ds.big_lot_id, "users": candidates}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    result: dict[str, Any] = {}
    watched_slots: list = []
    ids: list[int] = []

    async def read() -> None:
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        result.update(json.loads(line or b"{}"))

    reader = asyncio.ensure_future(read())
    give_up = time.perf_counter() + TIMEOUT
    while True:
        if grid.slots is not watched_slots:  # reloaded: index the new list
            watched_slots = grid.slots
            ids = [s.id for s in watched_slots]
        now = time.time()
        for slot_id, kind in zip(ids, grid.kinds):
            if slot_id not in seen and kind == "reserved" and before.get(slot_id) != "reserved":
                seen[slot_id] = now
        if "slot" in result and result["slot"] in seen:
            break
        if "error" in result or time.perf_counter() > give_up:
            break
        await asyncio.sleep(POLL)
    await reader
    _, err = await proc.communicate()
    if "slot" not in result:
        raise RuntimeError(f"the other process booked nothing: {result or err.decode()[-500:]}")
    if result["slot"] not in seen:
        raise TimeoutError("the map never showed the other process's booking")
    return max(0.0, seen[result["slot"]] - result["done"])


# ------------------------------------------------------------------------------------------ memory

_MEMORY_SCRIPT = r"""
import asyncio, json, resource, sys
from parking_tui import open_service
from parking_tui.tui.app import make_app
from parking_tui.tui.screens.lots import LotBrowserScreen
from parking_tui.tui.screens.slot_map import SlotMapScreen
from parking_tui.tui.widgets.slot_grid import SlotGrid

args = json.loads(sys.argv[1])

def status_mb(key):
    # /proc/self/status: VmRSS now, VmHWM the peak of this program (ru_maxrss would carry the parent's peak
    # over the exec on Linux).
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

async def main():
    svc = open_service(args["path"])
    app = make_app(svc, session_token=args["token"])
    async with app.run_test(size=(120, 40)) as pilot:
        while not (isinstance(app.screen, LotBrowserScreen) and app.screen.rows):
            await pilot.pause(0.01)
        app.action_open_lot(args["lot"])
        while not (isinstance(app.screen, SlotMapScreen) and app.screen.is_mounted
                   and len(app.screen.query_one(SlotGrid).slots) == args["slots"]):
            await pilot.pause(0.01)
        await pilot.pause(0.3)  # a poll or two of both screens
        print(json.dumps({"rss": status_mb("VmRSS"), "peak": status_mb("VmHWM")}))

asyncio.run(main())
"""


def _memory(ds: DataSet, slots: int) -> tuple[float, float]:
    """(VmRSS, peak RSS) in MB of a fresh process with the big map open over the lot browser."""
    token = ds.tokens[_driver(ds)]
    args = json.dumps({"path": str(ds.path), "token": token, "lot": ds.big_lot_id, "slots": slots})
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, args], capture_output=True, text=True, timeout=300, env=env
    )
    if done.returncode != 0:
        raise RuntimeError(f"the memory probe failed: {done.stderr[-800:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return figures["rss"], figures["peak"]


# --------------------------------------------------------------------------------------------- run


def run(ds: DataSet, n: int) -> dict[str, str | float]:
    """Measure the TUI figures on ``ds``; ``n`` (the benchmark's --ops) scales the number of runs (3-7)."""
    from .. import open_service

    runs = max(3, min(7, n // 30))
    svc = open_service(ds.path)
    big_total = svc.get_lot(ds.tokens[_driver(ds)], ds.big_lot_id).total_slots

    async def login_rounds() -> tuple[list[float], list[float]]:
        await _bare_ready()  # warm-up: imports, first CSS parse
        await _login_ready(svc)
        bare, ours = [], []
        for i in range(runs):
            pair = [_bare_ready, lambda: _login_ready(svc)]
            if i % 2:
                pair.reverse()
            for fn in pair:
                value = await fn()
                (bare if fn is _bare_ready else ours).append(value)
        return bare, ours

    bare, ours = asyncio.run(login_rounds())
    _compile_program()
    cold: dict[str, list[tuple[float, float]]] = {"bare": [], "ours": [], "eager": []}
    for i in range(runs):
        order = ["bare", "ours", "eager"]
        for which in order[i % 3:] + order[: i % 3]:
            cold[which].append(_cold_ready(which, ds.path))
    cold_bare = [r for r, _ in cold["bare"]]
    cold_ours = [r for r, _ in cold["ours"]]
    cold_eager = [r for r, _ in cold["eager"]]
    cold_open = [o for _, o in cold["ours"]]

    async def map_rounds() -> tuple[list[float], list[float]]:
        maps, changes = [], []
        await _open_big_map(svc, ds)  # warm-up
        for i in range(runs):
            figures = await _open_big_map(svc, ds, changes=1)
            maps.append(figures["map"])
            changes += figures["changes"]
        return maps, changes

    maps, changes = asyncio.run(map_rounds())
    rss = [_memory(ds, big_total) for _ in range(min(runs, 3))]

    bare_s, ours_s = statistics.median(bare), statistics.median(ours)
    return {
        "runs": float(runs),
        "login screen ready, bare App s": round(bare_s, 4),
        "login screen ready, parking-tui s": round(ours_s, 4),
        "login screen ready, ratio": round(ours_s / bare_s, 3),
        "login ready from a cold start, bare App s": round(statistics.median(cold_bare), 4),
        "login ready from a cold start, parking-tui s": round(statistics.median(cold_ours), 4),
        "login ready from a cold start, ratio": round(statistics.median(cold_ours) / statistics.median(cold_bare), 3),
        "login ready from a cold start, store opened first s": round(statistics.median(cold_eager), 4),
        "login ready from a cold start, store opened first, ratio": round(
            statistics.median(cold_eager) / statistics.median(cold_bare), 3
        ),
        "store open behind the sign-in screen, from a cold start s": round(statistics.median(cold_open), 4),
        f"map of {big_total} slots painted s": round(statistics.median(maps), 4),
        "change by another process visible s": round(statistics.median(changes), 4),
        "change visible, max s": round(max(changes), 4),
        "memory VmRSS MB": round(statistics.median(r[0] for r in rss), 1),
        "memory peak (VmHWM) MB": round(statistics.median(r[1] for r in rss), 1),
    }
