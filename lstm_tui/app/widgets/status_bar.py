"""The status line: state, epoch/total, perplexity (with bits per character, val and test),
tokens/s, elapsed, ETA, device, vocabulary size."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import ProgressBar

from ...core.numbers import format_perplexity

STATE_STYLES = {
    "idle": "bold",
    "preparing": "bold yellow",
    "loading": "bold yellow",
    "training": "bold green",
    "paused": "bold yellow",
    "stopping": "bold yellow",
    "stopped": "bold cyan",
    "finished": "bold cyan",
    "failed": "bold red",
    "loaded": "bold cyan",
}


def clock(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def rate(tokens_per_s: float | None) -> str:
    if not tokens_per_s:
        return "-"
    if tokens_per_s >= 1e6:
        return f"{tokens_per_s / 1e6:.1f}M"
    if tokens_per_s >= 1e3:
        return f"{tokens_per_s / 1e3:.1f}k"
    return f"{tokens_per_s:.0f}"


def bits(perplexity: float) -> str:
    """log2 of a perplexity: bits per character (per word for a word-level run), '-' when not finite."""
    return f"{math.log2(perplexity):.2f}" if math.isfinite(perplexity) and perplexity > 0 else "-"


def bits_unit(token: str) -> str:
    """What the bits beside the perplexity count: characters ("bpc"), or words."""
    return "bpc" if token == "char" else "bits/word"


@dataclass
class RunStatus:
    state: str = "idle"
    epoch: float = 0
    epochs: int = 0
    perplexity: float | None = None
    val_perplexity: float | None = None
    tokens_per_s: float | None = None
    elapsed_s: float | None = None
    eta_s: float | None = None
    device: str = ""
    message: str = ""
    grad_norm: float | None = None  # the epoch's mean gradient norm before clipping
    clipped_share: float | None = None  # the share of its batches that were clipped (None: no clipping)
    vocab_size: int | None = None
    test_perplexity: float | None = None
    bits_unit: str = "bpc"  # beside the perplexity: "bpc" for characters, "bits/word" for words


class StatusText(Widget):
    """One line; parts are dropped from the end of the list when the line is too narrow."""

    DEFAULT_CSS = "StatusText { height: 1; width: 1fr; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.status = RunStatus()

    def parts(self, vocab: bool = True) -> list[tuple[Text, Text | None]]:
        """(long, short or None) forms of each part, most important first (the message last)."""
        s = self.status
        out: list[tuple[Text, Text | None]] = [
            (Text(f" {s.state} ", style=STATE_STYLES.get(s.state, "bold") + " reverse"), None)
        ]
        if s.epochs:
            out.append((Text(f"epoch {int(s.epoch)}/{s.epochs}"), Text(f"{int(s.epoch)}/{s.epochs}")))
        if s.perplexity is not None:
            out.append(self._perplexity())
        if s.tokens_per_s:
            out.append((Text(f"{rate(s.tokens_per_s)} tok/s"), None))
        if s.elapsed_s is not None:
            long = Text(clock(s.elapsed_s))
            short = None
            if s.state in ("training", "paused") and s.eta_s is not None:
                long.append(f" ETA {clock(s.eta_s)}")
                short = Text(f"ETA {clock(s.eta_s)}")
            out.append((long, short))
        if s.grad_norm is not None:
            long = Text(f"‖g‖ {s.grad_norm:.3g}", style="magenta")
            if s.clipped_share is not None:
                long.append(f" clipped {s.clipped_share:.0%}")
            out.append((long, Text(f"‖g‖ {s.grad_norm:.2g}", style="magenta")))
        if s.device:
            short_device = s.device.split(" (")[0]
            out.append(
                (Text(s.device, style="dim"), Text(short_device, style="dim") if short_device != s.device else None)
            )
        if s.vocab_size and vocab:
            out.append((Text(f"vocab {s.vocab_size:,}", style="dim"), None))
        if s.message:
            out.append((Text(s.message, style="italic"), None))
        return out

    def _perplexity(self) -> tuple[Text, None]:
        """'ppl 4.10 2.04 bpc val 5.00 test 5.20' (the bits: log2 of the perplexity beside them)."""
        s = self.status
        assert s.perplexity is not None
        text = Text(f"ppl {format_perplexity(s.perplexity)} {bits(s.perplexity)} {s.bits_unit}", style="cyan")
        if s.val_perplexity is not None:
            text.append(f" val {format_perplexity(s.val_perplexity)}", style="yellow")
        if s.test_perplexity is not None:
            text.append(f" test {format_perplexity(s.test_perplexity)}", style="magenta")
        return text, None

    def line(self, width: int) -> Text:
        parts = self.parts()
        if self.status.vocab_size and _shortest(parts) > width:
            parts = self.parts(vocab=False)  # the vocabulary size only where all the rest fits
        chosen = [long for long, _ in parts]

        def total() -> int:
            return sum(p.cell_len for p in chosen) + 2 * (len(chosen) - 1)

        for index in range(len(parts) - 1, 0, -1):  # short forms, least important first
            if total() <= width:
                break
            if parts[index][1] is not None:
                chosen[index] = parts[index][1]
        if total() > width and self.status.message:  # a long message is cut, then dropped
            room = width - (total() - chosen[-1].cell_len)
            if room >= 12:  # (cut by cells: a CJK path takes two a character)
                chosen[-1] = chosen[-1].copy()
                chosen[-1].truncate(room, overflow="ellipsis")
        while len(chosen) > 1 and total() > width:
            chosen.pop()
        line = Text()
        for i, part in enumerate(chosen):
            if i:
                line.append("  ")
            line.append_text(part)
        return line

    def render(self) -> Text:
        return self.line(self.size.width or 80)


#: Steps of progress the bar is drawn at: finer than what it shows (whole percents; 12 cells
#: of half-cell steps), so a step too small to see (epoch 8 of a million) costs no redraw.
PROGRESS_STEPS = 1000


def _shown(done: float | None, total: float | None) -> int | None:
    """The drawn step of ``done`` out of ``total`` (None: no total, the bar's own pulse)."""
    if not total:
        return None
    return int(PROGRESS_STEPS * min(max((done or 0) / total, 0.0), 1.0))


def _shortest(parts: list[tuple[Text, Text | None]]) -> int:
    return sum((short or long).cell_len for long, short in parts) + 2 * (len(parts) - 1)


class StatusBar(Horizontal):
    """The status text and the progress bar.

    Numbers (perplexity, tokens/s, epoch, progress) arrive up to ~10 times a second while a
    run trains; they are drawn once every :attr:`FLUSH_S` seconds, because every redraw is
    work on the UI thread, which holds the GIL that the training thread needs too. A change of
    state or message is drawn at once.
    """

    DEFAULT_CSS = """
    StatusBar { height: 1; }
    StatusBar ProgressBar { width: auto; }
    StatusBar ProgressBar Bar { width: 12; }
    """

    FLUSH_S = 1.0
    _IMMEDIATE = frozenset({"state", "message", "device"})

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._text_pending = False
        self._progress_pending: tuple[float | None, float | None] | None = None

    def compose(self) -> ComposeResult:
        yield StatusText(id="status-text")
        yield ProgressBar(total=1, show_eta=False, id="progress")

    def on_mount(self) -> None:
        self.set_interval(self.FLUSH_S, self.flush)

    @property
    def status(self) -> RunStatus:
        return self.query_one(StatusText).status

    def update_status(self, **changes) -> None:
        text = self.query_one(StatusText)
        # (at once only when a state, message or device really changes: a followed run's every
        # poll passes them again, and one redraw a second is enough for its numbers)
        immediate = any(getattr(text.status, key) != changes[key] for key in self._IMMEDIATE.intersection(changes))
        for key, value in changes.items():
            setattr(text.status, key, value)
        self._text_pending = True
        if immediate:
            self.flush()

    def set_progress(self, done: float | None, total: float | None) -> None:
        bar = self.query_one(ProgressBar)
        if total != bar.total or not done:  # a new run or a reset: at once
            self._progress_pending = None
            bar.update(total=total, progress=done if done is not None else 0)
        else:
            self._progress_pending = (done, total)

    def flush(self) -> None:
        """Draw what arrived since the last flush."""
        if self._text_pending:
            self._text_pending = False
            self.query_one(StatusText).refresh()
        if self._progress_pending is not None:
            done, total = self._progress_pending
            self._progress_pending = None
            bar = self.query_one(ProgressBar)
            if total != bar.total or _shown(done, total) != _shown(bar.progress, bar.total):
                bar.update(total=total, progress=done if done is not None else 0)

    @property
    def text(self) -> str:
        return " ".join(long.plain for long, _ in self.query_one(StatusText).parts())
