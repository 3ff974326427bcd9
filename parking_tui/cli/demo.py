"""Demo data: three lots, ~120 slots, an admin and a driver, and a few bookings around now. Idempotent."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..domain.errors import Conflict
from ..domain.service import ParkingService

DEMO_ACCOUNTS = (("admin", "admin1234", True), ("driver", "driver1234", False))
DEMO_LOTS = (
    # name, location, capacity, rows (letter, count)
    ("Central Station P1", "Bahnhofplatz 1, level -1", 48, (("A", 12), ("B", 12), ("C", 12), ("D", 12))),
    ("Riverside Garage", "12 Quay Street", 40, (("A", 10), ("B", 10), ("C", 10), ("D", 10))),
    ("Airport Short-Stay", "Terminal 2, arrivals", 32, (("S", 16), ("T", 16))),
)
EXTRA_DRIVERS = ("alice", "bruno", "chen")


def _quarter(now: datetime) -> datetime:
    return now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)


#: What the demo set-up's changes are recorded as in the audit log: not a person at a terminal.
SETUP_TERMINAL = "demo-setup"


def _all_there(svc: ParkingService) -> bool:
    """Whether the demo data is complete, read without signing anybody in (no audit line, no write)."""
    with svc.store.view() as view:
        users = {u.username for u in view.users.all()}
        if not {name for name, _, _ in DEMO_ACCOUNTS} | set(EXTRA_DRIVERS) <= users:
            return False
        lots = {lot.name: lot for lot in view.lots.all()}
        for name, _, _, rows in DEMO_LOTS:
            lot = lots.get(name)
            if lot is None:
                return False
            have = {s.slot_number for s in view.slots.in_lot(lot.id)}
            if not {f"{row}{i}" for row, count in rows for i in range(1, count + 1)} <= have:
                return False
        return any(view.bookings.live(lot_id=lots[name].id) for name, *_ in DEMO_LOTS)


def ensure_demo_data(svc: ParkingService) -> list[str]:
    """Create what is missing of the demo data set; return what was created (empty when all was there).

    When all is there nothing is written, not even a sign-in. What is created is recorded in the audit log
    from the terminal ``demo-setup``, so that it never looks like a person's doing."""
    if _all_there(svc):
        return []
    terminal, svc.terminal = svc.terminal, SETUP_TERMINAL
    try:
        return _create_missing(svc)
    finally:
        svc.terminal = terminal


def _create_missing(svc: ParkingService) -> list[str]:
    made: list[str] = []
    for username, password, is_admin in DEMO_ACCOUNTS:
        try:
            if is_admin:
                svc.create_admin(username, f"{username}@example.com", password)
            else:
                svc.register(username, f"{username}@example.com", password, "+44 20 7946 0000")
            made.append(f"user {username}")
        except Conflict:
            pass
    for username in EXTRA_DRIVERS:
        try:
            svc.register(username, f"{username}@example.com", f"{username}-demo-pass")
            made.append(f"user {username}")
        except Conflict:
            pass
    admin = svc.login("admin", "admin1234")
    lots = {lot.name: lot for lot in svc.list_lots(admin)}
    for name, location, capacity, rows in DEMO_LOTS:
        lot = lots.get(name)
        if lot is None:
            lot = svc.create_lot(admin, name, location, capacity)
            made.append(f"lot {name}")
        have = {s.slot_number for s in svc.lot_slots(admin, lot.id)}
        wanted = [f"{row}{i}" for row, count in rows for i in range(1, count + 1)]
        missing = [n for n in wanted if n not in have]
        if missing:
            svc.add_slots(admin, lot.id, missing)
            made.append(f"{len(missing)} slots in {name}")
    if not svc.list_reservations(admin, include_finished=False):
        made += _demo_bookings(svc, admin)
    svc.logout(admin)
    return made


def _demo_bookings(svc: ParkingService, admin: str) -> list[str]:
    """A handful of bookings so the map shows every colour: reserved now, occupied, later today, out of service."""
    made = []
    now = svc.now()
    start = now.replace(second=0, microsecond=0)
    later = _quarter(now) + timedelta(minutes=15)
    lots = {lot.name: lot for lot in svc.list_lots(admin)}
    central = svc.lot_slots(admin, lots["Central Station P1"].id)
    riverside = svc.lot_slots(admin, lots["Riverside Garage"].id)
    plan = [
        ("alice", central[1], start, start + timedelta(hours=2), "check_in"),
        ("bruno", central[4], start, start + timedelta(hours=3), None),
        ("chen", central[13], later + timedelta(hours=3), later + timedelta(hours=5), None),
        ("driver", riverside[2], later + timedelta(hours=1), later + timedelta(hours=2), None),
    ]
    passwords = {u: f"{u}-demo-pass" for u in EXTRA_DRIVERS} | {"driver": "driver1234"}
    for username, slot, begin, end, then in plan:
        token = svc.login(username, passwords[username])
        booking = svc.create_booking(token, slot.id, begin, end)
        if then == "check_in":
            svc.check_in(token, booking.id)
        svc.logout(token)
        made.append(f"booking {booking.confirmation_code} for {username}")
    svc.set_slot_status(admin, central[7].id, "out_of_service")
    svc.set_slot_status(admin, riverside[5].id, "occupied")
    return made
