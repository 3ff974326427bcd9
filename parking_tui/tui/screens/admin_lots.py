"""Admin: create a lot (optionally with its slots generated in rows), add a slot, edit or resize a lot, retire a
slot (what moves is shown before it is confirmed)."""

from __future__ import annotations

import re

from rich.text import Text
from textual import getters, on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, Select, Static

from ...domain import rules
from ...domain.errors import ParkingError, ValidationError
from ...domain.models import Lot, Slot, SlotMark
from ..marks import describe_mark
from ..shell import ParkingShell, ShellNode
from ..widgets.confirm import ConfirmModal

MAX_PER_ROW = 999
_RANGE_RE = re.compile(r"([A-Za-z])\s*-\s*([A-Za-z])")


def parse_rows(text: str) -> list[str]:
    """Row names from ``A-C`` (A, B, C), ``A,B,D``, ``P1-`` style prefixes or a mix: ``A-C, P``."""
    rows: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        m = _RANGE_RE.fullmatch(part)
        if m:
            first, last = m.group(1).upper(), m.group(2).upper()
            if first > last:
                raise ValidationError(f"Row range {part} runs backwards; write {last}-{first}.", field="rows")
            rows.extend(chr(c) for c in range(ord(first), ord(last) + 1))
            continue
        prefix = part.upper()
        if not re.fullmatch(r"[A-Z0-9]+-?", prefix) or len(prefix) > 8:
            raise ValidationError(
                f"Row {part!r} is not a row name; use letters like A-C or A,B,D.", field="rows"
            )
        rows.append(prefix)
    if len(set(rows)) != len(rows):
        raise ValidationError("A row is named twice.", field="rows")
    return rows


def generate_slot_numbers(rows_text: str, per_row_text: str) -> list[str]:
    """``A-C`` × ``10`` → A1…A10, B1…B10, C1…C10. Empty rows means no slots."""
    if not rows_text.strip():
        if per_row_text.strip():
            raise ValidationError("Name the rows too, like A-C.", field="rows")
        return []
    rows = parse_rows(rows_text)
    try:
        per_row = int(per_row_text.strip())
    except ValueError:
        raise ValidationError("Slots per row must be a whole number, like 10.", field="per_row") from None
    if not 1 <= per_row <= MAX_PER_ROW:
        raise ValidationError(f"Slots per row must be between 1 and {MAX_PER_ROW}.", field="per_row")
    numbers = [f"{row}{i}" for row in rows for i in range(1, per_row + 1)]
    for n in numbers[:1] + numbers[-1:]:
        rules.validate_slot_number(n)
    return numbers


def describe_numbers(numbers: list[str], rows_text: str, per_row_text: str) -> str:
    if not numbers:
        return "No slots will be generated; add them later."
    try:
        rows = parse_rows(rows_text)
        per_row = int(per_row_text)
    except (ValidationError, ValueError):
        return f"{len(numbers)} slots"
    shown = ", ".join(f"{r}1–{r}{per_row}" for r in rows[:4])
    if len(rows) > 4:
        shown += f", … {rows[-1]}1–{rows[-1]}{per_row}"
    return f"{len(numbers)} slots: {shown}"


LOT_FIELDS = ("name", "location", "capacity", "rows", "per_row", "zone")


def new_lot_problems(
    name: str, location: str, capacity: str, rows: str, per_row: str, zone: str
) -> tuple[dict[str, str], list[str], int]:
    """Every problem of the new-lot form by field (``LOT_FIELDS``), the slot numbers to generate and the
    capacity (both meaningful only when there is no problem)."""
    bad: dict[str, str] = {}
    checks = (
        ("name", lambda: rules.validate_text(name, "name")),
        ("location", lambda: rules.validate_text(location, "location", max_len=120)),
        ("zone", lambda: rules.validate_time_zone(zone.strip()) if zone.strip() else None),
    )
    for field, check in checks:
        try:
            check()
        except ParkingError as error:
            bad[field] = str(error)
    numbers: list[str] = []
    try:
        numbers = generate_slot_numbers(rows, per_row)
    except ValidationError as error:
        bad[error.field if error.field in ("rows", "per_row") else "rows"] = str(error)
    total = 0
    if capacity.strip():
        try:
            total = rules.validate_total_slots(int(capacity.strip()))
        except ValueError:
            bad["capacity"] = "Capacity must be a whole number, like 40."
        except ParkingError as error:
            bad["capacity"] = str(error)
    elif numbers:
        total = len(numbers)
    elif "rows" not in bad and "per_row" not in bad:
        bad["capacity"] = "Give the capacity, or rows of slots to generate."
    if "capacity" not in bad and numbers and len(numbers) > total:
        bad["capacity"] = f"{len(numbers)} slots would be generated but the capacity is {total}."
    return bad, numbers, total


class LotsPane(ShellNode, VerticalScroll):
    """Small forms: a new lot with generated slots, one more slot, edit a lot, retire a slot."""

    app = getters.app(ParkingShell)

    DEFAULT_CSS = """
    LotsPane {
        padding: 0 1;
    }
    LotsPane .form-title {
        text-style: bold;
        margin-top: 1;
        color: $primary;
    }
    LotsPane .form-row {
        height: 1;
    }
    LotsPane .form-label {
        width: 16;
    }
    LotsPane Input, LotsPane Select {
        width: 1fr;
        max-width: 50;
    }
    LotsPane .field-error {
        color: $error;
        padding-left: 16;
        height: auto;
        display: none;
    }
    LotsPane .field-error.-shown {
        display: block;
    }
    LotsPane .form-note {
        color: $text-muted;
        padding-left: 16;
        height: auto;
        margin-bottom: 1;
    }
    LotsPane Button {
        margin: 0 0 0 16;
    }
    """

    class LotsChanged(Message):
        """A lot or slot was added: other tabs reload their lot lists."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lots: list[Lot] = []

    def compose(self) -> ComposeResult:
        yield Label("New lot", classes="form-title")
        for field, label, placeholder in (
            ("name", "Name", "Riverside Garage"),
            ("location", "Location", "12 Quay Street"),
            ("capacity", "Capacity", "slots it holds (default: the slots generated)"),
            ("rows", "Rows", "A-C  (or A,B,D; blank: no slots yet)"),
            ("per_row", "Slots per row", "10"),
            ("zone", "Time zone", "like Europe/Berlin (blank: this server's)"),
        ):
            with Horizontal(classes="form-row"):
                yield Label(label, classes="form-label")
                yield Input(placeholder=placeholder, id=f"lot-{field}", compact=True)
            yield Static("", id=f"lot-{field}-error", classes="field-error")
        yield Static("", id="lot-preview", classes="form-note")
        yield Button("Create lot", id="lot-create", variant="primary", compact=True)
        yield Label("Add a slot", classes="form-title")
        with Horizontal(classes="form-row"):
            yield Label("Lot", classes="form-label")
            yield Select([], prompt="Choose a lot", id="slot-lot", compact=True)
        yield Static("", id="slot-lot-error", classes="field-error")
        with Horizontal(classes="form-row"):
            yield Label("Slot number", classes="form-label")
            yield Input(placeholder="like A11 or P2-14", id="slot-number", compact=True)
        yield Static("", id="slot-number-error", classes="field-error")
        yield Button("Add slot", id="slot-add", compact=True)
        yield Label("Edit a lot", classes="form-title")
        with Horizontal(classes="form-row"):
            yield Label("Lot", classes="form-label")
            yield Select([], prompt="Choose a lot", id="edit-lot", compact=True)
        yield Static("", id="edit-lot-error", classes="field-error")
        labels = (("name", "Name"), ("location", "Location"), ("capacity", "Capacity"), ("zone", "Time zone"))
        for field, label in labels:
            with Horizontal(classes="form-row"):
                yield Label(label, classes="form-label")
                yield Input(id=f"edit-{field}", compact=True)
            yield Static("", id=f"edit-{field}-error", classes="field-error")
        yield Static("", id="edit-note", classes="form-note")
        yield Button("Save lot", id="edit-save", compact=True)
        yield Label("Retire a slot", classes="form-title")
        with Horizontal(classes="form-row"):
            yield Label("Slot number", classes="form-label")
            yield Input(placeholder="in the lot chosen above, like A11", id="retire-number", compact=True)
        yield Static("", id="retire-number-error", classes="field-error")
        yield Button("Retire slot", id="retire-slot", compact=True)

    def on_mount(self) -> None:
        self.update_preview()

    def focus_first(self) -> None:
        self.query_one("#lot-name", Input).focus()

    def reload(self) -> None:
        svc, token = self.app.svc, self.app.session
        self.call(lambda: svc.list_lots(token), then=self._show_lots, group="lots-pane", exclusive=True)

    def _show_lots(self, lots: list[Lot]) -> None:
        self.lots = lots
        select = self.query_one("#slot-lot", Select)
        keep = select.value
        select.set_options((Text(f"{lot.name} ({lot.total_slots})"), lot.id) for lot in lots)
        if keep in {lot.id for lot in lots}:
            select.value = keep
        edit = self.query_one("#edit-lot", Select)
        keep = edit.value
        edit.set_options((Text(f"{lot.name} ({lot.total_slots})"), lot.id) for lot in lots)
        if keep in {lot.id for lot in lots}:
            edit.value = keep

    @on(Select.Changed, "#edit-lot")
    def _edit_chosen(self, event: Select.Changed) -> None:
        """Fill the edit form with the chosen lot (not again when a refresh re-selects the same lot)."""
        lot = self.edited_lot
        if lot is not None and lot.id == getattr(self, "_filled_id", None):
            return
        self._filled_id = lot.id if lot is not None else None
        for field in ("name", "location", "capacity", "zone"):
            self._error(f"edit-{field}", "")
        if lot is None:
            return
        values = {"name": lot.name, "location": lot.location, "capacity": str(lot.total_slots), "zone": lot.time_zone}
        for field, value in values.items():
            self.query_one(f"#edit-{field}", Input).value = value
        svc, token = self.app.svc, self.app.session
        self.call(
            lambda: svc.lot_slots(token, lot.id),
            then=lambda slots: self._show_use(lot, slots),
            group="edit-note",
            exclusive=True,
        )

    def _show_use(self, lot: Lot, slots: list[Slot]) -> None:
        in_use = sum(1 for s in slots if not s.retired)
        retired = len(slots) - in_use
        note = f"{in_use} slots in use" + (f", {retired} retired" if retired else "") + f"; capacity {lot.total_slots}."
        self.query_one("#edit-note", Static).update(Text(note))

    @property
    def edited_lot(self) -> Lot | None:
        value = self.query_one("#edit-lot", Select).value
        if value is Select.NULL:
            return None
        return next((lot for lot in self.lots if lot.id == value), None)

    # ------------------------------------------------------------------------------------ helpers

    def _value(self, field: str) -> str:
        return self.query_one(f"#lot-{field}", Input).value

    def _error(self, field: str, message: str) -> None:
        static = self.query_one(f"#{field}-error", Static)
        static.update(Text(message))
        static.set_class(bool(message), "-shown")

    def _clear_errors(self) -> None:
        for static in self.query(".field-error").results(Static):
            static.update("")
            static.remove_class("-shown")

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if event.input.id:
            self._error(event.input.id, "")
        if event.input.id in ("lot-rows", "lot-per_row"):
            self.update_preview()

    def update_preview(self) -> None:
        rows, per_row = self._value("rows"), self._value("per_row")
        try:
            numbers = generate_slot_numbers(rows, per_row)
        except ValidationError as error:
            text = str(error)
        else:
            text = describe_numbers(numbers, rows, per_row)
        self.query_one("#lot-preview", Static).update(Text(text))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "slot-number":
            self.add_slot()
        elif (event.input.id or "").startswith("edit-"):
            self.save_lot()
        elif event.input.id == "retire-number":
            self.retire_slot()
        else:
            self.create_lot()

    @on(Button.Pressed, "#lot-create")
    def _create_pressed(self) -> None:
        self.create_lot()

    @on(Button.Pressed, "#slot-add")
    def _add_pressed(self) -> None:
        self.add_slot()

    @on(Button.Pressed, "#edit-save")
    def _save_pressed(self) -> None:
        self.save_lot()

    @on(Button.Pressed, "#retire-slot")
    def _retire_pressed(self) -> None:
        self.retire_slot()

    # ------------------------------------------------------------------------------------ actions

    def create_lot(self) -> None:
        self._clear_errors()
        values = {field: self._value(field) for field in LOT_FIELDS}
        # Every field is checked before anything is sent: all that is wrong is shown at once.
        bad, numbers, capacity = new_lot_problems(**values)
        for field in LOT_FIELDS:
            if field in bad:
                self._error(f"lot-{field}", bad[field])
        if bad:
            self.query_one(f"#lot-{next(f for f in LOT_FIELDS if f in bad)}", Input).focus()
            return
        name, location = values["name"], values["location"]
        svc, token = self.app.svc, self.app.session
        zone = self._value("zone").strip() or None

        def job() -> tuple[Lot, int, ParkingError | None]:
            lot = svc.create_lot(token, name, location, capacity, time_zone=zone)
            if not numbers:
                return lot, 0, None
            try:
                return lot, len(svc.add_slots(token, lot.id, numbers)), None
            except ParkingError as error:
                return lot, 0, error

        self.call(job, then=self._lot_created, inline=self._lot_not_created, group="lot-create", exclusive=True)

    def _lot_not_created(self, error: ParkingError) -> None:
        target = {
            "name": "lot-name",
            "location": "lot-location",
            "total_slots": "lot-capacity",
            "time_zone": "lot-zone",
        }.get(error.field or "")
        if target:
            self._error(target, str(error))
        else:
            self.notify(str(error), title="Lot not created", severity="error", markup=False)

    def _lot_created(self, outcome: tuple[Lot, int, ParkingError | None]) -> None:
        lot, made, slots_error = outcome
        if slots_error is not None:
            self.notify(
                f"Lot {lot.name} was created, but its slots were not: {slots_error}",
                title="Slots not added",
                severity="error",
                markup=False,
            )
        for field in ("name", "location", "capacity", "rows", "per_row", "zone"):
            self.query_one(f"#lot-{field}", Input).value = ""
        self.reload()
        self.post_message(self.LotsChanged())
        self.notify(
            f"Lot {lot.name} created with {made} slot{'s' if made != 1 else ''} (capacity {lot.total_slots}).",
            markup=False,
        )
        self.query_one("#lot-name", Input).focus()

    def add_slot(self) -> None:
        self._clear_errors()
        select = self.query_one("#slot-lot", Select)
        if select.value is Select.NULL:
            self._error("slot-lot", "Choose the lot first.")
            select.focus()
            return
        number_input = self.query_one("#slot-number", Input)
        svc, token, lot_id, number = self.app.svc, self.app.session, int(str(select.value)), number_input.value

        def failed(error: ParkingError) -> None:
            self._error("slot-lot" if error.field == "lot_id" else "slot-number", str(error))

        self.call(lambda: svc.add_slot(token, lot_id, number), then=self._slot_added, inline=failed, group="slot-add")

    def _slot_added(self, slot: Slot) -> None:
        number_input = self.query_one("#slot-number", Input)
        lot = next((lot for lot in self.lots if lot.id == slot.lot_id), None)
        number_input.value = ""
        self.post_message(self.LotsChanged())
        self.notify(f"Slot {slot.slot_number} added to {lot.name if lot else 'the lot'}.", markup=False)

    def save_lot(self) -> None:
        """Rename, move, resize or re-zone the chosen lot."""
        self._clear_errors()
        lot = self.edited_lot
        if lot is None:
            self._error("edit-lot", "Choose the lot first.")
            self.query_one("#edit-lot", Select).focus()
            return
        values = {f: self.query_one(f"#edit-{f}", Input).value for f in ("name", "location", "capacity", "zone")}
        try:
            capacity = int(values["capacity"].strip())
        except ValueError:
            self._error("edit-capacity", "Capacity must be a whole number, like 40.")
            return
        svc, token = self.app.svc, self.app.session

        def failed(error: ParkingError) -> None:
            target = {"name": "name", "location": "location", "total_slots": "capacity", "time_zone": "zone"}.get(
                error.field or "", "lot"
            )
            self._error(f"edit-{target}", str(error))

        self.call(
            lambda: svc.update_lot(
                token,
                lot.id,
                name=values["name"],
                location=values["location"],
                total_slots=capacity,
                time_zone=values["zone"].strip() or lot.time_zone,
            ),
            then=self._lot_saved,
            inline=failed,
            group="lot-save",
        )

    def _lot_saved(self, saved: Lot) -> None:
        self._filled_id = None  # show the lot as saved
        self.reload()
        self.post_message(self.LotsChanged())
        self.notify(f"Lot {saved.name} saved (capacity {saved.total_slots}, {saved.time_zone}).", markup=False)

    def retire_slot(self) -> None:
        """Retire a slot of the chosen lot, after showing which reservations move and which cannot."""
        self._clear_errors()
        lot = self.edited_lot
        if lot is None:
            self._error("edit-lot", "Choose the lot first (under Edit a lot).")
            self.query_one("#edit-lot", Select).focus()
            return
        svc, token = self.app.svc, self.app.session
        number = self.query_one("#retire-number", Input).value.strip().upper()

        def job() -> tuple[Slot | None, SlotMark | None]:
            slots = svc.lot_slots(token, lot.id)
            slot = next((s for s in slots if s.slot_number == number), None)
            if slot is None or slot.retired or not number:
                return slot, None
            return slot, svc.preview_mark(token, slot.id, "retired")

        self.call(job, then=lambda found: self._ask_retire(lot, number, *found), group="retire")

    def _ask_retire(self, lot: Lot, number: str, slot: Slot | None, preview: SlotMark | None) -> None:
        svc, token = self.app.svc, self.app.session
        if slot is None or not number:
            self._error("retire-number", f"{lot.name} has no slot {number or '(type its number)'}.")
            return
        if slot.retired:
            self._error("retire-number", f"Slot {slot.slot_number} is already retired.")
            return
        if preview is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.call(lambda: svc.retire_slot_mark(token, slot.id), then=retired, group="retire")

        def retired(result: SlotMark) -> None:
            self.query_one("#retire-number", Input).value = ""
            moved = f" {len(result.moved)} booking(s) moved." if result.moved else ""
            unplaced = f" {len(result.unplaced)} could not be placed." if result.unplaced else ""
            self.post_message(self.LotsChanged())
            self.notify(
                f"Slot {slot.slot_number} of {lot.name} retired.{moved}{unplaced}",
                severity="warning" if result.unplaced else "information",
                markup=False,
            )

        self.app.push_screen(
            ConfirmModal(
                f"Retire slot {slot.slot_number} of {lot.name}? It takes no more bookings.",
                describe_mark(preview, svc.now(), lot.time_zone),
                yes="Retire",
                no="Keep it",
            ),
            answered,
        )
