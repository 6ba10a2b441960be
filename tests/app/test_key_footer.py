"""The footer recomposes once for a burst of binding changes, and shows the last of them."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.widgets.footer import KeyFooter


class DynamicApp(App):
    BINDINGS = [Binding("f9", "extra", "Extra"), Binding("f10", "other", "Other")]
    show_extra = False

    def compose(self) -> ComposeResult:
        yield KeyFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.show_extra if action == "extra" else True

    def action_extra(self) -> None:
        pass

    def action_other(self) -> None:
        pass


def _keys(app: App) -> list[str]:
    return [key.description for key in app.query(FooterKey)]


async def test_a_burst_of_binding_changes_costs_one_recompose_and_shows_the_last():
    app = DynamicApp()
    async with app.run_test(size=(80, 5)) as pilot:
        await pilot.pause()
        footer = app.query_one(KeyFooter)
        assert "Extra" not in _keys(app) and "Other" in _keys(app)
        recomposes = []
        original = footer.recompose

        async def counted() -> None:
            recomposes.append(1)
            await original()

        footer.recompose = counted  # type: ignore[method-assign]
        for index in range(10):  # (Textual's Footer queues one recompose for each)
            app.show_extra = index % 2 == 0
            app.refresh_bindings()
        app.show_extra = True
        app.refresh_bindings()
        for _ in range(5):
            await pilot.pause()
        assert len(recomposes) == 1
        assert "Extra" in _keys(app) and "Other" in _keys(app)
        app.show_extra = False  # a later change is drawn too
        app.refresh_bindings()
        for _ in range(5):
            await pilot.pause()
        assert len(recomposes) == 2 and "Extra" not in _keys(app)


async def test_the_apps_screens_use_it(tmp_path):
    app = LstmTuiApp(runs_dir=tmp_path / "runs", detect_devices=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.query_one(Footer), KeyFooter)
        assert "Start" in _keys(app)
