"""plotext's braille lines, drawn fast: the same cells as plotext 5.3.2 draws, computed with numpy.

plotext draws a ``plot(..., marker="braille")`` line point by point in Python (its
``get_matrix_data``, ``get_lines``, ``hd_group``), then turns its cell matrix into an ANSI string
that ``Text.from_ansi`` parses again; with 8 lines of ~180 points that is ~30-50 ms a chart, on
the UI thread. Here plotext still draws the frame (axes, ticks, legend, vertical markers) with
one point a line (:func:`stub`), and :func:`overlay` puts each line's cells into its matrix, in
plot order, where plotext would have put them (never over the legend, which plotext draws after
the data). :func:`matrix_text` turns the matrix into Rich text without the ANSI round trip.
``tests/app/test_braille_lines.py`` checks both against plotext's own output, cell by cell.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from plotext import _utility as ut
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._context import active_app
from textual.content import Content
from textual.css.styles import RulesMap
from textual.strip import Strip
from textual.style import Style as TStyle
from textual.visual import RenderOptions, Visual

#: plotext's braille dot order in a cell's code (its ``hd_group``): rows from the top, two columns.
_BIT_ROWS = 4
_BIT_COLS = 2


@dataclass(frozen=True)
class Series:
    """One line to draw: data coordinates (already log-scaled where the chart is), its colour and
    legend label (what the chart gives plotext's ``plot`` for its :func:`stub`)."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]
    color: str
    label: str | None = None


def stub(series: Series) -> tuple[list[float], list[float]]:
    """What plotext is given for ``series``: its first point (its legend entry and colour)."""
    return [series.xs[0]], [series.ys[0]]


def matrix_data(values: np.ndarray, lim: tuple[float, float], bins: int) -> np.ndarray:
    """plotext's ``get_matrix_data`` for finite values: canvas sub-cell coordinates, as ints."""
    change = 0.5 + (bins - 1) * (values - lim[0]) / (lim[1] - lim[0])
    scaled = change * 10**8  # plotext's own round(x, 8): half up, then floor
    floor = np.floor(scaled)
    rounded = np.where(scaled - floor < 0.5, floor, np.ceil(scaled)) * 10 ** (-8)
    return np.floor(rounded).astype(np.int64)


def line_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """plotext's ``get_lines`` for int coordinates: each segment as ``max(|dx|, |dy|) + 1`` evenly
    spaced points truncated to ints, less its last (the next segment's first), then the last."""
    if len(x) < 2:
        return x, y
    x0, x1, y0, y1 = x[:-1], x[1:], y[:-1], y[1:]
    count = np.maximum(np.abs(x1 - x0), np.abs(y1 - y0)) + 1  # points a segment, its end included
    steps = count - 1
    xslope = np.where(count > 1, (x1 - x0) / np.maximum(steps, 1), 0.0)
    yslope = np.where(count > 1, (y1 - y0) / np.maximum(steps, 1), 0.0)
    # (a segment with both ends in one sub-cell adds nothing: plotext's linspace of length 1,
    # less its last point, is empty; the next segment or the final point covers that sub-cell)
    segment = np.repeat(np.arange(len(x0)), steps)
    starts = np.cumsum(steps) - steps
    index = np.arange(int(steps.sum())) - np.repeat(starts, steps)
    xs = np.trunc(x0[segment] + index * xslope[segment]).astype(np.int64)
    ys = np.trunc(y0[segment] + index * yslope[segment]).astype(np.int64)
    return np.append(xs, x[-1]), np.append(ys, y[-1])


#: Columns a cell key leaves room for (canvases are far narrower).
CELL_KEY = 1 << 20


def braille_groups(x: np.ndarray, y: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """plotext's ``hd_group`` of sub-cell points (non-negative ints), each point of line
    ``owner``: ``(owners, cells, codes)``, one per (line, cell) that has a dot, ordered by
    cell and then line (a later line's cell goes over an earlier one's, as plotext writes
    them). ``cells`` is ``row * CELL_KEY + col``; ``codes`` holds the dots in plotext's order."""
    # a dot's place in plotext's code: rows from the top (3 - row within the cell), then column
    place = (_BIT_ROWS - 1 - np.mod(y, _BIT_ROWS)) * _BIT_COLS + np.mod(x, _BIT_COLS)
    cells = np.floor_divide(y, _BIT_ROWS) * CELL_KEY + np.floor_divide(x, _BIT_COLS)
    keys = cells * (int(owner.max(initial=0)) + 1) + owner  # (by cell, then line)
    order = np.argsort(keys, kind="stable")
    keys, bits = keys[order], np.left_shift(1, place[order])
    first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    codes = np.bitwise_or.reduceat(bits, first) if len(bits) else bits
    return owner[order][first], cells[order][first], codes


def _braille_chars() -> list[str]:
    """plotext's braille character for each 8-dot code (bit i: dot i in its order)."""
    chars = []
    for code in range(256):
        dots = tuple((code >> place) & 1 for place in range(_BIT_ROWS * _BIT_COLS))
        chars.append(ut.get_hd_marker(dots))
    return chars


_CHARS = _braille_chars()


def legend_cells(monitor, labels: list[str]) -> tuple[range, range] | None:
    """The (columns, rows) plotext's legend covers (drawn after the data), or None if none is drawn."""
    matrix = monitor.matrix
    cols, rows = matrix.Cols_canvas, matrix.Rows_canvas
    if not labels or not len(cols) or not len(rows):
        return None
    widths = [len(ut.space + label + ut.space) for label in labels]
    sides = [ut.space + ut.side_symbols[(monitor.xside[s], monitor.yside[s])] for s in range(len(monitor.label))]
    sides = [side for side, label in zip(sides, monitor.label, strict=True) if label is not None]
    side = 2 if ut.no_duplicates(sides) != [" L"] and len(labels) != 1 else 0  # (plotext: side symbols)
    if not (len(cols) >= side + 3 + max(widths) and len(rows) >= len(labels)):
        return None
    row_end = rows.stop
    return range(cols.start, cols.start + side + 3 + max(widths)), range(row_end - len(labels), row_end)


def canvas_points(monitor, series: list[Series], width: int, height: int) -> tuple[np.ndarray, ...]:
    """Every line's sub-cell points (plotext's ``get_lines``) on a canvas of ``width`` x
    ``height`` cells, all lines in one array each: ``(x, y, owner)`` (the line's index), the
    points outside the canvas left out."""
    xlim, ylim = monitor.xlim[0], monitor.ylim[0]
    xs, ys, owners = [], [], []
    for index, line in enumerate(series):
        x = matrix_data(np.asarray(line.xs, dtype=float), xlim, width * _BIT_COLS)
        y = matrix_data(np.asarray(line.ys, dtype=float), ylim, height * _BIT_ROWS)
        x, y = line_points(x, y)
        xs.append(x)
        ys.append(y)
        owners.append(np.full(len(x), index, dtype=np.int64))
    x, y, owner = np.concatenate(xs), np.concatenate(ys), np.concatenate(owners)
    # (the chart's limits hold all its data, as plotext's build needs; a point outside would
    # be written over the frame, or through a negative index at the matrix's other end)
    inside = (x >= 0) & (x < width * _BIT_COLS) & (y >= 0) & (y < height * _BIT_ROWS)
    return x[inside], y[inside], owner[inside]


def overlay(monitor, series: list[Series]) -> None:
    """Put each of ``series``'s braille cells into ``monitor``'s built matrix, as plotext would:
    in plot order (a later line's cell over an earlier one's), never over the legend. All the
    lines' cells are computed at once; only the writes into plotext's lists are a loop."""
    matrix = monitor.matrix
    cols, rows = matrix.Cols_canvas, matrix.Rows_canvas
    width, height = len(cols), len(rows)
    if not width or not height or not series:
        return
    owners, cells, codes = braille_groups(*canvas_points(monitor, series, width, height))
    col, row = cells % CELL_KEY + cols.start, cells // CELL_KEY + rows.start
    legend = legend_cells(monitor, [s.label for s in series if s.label is not None])
    if legend is not None:  # (plotext draws the legend after the data: its cells stay)
        across, down = legend
        under = (col >= across.start) & (col < across.stop) & (row >= down.start) & (row < down.stop)
        owners, col, row, codes = owners[~under], col[~under], row[~under], codes[~under]
    colors = [monitor.color[index][0] for index in range(len(series))]
    styles = [monitor.style[index][0] for index in range(len(series))]
    markers, fulls, kinds = matrix.marker, matrix.fullground, matrix.style
    for index, c, r, code in zip(owners.tolist(), col.tolist(), row.tolist(), codes.tolist(), strict=True):
        markers[r][c] = _CHARS[code]  # (plotext's insert_element: None leaves a colour be)
        if colors[index] is not None:
            fulls[r][c] = colors[index]
        if styles[index] is not None:
            kinds[r][c] = styles[index]


Run = tuple[str, Style | None]


def matrix_runs(matrix, styles: dict[tuple, Style | None]) -> list[list[Run]]:
    """The matrix's rows, top first, as runs of characters of one (colour, style, background),
    each with the Rich style ``Text.from_ansi`` gives plotext's ANSI code for it (``styles``
    caches them by colours, filled as met)."""
    rows = []
    for row in reversed(range(matrix.rows)):
        markers, fulls, kinds, backs = (
            matrix.marker[row],
            matrix.fullground[row],
            matrix.style[row],
            matrix.background[row],
        )
        runs, start = [], 0
        for col in range(1, matrix.cols + 1):
            if col < matrix.cols and (fulls[col], kinds[col], backs[col]) == (fulls[start], kinds[start], backs[start]):
                continue
            key = (fulls[start], kinds[start], backs[start])
            if key not in styles:
                styles[key] = _style(key)
            chars = "".join(markers[start:col])
            if runs and styles[key] is None and runs[-1][1] is None:  # (plain text runs on, as in Text)
                runs[-1] = (runs[-1][0] + chars, None)
            else:
                runs.append((chars, styles[key]))
            start = col
        rows.append(runs)
    return rows


def matrix_text(matrix, styles: dict[tuple, Style | None]) -> Text:
    """The matrix as Rich text: what ``Text.from_ansi`` makes of plotext's canvas, without the
    string."""
    text = Text()
    for runs in matrix_runs(matrix, styles):
        for chars, style in runs:
            text.append(chars, style)
        text.append("\n")  # (as from_ansi keeps each of the canvas's line ends, the last one too)
    return text


class MatrixVisual(Visual):
    """The matrix's runs as a Textual visual: the strips Textual makes of :func:`matrix_text`
    (style for style, with the offsets its text selection reads unless ``offsets`` is False: a
    widget that cannot be selected needs none), without its wrapping and span bookkeeping, when
    each row fills the width; else that text's own visual."""

    def __init__(self, rows: list[list[Run]], text: Callable[[], Text], offsets: bool = True) -> None:
        self.rows, self.text, self.offsets = rows, text, offsets
        self.width = sum(len(chars) for chars, _ in rows[0]) if rows else 0

    def render_strips(self, width: int, height: int | None, style: TStyle, options: RenderOptions) -> list[Strip]:
        if width != self.width or options.selection is not None or options.post_style is not None:
            return Content.from_rich_text(self.text()).render_strips(width, height, style, options)
        theme = active_app.get().ansi_theme
        combined: dict[Style | None, TStyle] = {}
        plain: dict[Style | None, Style] = {}  # (without offsets: one Rich style per run style)
        strips = []
        for y, runs in enumerate(self.rows if height is None else self.rows[:height]):
            segments, x = [], 0
            for chars, rich in runs:
                if rich not in combined:  # (as Content.render: the base, then the span's style)
                    combined[rich] = style + (
                        style if rich is None else TStyle.combine([style, TStyle.from_rich_style(rich, theme)])
                    )
                    plain[rich] = combined[rich].rich_style
                segments.append(
                    Segment(chars, combined[rich].rich_style_with_offset(x, y) if self.offsets else plain[rich])
                )
                x += len(chars)
            strips.append(Strip(segments, x))
        return strips

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return self.width

    def get_height(self, rules: RulesMap, width: int) -> int:
        return len(self.rows)


def _style(colors: tuple) -> Style | None:
    decoded = Text.from_ansi(ut.colors_to_ansi(*colors) + "x" + ut.ansi_end)
    return decoded.spans[0].style if decoded.spans else None  # type: ignore[return-value]
