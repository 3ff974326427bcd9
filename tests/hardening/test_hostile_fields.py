"""Each bad value is refused, and refused for the right reason: a ``ValidationError`` naming the field.

The random-call test (test_hostile_input.py) accepts any ``ParkingError`` as a pass, so a value that slipped
through validation and was refused later for another reason (or stored) would not show there. Here every call
has valid arguments but one, that one is drawn from values that are wrong by construction (too short or long,
a character outside the allowed set, the wrong type, a window in the wrong order...), and the test asserts:
``ValidationError``, ``error.field`` is that argument, and not a byte of the data folder changed.

Two profiles: a quick one in every run, and a ``slow``-marked one with ten times the examples.
"""

from __future__ import annotations

import string
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parking_tui.domain import ParkingError, ValidationError

from .conftest import PASSWORD, build_world, files_bytes

ALNUM = string.ascii_letters + string.digits
PROFILES = [pytest.param(25, id="quick"), pytest.param(250, id="thorough", marks=pytest.mark.slow)]


def _ascii_word(c: str, allowed: str) -> bool:
    """Whether ``c`` could pass for an allowed character after case mapping (``ß`` -> ``SS``, ``ﬁ`` -> ``FI``)."""
    return all(x in allowed for x in c.upper()) or all(x in allowed for x in c.lower()) or all(
        x in allowed for x in c.casefold()
    )


def outside(allowed: str):
    """One character that is not allowed, whatever its case."""
    return st.characters(exclude_characters=allowed).filter(lambda c: not _ascii_word(c, allowed))


def inside(allowed: str, bad_char, left=2, right=1):
    """A word of allowed characters with one bad character inside it (so stripping cannot remove it)."""
    return st.builds(
        lambda a, c, b: a + c + b,
        st.text(allowed, min_size=left, max_size=8),
        bad_char,
        st.text(allowed, min_size=right, max_size=8),
    )


WRONG_TYPES = st.one_of(
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
    st.just(object()),
)
WRONG_OR_NONE = st.one_of(st.none(), WRONG_TYPES)
BLANK = st.text(" \t\n\r\u3000\u00a0", max_size=4)

BAD = {
    "username": st.one_of(
        st.text(ALNUM, max_size=2),
        st.text(ALNUM, min_size=33, max_size=60),
        inside(ALNUM + "_.-", outside(ALNUM + "_.-")),
        WRONG_OR_NONE,
    ),
    "email": st.one_of(
        BLANK,
        st.text(ALNUM + ".", min_size=1, max_size=30),  # no @
        st.builds(lambda a, b: f"{a}@{b}", st.text(ALNUM, min_size=1, max_size=8), st.text(ALNUM, min_size=1, max_size=8)),  # no dot
        st.builds(lambda a, b: f"{a}@{b}@example.com", st.text(ALNUM, min_size=1, max_size=5), st.text(ALNUM, min_size=1, max_size=5)),
        st.builds(lambda a, b: f"{a} {b}@example.com", st.text(ALNUM, min_size=1, max_size=5), st.text(ALNUM, min_size=1, max_size=5)),
        st.integers(255, 400).map(lambda n: "a" * n + "@example.com"),
        WRONG_TYPES,
    ),
    "password": st.one_of(
        st.text(max_size=7),
        st.text(min_size=257, max_size=300),
        st.builds(lambda a, b: a + "\x00" + b, st.text(min_size=4, max_size=10), st.text(min_size=4, max_size=10)),
        st.just("password\ud800"),
        WRONG_OR_NONE,
    ),
    "phone_number": st.one_of(
        inside("0123456789", outside("0123456789 ()-+"), left=4),
        st.integers(24, 40).map(lambda n: "1" * n),
        st.text(string.ascii_letters, min_size=1, max_size=10),
        WRONG_TYPES,
    ),
    "name": st.one_of(
        BLANK,
        st.text(string.ascii_letters, min_size=81, max_size=120),
        inside(string.ascii_letters, st.characters(categories=["Cc"])),
        WRONG_OR_NONE,
    ),
    "location": st.one_of(
        BLANK,
        st.text(string.ascii_letters, min_size=121, max_size=160),
        inside(string.ascii_letters, st.characters(categories=["Cc"])),
        WRONG_OR_NONE,
    ),
    "total_slots": st.one_of(
        st.integers(max_value=0), st.integers(min_value=10_001), st.booleans(), st.floats(), st.text(max_size=3), st.none()
    ),
    "slot_number": st.one_of(
        BLANK,
        st.text(ALNUM, min_size=17, max_size=30),
        inside(ALNUM, outside(ALNUM + "-"), left=1),
        st.builds(lambda a: "-" + a, st.text(ALNUM, min_size=1, max_size=5)),
        st.builds(lambda a: a + "-", st.text(ALNUM, min_size=1, max_size=5)),
        st.builds(lambda a, b: a + "--" + b, st.text(ALNUM, min_size=1, max_size=5), st.text(ALNUM, min_size=1, max_size=5)),
        WRONG_OR_NONE,
    ),
    "id": st.one_of(
        st.integers(max_value=0), st.integers(min_value=2**53 + 1), st.booleans(), st.floats(), st.text(max_size=4), st.none()
    ),
    "time": st.one_of(
        st.none(),
        st.integers(),
        st.floats(),
        st.binary(max_size=4),
        st.dates(),
        st.text(string.ascii_letters, min_size=1, max_size=10),  # no digits: no ISO-8601 reading of it
        st.lists(st.integers(), max_size=2),
    ),
    "status": st.one_of(
        st.text(string.ascii_letters + "_ ", max_size=20).filter(
            lambda s: s.strip().lower() not in ("available", "occupied", "out_of_service", "reserved")
        ),
        WRONG_OR_NONE,
    ),
    "booking_status": st.text(string.ascii_letters + "_", max_size=20).filter(
        lambda s: s.lower() not in ("reserved", "checked_in", "completed", "cancelled", "expired")
    ),
    "confirmation_code": st.one_of(
        st.text(ALNUM, min_size=1, max_size=7),
        st.text(ALNUM, min_size=9, max_size=12),
        st.builds(lambda a, c, b: a + c + b, st.text(ALNUM, min_size=4, max_size=4), outside(ALNUM + "- "), st.text(ALNUM, min_size=4, max_size=4)),
        WRONG_OR_NONE,
    ),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fields")
    return build_world(folder / "parking.json", backups=0, session_ttl=timedelta(days=3650))


def _cases(w):
    """``(field, bad values, call)``: ``call(value)`` makes one call whose only bad argument is ``value``."""
    svc, now = w.svc, w.clock.now
    start = now + timedelta(hours=2)
    end = start + timedelta(hours=1)
    slot = w.slots[0].id
    return {
        "register.username": ("username", BAD["username"], lambda v: svc.register(v, "new@example.com", PASSWORD)),
        "register.email": ("email", BAD["email"], lambda v: svc.register("newcomer", v, PASSWORD)),
        "register.password": ("password", BAD["password"], lambda v: svc.register("newcomer", "new@example.com", v)),
        "register.phone_number": (
            "phone_number", BAD["phone_number"], lambda v: svc.register("newcomer", "new@example.com", PASSWORD, v)
        ),
        "update_profile.email": (
            "email", BAD["email"].filter(lambda v: v is not None), lambda v: svc.update_profile(w.alice, email=v)
        ),
        "update_profile.phone_number": (
            "phone_number", BAD["phone_number"], lambda v: svc.update_profile(w.alice, phone_number=v)
        ),
        "create_lot.name": ("name", BAD["name"], lambda v: svc.create_lot(w.admin, v, "Somewhere 1", 5)),
        "create_lot.location": ("location", BAD["location"], lambda v: svc.create_lot(w.admin, "Annex", v, 5)),
        "create_lot.total_slots": ("total_slots", BAD["total_slots"], lambda v: svc.create_lot(w.admin, "Annex", "Somewhere 1", v)),
        "add_slot.slot_number": ("slot_number", BAD["slot_number"], lambda v: svc.add_slot(w.admin, w.lot.id, v)),
        "add_slot.lot_id": ("lot_id", BAD["id"], lambda v: svc.add_slot(w.admin, v, "Z9")),
        "lot_slots.lot_id": ("lot_id", BAD["id"], lambda v: svc.lot_slots(w.alice, v)),
        "create_booking.slot_id": ("slot_id", BAD["id"], lambda v: svc.create_booking(w.alice, v, start, end)),
        "create_booking.start_time": ("start_time", BAD["time"], lambda v: svc.create_booking(w.alice, slot, v, end)),
        "create_booking.end_time": ("end_time", BAD["time"], lambda v: svc.create_booking(w.alice, slot, start, v)),
        "create_booking.end_not_after_start": (
            "end_time",
            st.integers(0, 10**9).map(lambda us: start - timedelta(microseconds=us)),
            lambda v: svc.create_booking(w.alice, slot, start, v),
        ),
        "create_booking.start_in_the_past": (
            "start_time",
            st.integers(2 * 3600, 22 * 3600).map(lambda s: now - timedelta(seconds=s, microseconds=7)),
            lambda v: svc.create_booking(w.alice, slot, v, now + timedelta(hours=1)),
        ),
        "create_booking.too_long": (
            "end_time",
            st.integers(1, 10**12).map(lambda us: start + timedelta(hours=24, microseconds=us)),  # default: 24 h
            lambda v: svc.create_booking(w.alice, slot, start, v),
        ),
        "create_booking.too_far_ahead": (
            "start_time",
            st.integers(400, 3000).map(lambda d: now + timedelta(days=d)),
            lambda v: svc.create_booking(w.alice, slot, v, v + timedelta(hours=1)),
        ),
        "set_slot_status.status": ("status", BAD["status"], lambda v: svc.set_slot_status(w.admin, slot, v)),
        "set_slot_status.slot_id": ("slot_id", BAD["id"], lambda v: svc.set_slot_status(w.admin, v, "available")),
        "cancel_booking.booking_id": ("booking_id", BAD["id"], lambda v: svc.cancel_booking(w.alice, v)),
        "check_in.booking_id": ("booking_id", BAD["id"], lambda v: svc.check_in(w.alice, v)),
        "extend_booking.booking_id": ("booking_id", BAD["id"], lambda v: svc.extend_booking(w.alice, v, end)),
        "find_booking.confirmation_code": (
            "confirmation_code", BAD["confirmation_code"], lambda v: svc.find_booking(w.alice, v)
        ),
        "list_reservations.status": (
            "status", BAD["booking_status"], lambda v: svc.list_reservations(w.admin, status=v)
        ),
    }




def _case_names() -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return sorted(_cases(build_world(Path(folder) / "parking.json", backups=0)))


@pytest.mark.parametrize("examples", PROFILES)
@pytest.mark.parametrize("case", _case_names())
def test_each_bad_value_is_a_validation_error_naming_its_field(world, case, examples):
    field, values, call = _cases(world)[case]
    folder = world.path.parent
    before = files_bytes(folder)
    wrong: list[str] = []

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(values)
    def refused(value):
        try:
            result = call(value)
        except ValidationError as exc:
            if exc.field != field:
                wrong.append(f"{value!r:.80}: ValidationError on {exc.field!r}, not {field!r} ({exc})")
        except ParkingError as exc:
            wrong.append(f"{value!r:.80}: {type(exc).__name__} ({exc}), not a ValidationError")
        else:
            wrong.append(f"{value!r:.80}: accepted ({result!r:.80})")

    refused()
    assert not wrong, f"{len(wrong)} bad values for {field} not refused as they should be:\n" + "\n".join(wrong[:8])
    assert files_bytes(folder) == before  # nothing was written for any of them


def test_an_error_keeps_its_words_in_its_args_repr_and_a_pickle():
    """The words travel with the error wherever it goes: ``str``, ``args`` (what a traceback and a log's
    ``repr`` show), and a pickle (how an error crosses to another process)."""
    import pickle

    error = ValidationError("Plate must be 2-10 letters or digits.", field="plate")
    assert (str(error), error.field) == ("Plate must be 2-10 letters or digits.", "plate")
    assert error.args == ("Plate must be 2-10 letters or digits.",)
    assert "Plate must be 2-10 letters or digits." in repr(error)
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is ValidationError and str(again) == str(error)
