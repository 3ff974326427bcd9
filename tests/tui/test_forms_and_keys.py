"""Forms that say everything at once, the kiosk's length presets, arrows along rows of buttons (issue 13's rest)."""

from __future__ import annotations

from textual.widgets import Static

from .helpers import settle
from .test_admin import admin_run, open_admin

SIZE = (100, 30)


def error_of(screen, field: str) -> str:
    return str(screen.query_one(f"#lot-{field}-error", Static).render())


async def press_create_empty(pilot, screen) -> None:
    screen.query_one("#lot-create").focus()
    await pilot.press("enter")
    await settle(pilot)


async def press_create_bad(pilot, screen) -> None:
    for field, value in (("capacity", "many"), ("rows", "C-A"), ("zone", "Mars/Base")):
        screen.query_one(f"#lot-{field}").value = value
    await press_create_empty(pilot, screen)


class TestNewLotForm:
    async def test_an_empty_form_names_every_missing_field(self, app_factory, admin_token):
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            screen.action_tab("admin-lots")
            await settle(pilot)
            await press_create_empty(pilot, screen)
            assert "Name must not be empty" in error_of(screen, "name")
            assert "Location must not be empty" in error_of(screen, "location")
            assert "Give the capacity" in error_of(screen, "capacity")
            assert pilot.app.focused is screen.query_one("#lot-name")

    async def test_every_bad_field_at_once_and_nothing_created(self, app_factory, admin_token, svc):
        before = len(svc.list_lots(admin_token))
        async with app_factory(admin_token).run_test(size=SIZE) as pilot:
            screen = await open_admin(pilot)
            screen.action_tab("admin-lots")
            await settle(pilot)
            await press_create_bad(pilot, screen)
            assert "whole number" in error_of(screen, "capacity")
            assert "backwards" in error_of(screen, "rows")
            assert "Unknown time zone" in error_of(screen, "zone")
            assert "Name must not be empty" in error_of(screen, "name")
        assert len(svc.list_lots(admin_token)) == before


class TestNewLotFormSnapshot:
    def test_new_lot_errors_80x24(self, snap_compare, app_factory, admin_token):
        """Tab 3, Create lot pressed on a form with a bad capacity, backwards rows and an unknown zone (name and
        location left empty): a red message under each of the five fields, all at once."""
        assert snap_compare(app_factory(admin_token), terminal_size=(80, 24), run_before=admin_run("3", press_create_bad))

    def test_new_lot_errors_120x40(self, snap_compare, app_factory, admin_token):
        """The same at 120x40: every message under its field, the Add a slot form below."""
        assert snap_compare(app_factory(admin_token), terminal_size=(120, 40), run_before=admin_run("3", press_create_bad))


async def open_booking_form(pilot, lots) -> None:
    from parking_tui.tui.screens.booking import BookingScreen

    await settle(pilot)
    pilot.app.action_open_lot(lots["Central Station P1"].id)
    await settle(pilot)
    await pilot.press("enter")  # A1 is free
    await settle(pilot)
    assert isinstance(pilot.app.screen, BookingScreen)


def note_of(screen, field: str) -> str:
    """The note shown right of a field's input ("" when none is: the note line is made when first needed)."""
    notes = list(screen.query(f"#field-{field} .field-note").results(Static))
    return "".join(str(n.render()) for n in notes if n.display)


class TestLengthPresets:
    async def test_a_length_button_says_what_it_did_to_the_end(self, svc, clock, lots):
        """Kiosk: Enter on "2 h" moves the end to 11:00 and says so next to the end; the button stays marked."""
        from parking_tui.tui.app import make_app

        app = make_app(svc, kiosk=True, idle_clock=lambda: clock.now.timestamp())
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press(*"driver", "enter", *"driver1234", "enter")
            await open_booking_form(pilot, lots)
            screen = app.screen
            assert note_of(screen, "end") == ""
            screen.query_one("#preset-2").focus()
            await pilot.press("enter")
            await settle(pilot)
            assert screen.query_one("#end").value == "11:00"
            assert note_of(screen, "end") == "2 h: ends 11:00"
            assert screen.query_one("#preset-2").has_class("-chosen")
            # Typing another end: the note and the mark go.
            screen.query_one("#end").value = "10:30"
            await settle(pilot)
            assert note_of(screen, "end") == ""
            assert not screen.query_one("#preset-2").has_class("-chosen")

    async def test_an_overnight_preset_says_both(self, app_factory, driver_token, lots):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await open_booking_form(pilot, lots)
            screen = pilot.app.screen
            screen.query_one("#start").value = "22:00"
            await settle(pilot)
            screen.query_one("#preset-4").press()
            await settle(pilot)
            assert note_of(screen, "end") == "4 h: ends tomorrow 02:00"


class TestArrowsAlongButtons:
    async def test_left_and_right_walk_a_row_of_buttons(self, app_factory, driver_token, lots):
        """Not only in the kiosk: on the profile's buttons and the booking form's, ← and → move along the row."""
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await settle(pilot)
            pilot.app.action_open_profile()
            await settle(pilot)
            screen = pilot.app.screen
            screen.query_one("#profile-save").focus()
            await pilot.press("right")
            assert pilot.app.focused.id == "profile-password"
            await pilot.press("right")
            assert pilot.app.focused.id == "profile-logout"
            await pilot.press("right")  # the end of the row: it stays
            assert pilot.app.focused.id == "profile-logout"
            await pilot.press("left", "left")
            assert pilot.app.focused.id == "profile-save"
            await pilot.press("escape")
            await settle(pilot)
            await open_booking_form(pilot, lots)
            pilot.app.screen.query_one("#preset-1").focus()
            await pilot.press("right", "right")
            assert pilot.app.focused.id == "preset-4"
            pilot.app.screen.query_one("#confirm").focus()
            await pilot.press("right")
            assert pilot.app.focused.id == "cancel"

    async def test_arrows_in_a_text_field_still_move_the_cursor(self, app_factory, driver_token):
        async with app_factory(driver_token).run_test(size=SIZE) as pilot:
            await settle(pilot)
            pilot.app.action_open_profile()
            await settle(pilot)
            field = pilot.app.screen.query_one("#profile-email")
            field.focus()
            field.cursor_position = 3
            await pilot.press("left")
            assert pilot.app.focused is field and field.cursor_position == 2


async def kiosk_preset(pilot) -> None:
    # A kiosk closes only for an admin; the snapshot's end (or a failure here) closes it.
    pilot.app._exit_allowed = True
    await pilot.press(*"driver", "enter", *"driver1234", "enter")
    await settle(pilot)
    lot = next(row[0] for row in pilot.app.screen.rows if row[0].name == "Central Station P1")
    pilot.app.action_open_lot(lot.id)
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
    pilot.app.screen.query_one("#preset-2").focus()
    await pilot.press("enter")
    await settle(pilot)


class TestLengthPresetSnapshot:
    def test_kiosk_preset_80x24(self, snap_compare, svc, clock):
        """The kiosk's booking form after Enter on "2 h": End reads 11:00 with "2 h: ends 11:00" beside it,
        the 2 h button marked (bold, underlined) and focused, the summary "today 09:00–11:00 (2 h)"."""
        from parking_tui.tui.app import make_app

        app = make_app(svc, kiosk=True, idle_clock=lambda: clock.now.timestamp())
        assert snap_compare(app, terminal_size=(80, 24), run_before=kiosk_preset)

    def test_kiosk_preset_120x40(self, snap_compare, svc, clock):
        """The same at 120x40."""
        from parking_tui.tui.app import make_app

        app = make_app(svc, kiosk=True, idle_clock=lambda: clock.now.timestamp())
        assert snap_compare(app, terminal_size=(120, 40), run_before=kiosk_preset)
