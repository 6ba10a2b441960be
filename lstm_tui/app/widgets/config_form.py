"""The run setup form, built from the RunConfig field table (``field_info``).

Every field validates as it is typed with :func:`parse_field`; a wrong value gets the
``-invalid`` class and the reason (with what the field takes) shown right under it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Checkbox, Collapsible, Input, Label, Select, Static

from lstm_tui.core.config import FIELD_NAMES, ConfigError, RunConfig, allowed_text, field_info, parse_field
from lstm_tui.core.presets import PRESETS

#: Fields shown at the top of the form, in this order; the rest go under "more settings".
MAIN_FIELDS: tuple[str, ...] = (
    "cell",
    "impl",
    "layers",
    "hidden",
    "bidirectional",
    "lr",
    "optimizer",
    "epochs",
    "batch_size",
    "num_steps",
    "clip",
    "max_tokens",
    "sampling",
    "val_split",
    "device",
    "seed",
    "predict_every",
    "prefix",
)
MORE_FIELDS: tuple[str, ...] = tuple(n for n in FIELD_NAMES if n not in MAIN_FIELDS and n != "preset")

LABELS = {
    "impl": "implementation",
    "lr": "learning rate",
    "num_steps": "steps",
    "batch_size": "batch size",
    "max_tokens": "max tokens",
    "val_split": "val split",
    "predict_every": "predict every",
    "predict_length": "predict length",
    "checkpoint_every": "checkpoint every",
    "data_dir": "data dir",
}

CUSTOM = "custom"


class OnOffBox(Checkbox):
    """A checkbox whose X is drawn only when it is on.

    Textual's draws the X in both states and tells them apart by colour alone, which a
    low-colour terminal over SSH (or a screen reader of the text) cannot see."""

    @property
    def BUTTON_INNER(self) -> str:  # noqa: N802 - the name Checkbox reads
        return "X" if self.value else " "


def shorten(text: str, limit: int = 160) -> str:
    """Messages echo the value typed; pasted garbage can be long."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def field_help(name: str) -> str:
    """The help line of a form field: what it is and what it takes (named once: no "lr: lr")."""
    if name == "preset":
        return "preset: one of the book's experiments; choosing one fills the fields"
    label, about = label_for(name), field_info(name)["help"]
    about = about if about.lower().startswith(label.lower()) else f"{label}: {about}"
    return f"{about} ({allowed_text(name)})"


def label_for(name: str) -> str:
    return LABELS.get(name, name.replace("_", " "))


def format_value(name: str, value: Any) -> str:
    """A field's value as the text shown in its input."""
    if field_info(name)["kind"] == "strings":
        return ", ".join(value)
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def parse_text(name: str, raw: Any) -> Any:
    """Parse what a form widget holds; raises ConfigError with the reason."""
    if field_info(name)["kind"] == "strings":
        items = [part.strip() for part in str(raw).split(",")]
        items = [part for part in items if part]
        if not items:
            raise ConfigError(
                name, f"{str(raw)!r} is not valid; expected {allowed_text(name)} (separate several with commas)"
            )
        return parse_field(name, items)
    return parse_field(name, raw)


class FieldRow(Vertical):
    """Label + input + (when wrong) the reason, for one config field."""

    def __init__(self, name: str, editor: Widget) -> None:
        super().__init__(classes="field-row", id=f"row-{name}")
        self.field_name = name
        self.editor = editor

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field-line"):
            yield Label(label_for(self.field_name), classes="field-label")
            yield self.editor
        yield Static("", classes="field-error", id=f"error-{self.field_name}")


class ConfigForm(VerticalScroll):
    """The form. ``values`` holds the parsed fields, ``errors`` the wrong ones."""

    class Changed(Message):
        """A field changed (``valid``: whether the whole form is free of field errors)."""

        def __init__(self, form: ConfigForm, name: str) -> None:
            super().__init__()
            self.form = form
            self.name = name

        @property
        def control(self) -> ConfigForm:
            return self.form

    class PresetChosen(Message):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, config: RunConfig, devices: Iterable[str] = ("auto", "cpu"), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base = config
        self.values: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        self._devices = list(dict.fromkeys([*devices, config.device]))
        self._preset_shown = config.preset
        self.editors: dict[str, Widget] = {}

    # ---------------------------------------------------------------- building
    def _editor(self, name: str, value: Any) -> Widget:
        info = field_info(name)
        wid = f"field-{name}"
        if info["choices"]:
            return Select([(c, c) for c in info["choices"]], value=value, allow_blank=False, compact=True, id=wid)
        if info["type"] is bool:
            return OnOffBox("", value=bool(value), compact=True, id=wid)
        if info["kind"] == "device":
            return Select([(d, d) for d in self._devices], value=value, allow_blank=False, compact=True, id=wid)
        return Input(format_value(name, value), compact=True, id=wid, select_on_focus=False)

    def compose(self) -> ComposeResult:
        presets = [(CUSTOM, CUSTOM)] + [(name, name) for name in PRESETS]
        preset = self.base.preset if self.base.preset in PRESETS else CUSTOM
        self._preset_shown = preset
        with Horizontal(classes="field-line", id="row-preset"):
            yield Label("preset", classes="field-label")
            yield Select(presets, value=preset, allow_blank=False, compact=True, id="field-preset")
        for name in MAIN_FIELDS:
            yield self._row(name)
        with Collapsible(title="more settings", collapsed=True, id="more-settings"):
            for name in MORE_FIELDS:
                yield self._row(name)

    def _row(self, name: str) -> FieldRow:
        value = getattr(self.base, name)
        self.values[name] = value
        editor = self._editor(name, value)
        self.editors[name] = editor
        return FieldRow(name, editor)

    # ---------------------------------------------------------------- reading
    def field_of(self, widget: Widget | None) -> str | None:
        wid = getattr(widget, "id", None) or ""
        return wid[len("field-") :] if wid.startswith("field-") else None

    @staticmethod
    def _raw(widget: Widget) -> Any:
        return widget.value  # Input: text, Select: choice, Checkbox: bool

    def validate_field(self, name: str) -> bool:
        editor = self.editors[name]
        try:
            self.values[name] = parse_text(name, self._raw(editor))
        except ConfigError as exc:
            self.mark(name, exc.message)
            return False
        except Exception as exc:  # noqa: BLE001 - garbage must never crash the form
            self.mark(name, f"not valid ({exc}); expected {allowed_text(name)}")
            return False
        self.mark(name, None)
        return True

    def mark(self, name: str, message: str | None) -> None:
        """Show (or clear, with None) the reason ``name`` is wrong."""
        editor = self.editors.get(name)
        if editor is None:
            return
        row = self.query_one(f"#row-{name}", FieldRow)
        error = row.query_one(".field-error", Static)
        if message:
            message = shorten(message)
            self.errors[name] = message
            editor.add_class("-invalid")
            row.add_class("-invalid")
            error.update(Text(shorten(message)))
            if name in MORE_FIELDS:
                self.query_one("#more-settings", Collapsible).collapsed = False
        else:
            self.errors.pop(name, None)
            editor.remove_class("-invalid")
            row.remove_class("-invalid")
            error.update("")

    def build_config(self) -> RunConfig:
        """The config the form describes; ConfigError names the first wrong field."""
        for name in self.editors:
            self.validate_field(name)
        for name in FIELD_NAMES:
            if name in self.errors:
                raise ConfigError(name, self.errors[name])
        values = dict(self.values)
        values["preset"] = self._preset_shown if self._preset_shown != CUSTOM else self.base.preset
        try:
            return RunConfig.from_mapping(values, base=self.base)
        except ConfigError as exc:
            self.mark(exc.field, exc.message)
            raise

    # ---------------------------------------------------------------- writing
    def set_config(self, config: RunConfig) -> None:
        """Fill every field from ``config`` (a preset, a loaded run)."""
        self.base = config
        preset = config.preset if config.preset in PRESETS else CUSTOM
        self._preset_shown = preset
        self.query_one("#field-preset", Select).value = preset
        for name, editor in self.editors.items():
            value = getattr(config, name)
            self.values[name] = value
            if isinstance(editor, Input):
                editor.value = format_value(name, value)
            elif isinstance(editor, Checkbox):
                editor.value = bool(value)
            elif isinstance(editor, Select):
                if name == "device" and value not in self._devices:
                    self.set_devices([*self._devices, value])
                editor.value = value
            self.mark(name, None)

    def set_devices(self, devices: Iterable[str]) -> None:
        current = self.values.get("device", self.base.device)
        self._devices = list(dict.fromkeys([*devices, current]))
        select = self.editors.get("device")
        if isinstance(select, Select):
            select.set_options([(d, d) for d in self._devices])
            select.value = current

    def apply_preset(self, name: str) -> None:
        """Fill the model/training fields from a preset; keep where the data and device are."""
        preset = PRESETS[name].config
        keep = {k: self.values.get(k, getattr(self.base, k)) for k in ("device", "corpus", "data_dir")}
        self.set_config(preset.replace(**keep) if keep else preset)

    # ---------------------------------------------------------------- events
    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _field_changed(self, event: Message) -> None:
        name = self.field_of(getattr(event, "control", None))
        if name and name in self.editors:
            event.stop()
            self.validate_field(name)
            self.post_message(self.Changed(self, name))

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        name = self.field_of(event.control)
        event.stop()
        if name == "preset":
            value = str(event.value)
            if value != self._preset_shown:
                self._preset_shown = value
                if value in PRESETS:
                    self.apply_preset(value)
                    self.post_message(self.PresetChosen(value))
                self.post_message(self.Changed(self, "preset"))
            return
        if name and name in self.editors:
            self.validate_field(name)
            self.post_message(self.Changed(self, name))
