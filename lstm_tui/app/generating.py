"""The generate box's side of the app, mixed into :class:`~lstm_tui.app.main.LstmTuiApp`.

Text is generated in a thread worker (group "generate", exclusive: a new request cancels the
one before) from a snapshot of the training model, or from a loaded run. The worker posts
:class:`GenerateChunk` at most every 50 ms and :class:`GenerateDone` at the end; the request
number drops the pieces of a request that has been replaced.
"""

from __future__ import annotations

import time

from textual import work

from lstm_tui.core.presets import BIDIRECTIONAL_NOTE

from .errors import readable_error
from .messages import GenerateChunk, GenerateDone
from .session import ModelSource
from .sources import TimeLapse
from .widgets import GenerateBox
from .widgets.generate_box import GenerateRequest


class GeneratingMixin:
    """The generate box: a request, its worker, and the streamed answer."""

    _gen_request: int = 0
    _gen_lapse: TimeLapse | None = None

    def on_generate_box_submitted(self, event: GenerateBox.Submitted) -> None:
        # (named, not @on(...): Textual collects @on handlers only on its own classes, not a mixin)
        self.generate(event.request)

    def _generation_source(self) -> ModelSource | None:
        """The model the box generates from, or None when there is none.

        One place decides (:meth:`~.session.AppSession.model_choice`, also the gate inspector's),
        so the box's note, its Enter and the inspector agree on the model.
        """
        choice = self.session.model_choice(self.run_active)
        return self._gen_timelapse().source(choice.source if choice is not None else None)

    def _gen_timelapse(self) -> TimeLapse:
        """The box's place in the run's snapshots (``[`` / ``]``); a new run starts at "latest"."""
        lapse = self._gen_lapse
        if lapse is None or lapse.run_path != self.session.run_path:
            lapse = self._gen_lapse = TimeLapse(self.session.run_path)
        return lapse

    def action_timelapse(self, direction: int) -> None:
        """``[`` / ``]``: generate from an older snapshot of the run, or the latest model."""
        said = self._gen_timelapse().step(direction)
        self.generate_box.border_subtitle = said if self._gen_lapse.epoch is not None else ""
        self.notify(f"generate box: {said}", timeout=2)

    def _update_generate_note(self) -> None:
        """Say in the box whether it can write: the model it would use decides, else the form.

        With no model yet the form is a preview of the run to come; once there is a model,
        choosing another preset in the form does not change what Enter generates from.
        """
        box = self.generate_box
        if box.busy:
            return
        source = self._generation_source()
        cannot = not source.config.can_generate if source is not None else bool(self.form.values.get("bidirectional"))
        if cannot:
            box.show_note(BIDIRECTIONAL_NOTE)
        else:
            box.clear_note()

    def generate(self, request: GenerateRequest) -> None:
        box = self.generate_box
        source = self._generation_source()
        if source is None:
            box.show_error("no model yet: start a run (F5) or load one (ctrl+o)")
            return
        self._gen_request += 1
        box.begin(request.prefix, source.config.generation_warning)  # a bidirectional model writes, with the note
        self._generate(source, request, self._gen_request)

    @work(thread=True, exclusive=True, group="generate", exit_on_error=False)
    def _generate(self, source: ModelSource, request: GenerateRequest, request_id: int) -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()
        try:
            from lstm_tui.core.generate import stream

            model, vocab = source.model_and_vocab()
            pieces: list[str] = []
            last = time.monotonic()
            for piece in stream(
                model,
                vocab,
                request.prefix,
                request.length,
                temperature=request.temperature,
                top_k=request.top_k,
                top_p=request.top_p,
            ):
                if worker.is_cancelled:
                    return
                pieces.append(piece)
                now = time.monotonic()
                if now - last > 0.05:
                    self.post_message(GenerateChunk(request_id, "".join(pieces)))
                    pieces, last = [], now
            if pieces:
                self.post_message(GenerateChunk(request_id, "".join(pieces)))
            self.post_message(GenerateDone(request_id))
        except Exception as exc:  # noqa: BLE001 - shown in place
            self.post_message(GenerateDone(request_id, readable_error(exc)))

    def on_generate_chunk(self, message: GenerateChunk) -> None:
        if message.request == self._gen_request:
            self.generate_box.append(message.text)

    def on_generate_done(self, message: GenerateDone) -> None:
        if message.request == self._gen_request:
            self.generate_box.done(message.error)
