"""Profile: who is signed in, their contact details (editable) and role; log out."""

from __future__ import annotations


from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Footer, Header, Input, Label, Static

from ...domain import rules
from ...domain.errors import ParkingError, ValidationError
from ...domain.models import Profile
from ..commands import Command
from ..shell import ParkingModal, ParkingScreen, Place
from ..widgets.confirm import ConfirmModal


class PasswordModal(ParkingModal[bool]):
    """Change the password: the current one, the new one twice. Other sessions of the user end."""

    DEFAULT_CSS = """
    PasswordModal {
        align: center middle;
    }
    PasswordModal > #password-box {
        width: 64;
        max-width: 100%;
        height: auto;
        padding: 1 2;
        border: thick $primary;
        background: $panel;
    }
    PasswordModal #password-title {
        text-style: bold;
    }
    PasswordModal .password-label {
        width: 14;
    }
    PasswordModal .password-row {
        height: 1;
        margin-top: 1;
    }
    PasswordModal Input {
        width: 1fr;
    }
    PasswordModal .field-error {
        color: $error;
        padding-left: 14;
        height: auto;
    }
    PasswordModal #password-note {
        color: $text-muted;
        margin-top: 1;
    }
    PasswordModal #password-buttons {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    PasswordModal #password-buttons Button {
        margin-left: 2;
    }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="password.cancel"),
        Binding("ctrl+s", "change", "Change", id="password.change"),
    ]

    FIELDS = (("old", "Current"), ("new", "New"), ("again", "New again"))

    def compose(self) -> ComposeResult:
        with Vertical(id="password-box"):
            yield Label("Change your password", id="password-title")
            for field, label in self.FIELDS:
                with Horizontal(classes="password-row"):
                    yield Label(label, classes="password-label")
                    yield Input(id=f"password-{field}", password=True, max_length=256, compact=True)
                yield Static("", id=f"password-{field}-error", classes="field-error")
            yield Static(
                f"At least {rules.MIN_PASSWORD} characters. Your other sessions (other terminals) are signed out.",
                id="password-note",
            )
            with Horizontal(id="password-buttons"):
                yield Button("Cancel (esc)", id="password-cancel", compact=True)
                yield Button("Change (ctrl+s)", id="password-change", variant="primary", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#password-old", Input).focus()

    def _error(self, field: str, message: str) -> None:
        self.query_one(f"#password-{field}-error", Static).update(Text(message))

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if event.input.id:
            self._error(event.input.id.removeprefix("password-"), "")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        order = [f"password-{f}" for f, _ in self.FIELDS]
        if event.input.id in order[:-1] and not self.query_one(f"#{order[-1]}", Input).value:
            self.query_one(f"#{order[order.index(event.input.id) + 1]}", Input).focus()
            return
        self.action_change()

    @on(Button.Pressed, "#password-change")
    def _change_pressed(self) -> None:
        self.action_change()

    @on(Button.Pressed, "#password-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_change(self) -> None:
        old, new, again = (self.query_one(f"#password-{f}", Input).value for f, _ in self.FIELDS)
        for field, _ in self.FIELDS:
            self._error(field, "")
        if not old:
            self._error("old", "Type your current password.")
            return
        try:
            rules.validate_password(new)
        except ValidationError as error:
            self._error("new", str(error))
            return
        if new != again:
            self._error("again", "The two new passwords differ.")
            return
        svc, token = self.app.svc, self.app.session

        def failed(error: ParkingError) -> None:
            self._error("old" if error.field == "old_password" else "new", str(error))

        self.call(
            lambda: svc.change_password(token, old, new),
            then=lambda _none: self.dismiss(True),
            inline=failed,
            group="password",
            exclusive=True,
        )


class ProfileScreen(ParkingScreen[None]):
    """The signed-in user's profile. Ctrl+S saves e-mail and phone; errors show under the field."""

    PLACE = Place.PROFILE

    TITLE = "Profile"
    HELP_TEXT = "Your account. Change your e-mail or phone and save with ctrl+s (or Enter in a field)."
    HELP_KEYS = [("Tab", "next field (shift+Tab: previous)"), ("Enter", "save")]

    DEFAULT_CSS = """
    ProfileScreen #profile-body {
        padding: 1 2;
    }
    ProfileScreen .profile-row {
        height: auto;
    }
    ProfileScreen .profile-label {
        width: 12;
        padding: 0 1 0 0;
    }
    ProfileScreen .profile-value {
        width: 1fr;
    }
    ProfileScreen .profile-input-label {
        width: 12;
        padding: 1 1 0 0;
    }
    ProfileScreen Input {
        width: 1fr;
        max-width: 60;
    }
    ProfileScreen .field-error {
        color: $error;
        padding-left: 12;
        height: auto;
    }
    ProfileScreen #profile-role.-admin {
        color: $warning;
        text-style: bold;
    }
    ProfileScreen #profile-buttons {
        height: auto;
        margin-top: 1;
    }
    ProfileScreen #profile-buttons Button {
        margin-right: 2;
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="profile.back"),
        Binding("ctrl+s", "save", "Save", id="profile.save"),
        Binding("ctrl+l", "logout", "Log out", id="profile.logout"),
        Binding("ctrl+o", "change_password", "Password", id="profile.password"),
    ]

    def __init__(self, name: str | None = None, id: str | None = "profile", classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.current: Profile | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="P")
        with VerticalScroll(id="profile-body"):
            with Horizontal(classes="profile-row"):
                yield Label("Username", classes="profile-label")
                yield Label("", id="profile-username", classes="profile-value")
            with Horizontal(classes="profile-row"):
                yield Label("Role", classes="profile-label")
                yield Label("", id="profile-role", classes="profile-value")
            with Horizontal(classes="profile-row"):
                yield Label("E-mail", classes="profile-input-label")
                yield Input(id="profile-email", placeholder="name@example.com", max_length=254)
            yield Static("", id="profile-email-error", classes="field-error")
            with Horizontal(classes="profile-row"):
                yield Label("Phone", classes="profile-input-label")
                yield Input(id="profile-phone", placeholder="optional, like +44 20 7946 0000", max_length=23)
            yield Static("", id="profile-phone-error", classes="field-error")
            with Horizontal(id="profile-buttons"):
                yield Button("Save (ctrl+s)", id="profile-save", variant="primary")
                yield Button("Password (ctrl+o)", id="profile-password")
                yield Button("Log out (ctrl+l)", id="profile-logout")
        yield Footer()

    def on_mount(self) -> None:
        self.load()
        self.query_one("#profile-email", Input).focus()

    def load(self) -> None:
        svc, token = self.app.svc, self.app.session
        self.call(lambda: svc.profile(token), then=self._show, group="profile", exclusive=True)

    def _show(self, profile: Profile) -> None:
        self.current = profile
        self.query_one("#profile-username", Label).update(Text(profile.username))
        role = self.query_one("#profile-role", Label)
        role.update("admin (lot manager)" if profile.is_admin else "driver")
        role.set_class(profile.is_admin, "-admin")
        self.query_one("#profile-email", Input).value = profile.email
        self.query_one("#profile-phone", Input).value = profile.phone_number

    # ------------------------------------------------------------------------------------ editing

    def has_unsaved_input(self) -> bool:
        """True when the fields differ from what is saved."""
        if self.current is None:
            return False
        email = self.query_one("#profile-email", Input).value.strip()
        phone = self.query_one("#profile-phone", Input).value.strip()
        return email != self.current.email or phone != self.current.phone_number

    def _set_error(self, field: str, message: str) -> None:
        self.query_one(f"#profile-{field}-error", Static).update(Text(message))

    @on(Input.Changed)
    def _clear_error(self, event: Input.Changed) -> None:
        if event.input.id in ("profile-email", "profile-phone"):
            self._set_error(event.input.id.removeprefix("profile-"), "")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    @on(Button.Pressed, "#profile-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#profile-logout")
    def _logout_pressed(self) -> None:
        self.action_logout()

    @on(Button.Pressed, "#profile-password")
    def _password_pressed(self) -> None:
        self.action_change_password()

    def action_change_password(self) -> None:
        def done(changed: bool | None) -> None:
            if changed:
                self.notify("Password changed. Your other sessions have been signed out.", markup=False)

        self.app.push_screen(PasswordModal(), done)

    def action_save(self) -> None:
        email = self.query_one("#profile-email", Input).value
        phone = self.query_one("#profile-phone", Input).value
        # Check both fields first so both errors show at once; the service checks again when saving.
        ok = True
        for field, check, value in (("email", rules.validate_email, email), ("phone", rules.validate_phone, phone)):
            try:
                check(value)
                self._set_error(field, "")
            except ParkingError as error:
                self._set_error(field, str(error))
                ok = False
        if not ok:
            return
        svc, token = self.app.svc, self.app.session

        def failed(error: ParkingError) -> None:
            target = {"email": "email", "phone_number": "phone"}.get(error.field or "")
            if target:
                self._set_error(target, str(error))
            else:
                self.notify(str(error), title="Not saved", severity="error", markup=False)

        self.call(
            lambda: svc.update_profile(token, email=email, phone_number=phone),
            then=self._saved,
            inline=failed,
            group="profile-save",
            exclusive=True,
        )

    def _saved(self, profile: Profile) -> None:
        self.current = profile
        self.app.profile = profile
        self.query_one("#profile-email", Input).value = profile.email
        self.query_one("#profile-phone", Input).value = profile.phone_number
        self.notify("Profile saved.", markup=False)

    def action_logout(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.app.action_log_out()

        if self.has_unsaved_input():
            self.app.push_screen(
                ConfirmModal("Log out without saving your changes?", yes="Log out", no="Stay"), answered
            )
        else:
            self.app.action_log_out()

    def action_back(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss()

        if self.has_unsaved_input():
            self.app.push_screen(
                ConfirmModal("Discard your changes to the profile?", yes="Discard", no="Keep editing"), answered
            )
        else:
            self.dismiss()

    def palette_commands(self):
        yield Command("Save profile", "Save your e-mail and phone", self.action_save)
        yield Command("Change password", "Change your password; other sessions end", self.action_change_password)
