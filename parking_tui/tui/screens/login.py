"""Sign in or register. Errors appear under the field they are about; Enter submits, Tab moves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, ContentSwitcher, Footer, Header, Input, Static

from ...domain.errors import ParkingError, StorageError
from ..shell import ParkingScreen
from ..widgets.form import Field, clear_errors, show_error

if TYPE_CHECKING:
    from ...domain.models import Profile

DEMO_TEXT = (
    "Demo accounts (username / password):\n"
    "  driver / driver1234   a driver\n"
    "  admin / admin1234     the lot manager"
)


class LoginScreen(ParkingScreen[None]):
    """The first screen: sign in, or create an account."""

    IS_ROOT = True
    TITLE = "Sign in"
    HELP_KEYS = [
        ("Tab", "next field or button (shift+Tab: previous)"),
        ("Enter", "sign in / create the account"),
        ("Escape", "on the registration form: back to signing in"),
    ]
    BINDINGS = [
        Binding("ctrl+r", "show_tab('register')", "New account", tooltip="Create an account"),
        Binding("ctrl+s", "show_tab('sign-in')", "Sign in", tooltip="Sign in to an account"),
        Binding("escape", "show_tab('sign-in')", "Back", show=False, id="login.back"),
    ]

    def compose(self) -> ComposeResult:
        yield Header(icon="P")
        with Vertical(id="login-box"):
            yield Static("Find a free parking slot and reserve it.", id="login-intro")
            # Two forms, one shown: plain containers rather than tabs (every widget costs time on the first
            # screen people see; tabs are nine of them).
            with ContentSwitcher(id="login-forms", initial="sign-in"):
                with Vertical(id="sign-in", classes="login-form"):
                    yield Field("Username", "login-username", max_length=32)
                    yield Field("Password", "login-password", password=True, max_length=256)
                    yield Static("", id="login-error", classes="form-error", markup=False)
                    with Horizontal(classes="buttons"):
                        yield Button("Sign in", id="login-submit", variant="primary", compact=True)
                        yield Button("New account", id="login-register", compact=True)
                # Built when first shown (most people only sign in).
                yield Vertical(id="register", classes="login-form")
            if self.app.demo:
                yield Static(DEMO_TEXT, id="demo-accounts")
        yield Footer()

    def on_mount(self) -> None:
        # Here, not by the screen's auto focus: that leaves no field focused when the app starts without the
        # terminal's focus (a browser tab through ``serve``).
        self.query_one("#login-username", Input).focus()

    @property
    def register_built(self) -> bool:
        return bool(self.query("#reg-username"))

    @property
    def showing(self) -> str:
        """The form on screen: ``sign-in`` or ``register``."""
        return self.query_one(ContentSwitcher).current or "sign-in"

    async def build_register(self) -> None:
        """Mount the registration form (once)."""
        if self.register_built:
            return
        pane = self.query_one("#register", Vertical)
        await pane.mount_all(
            [
                Static("Create an account", id="reg-title"),
                Field("Username", "reg-username", max_length=32, placeholder="3-32 letters, digits, _ . -"),
                Field("E-mail", "reg-email", max_length=254, placeholder="name@example.com"),
                Field("Password", "reg-password", password=True, max_length=256, placeholder="at least 8 characters"),
                Field("Repeat", "reg-password2", password=True, max_length=256, placeholder="the password again"),
                Field("Phone", "reg-phone", max_length=23, placeholder="optional"),
                Static("", id="reg-error", classes="form-error", markup=False),
                Horizontal(
                    Button("Create account", id="reg-submit", variant="primary", compact=True),
                    Button("Back to sign in", id="reg-back", compact=True),
                    classes="buttons",
                ),
            ]
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "show_tab" and parameters:
            # The footer offers the other form; Escape goes back only from the registration form.
            return parameters[0] != self.showing
        return True

    def on_screen_suspend(self) -> None:
        self._left_for_session = self.app.token is not None

    def on_screen_resume(self) -> None:
        # Back from a session: never leave a password behind.
        for name in ("login-password", "reg-password", "reg-password2"):
            for field in self.query(f"#{name}").results(Input):
                field.value = ""
        self.set_busy(False)
        if getattr(self, "_left_for_session", False) and self.app.token is None:
            # Signed out: the next person types a username straight away.
            self._left_for_session = False
            self.show_sign_in()

    def has_unsaved_input(self) -> bool:
        if not self.register_built:
            return False
        return any(self.query_one(f"#{n}", Input).value for n in ("reg-username", "reg-email", "reg-password"))

    async def action_show_tab(self, tab: str) -> None:
        if tab == "register":
            await self.build_register()
        self._show(tab)

    def show_sign_in(self) -> None:
        self._show("sign-in")

    def _show(self, tab: str) -> None:
        """Show the sign-in or the (built) registration form, its first field focused."""
        self.query_one(ContentSwitcher).current = tab
        self.title = self.TITLE if tab == "sign-in" else "New account"
        self.query_one("#login-username" if tab == "sign-in" else "#reg-username", Input).focus()
        self.refresh_bindings()

    @on(Button.Pressed, "#login-register")
    async def _register_pressed(self) -> None:
        await self.action_show_tab("register")

    @on(Button.Pressed, "#reg-back")
    def _back_pressed(self) -> None:
        self.show_sign_in()

    # ---------------------------------------------------------------------------------- sign in

    def _login_fields(self) -> list[Field]:
        return [self.query_one("#field-login-username", Field), self.query_one("#field-login-password", Field)]

    def _register_fields(self) -> list[Field]:
        if not self.register_built:
            return []
        names = ("username", "email", "password", "password2", "phone")
        return [self.query_one(f"#field-reg-{n}", Field) for n in names]

    @on(Input.Submitted, "#login-username")
    def _username_entered(self) -> None:
        if not self.query_one("#login-password", Input).value:
            self.query_one("#login-password", Input).focus()
        else:
            self._submit_login()

    @on(Input.Submitted, "#login-password")
    @on(Button.Pressed, "#login-submit")
    def _submit_login(self) -> None:
        fields = self._login_fields()
        general = self.query_one("#login-error", Static)
        clear_errors(fields, general)
        username, password = (f.value for f in fields)
        if not username.strip():
            fields[0].set_error("Enter your username.")
            fields[0].input.focus()
            return
        if not password:
            fields[1].set_error("Enter your password.")
            fields[1].input.focus()
            return
        self.set_busy(True, "Signing in…")
        self._sign_in(username, password)

    def _sign_in(self, username: str, password: str) -> None:
        """argon2 is slow on purpose: the password is checked in a worker."""
        app = self.app

        def job() -> tuple[str, Profile]:
            svc = app.svc  # in the worker: the service may still be opening
            token = svc.login(username, password)
            return token, svc.profile(token)

        self.call(
            job, then=self._login_ok, inline=self._login_failed, always=self._not_busy, group="login", exclusive=True
        )

    def _not_busy(self) -> None:
        self.set_busy(False)

    def _login_ok(self, signed: tuple[str, Profile]) -> None:
        for field in self._login_fields() + self._register_fields():
            field.value = ""
        self.app.signed_in(*signed)

    def _login_failed(self, error: ParkingError) -> None:
        fields = self._login_fields()
        general = self.query_one("#login-error", Static)
        show_error(error, fields, general, {"username": "login-username", "password": "login-password"})
        fields[1].value = ""
        fields[1].input.focus()

    # ---------------------------------------------------------------------------------- register

    @on(Input.Submitted, "#reg-username, #reg-email, #reg-password, #reg-password2, #reg-phone")
    @on(Button.Pressed, "#reg-submit")
    def _submit_register(self, event: Input.Submitted | Button.Pressed) -> None:
        event.stop()
        fields = self._register_fields()
        general = self.query_one("#reg-error", Static)
        clear_errors(fields, general)
        username, email, password, again, phone = (f.value for f in fields)
        # Every field is checked before anything is sent: all that is wrong is shown at once.
        bad = registration_problems(username, email, password, again, phone)
        for field in fields:
            if field.field_name in bad:
                field.set_error(bad[field.field_name])
        if bad:
            next(f for f in fields if f.field_name in bad).input.focus()
            return
        self.set_busy(True, "Creating your account…")
        self._register(username, email, password, phone)

    def _register(self, username: str, email: str, password: str, phone: str) -> None:
        app = self.app

        def job() -> tuple[str, Profile]:
            svc = app.svc  # in the worker: the service may still be opening
            user = svc.register(username, email, password, phone)
            try:
                token = svc.login(user.username, password)
                return token, svc.profile(token)
            except ParkingError as error:
                raise Registered(user.username, error) from error

        self.call(
            job,
            then=self._registered,
            inline=self._register_failed,
            always=self._not_busy,
            group="login",
            exclusive=True,
        )

    def _registered(self, signed: tuple[str, Profile]) -> None:
        self.notify(f"Account {signed[1].username} created.", markup=False)
        self._login_ok(signed)

    def _register_failed(self, error: ParkingError) -> None:
        if isinstance(error, Registered):
            # The account exists; only the sign-in after it failed: say both, on the sign-in tab.
            self.notify(f"Account {error.username} created.", markup=False)
            self.show_sign_in()
            if isinstance(error.cause, StorageError):
                self.app.report_error(error.cause)
            else:
                self._login_failed(error.cause)
            return
        fields = self._register_fields()
        show_error(
            error,
            fields,
            self.query_one("#reg-error", Static),
            {"username": "reg-username", "email": "reg-email", "password": "reg-password", "phone_number": "reg-phone"},
        )

    # ---------------------------------------------------------------------------------- busy

    def set_busy(self, busy: bool, message: str = "") -> None:
        """While the password is checked: buttons off, a status line instead of an error."""
        for button in self.query(Button):
            button.disabled = busy
        for general in self.query(".form-error").results(Static):
            if busy:
                general.update(message)
            general.set_class(busy, "-shown", "-busy")


class Registered(ParkingError):
    """The account was created, but signing in with it failed (``cause``)."""

    def __init__(self, username: str, cause: ParkingError) -> None:
        super().__init__(str(cause))
        self.username = username
        self.cause = cause


def registration_problems(username: str, email: str, password: str, again: str, phone: str) -> dict[str, str]:
    """Every problem of a registration form, by field name (empty: nothing wrong that can be seen here)."""
    from ...domain import rules  # when first needed: the sign-in screen comes up sooner without it

    problems: dict[str, str] = {}
    checks = (
        ("reg-username", rules.validate_username, username),
        ("reg-email", rules.validate_email, email),
        ("reg-password", rules.validate_password, password),
        ("reg-phone", rules.validate_phone, phone),
    )
    for name, check, value in checks:
        try:
            check(value)
        except ParkingError as error:
            problems[name] = str(error)
    if "reg-password" not in problems and password != again:
        problems["reg-password2"] = "The two passwords differ; type the same password twice."
    return problems
