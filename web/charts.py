"""The dashboard's five bar charts, drawn on the server as small SVG images.

Python works out the geometry (scales, whole-number ticks, where each bar and
label goes) and `templates/chart.svg` writes it out. No charting library: five
bar charts are a few rectangles and labels, and the renderer they replaced
(Altair with vl-convert) took 84 MB of disk and nearly 90 MB of memory
(docs/benchmarks.md, "Footprint").

The page shows each chart as an image (a `data:` URI, which the Content-Security-
Policy allows for images), with a text alternative, next to a table of the same
numbers. The SVG uses presentation attributes only: no script, no `style`.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jinja2

# Arial's metrics everywhere (Liberation Sans is metric-compatible), so the room
# left for labels fits them as the browser draws them.
FONT = "Arial, 'Liberation Sans', Helvetica, sans-serif"
INK = "#1d2433"
MUTED = "#5b6478"
GRID = "#e6e9ef"
RULE = "#c9ced8"
COLOURS = {
    "delivered": "#8fb3e8",
    "link opened": "#3d78c9",
    "done": "#13795b",
    "skipped": "#b4bcc9",
}
WIDTH = 640
WIDE = 980

# Space around the plot (as the charts had before), and the axes' measurements.
PAD_TOP, PAD_RIGHT, PAD_BOTTOM, PAD_LEFT = 8, 24, 8, 12
SIZE = 12  # axis labels and titles
TICK = 5
LABEL_GAP = TICK + 2  # from the axis line to its labels
TITLE_GAP = 4
SLANT = 40  # degrees the week labels lean
BAND_GAP = 0.1  # the part of each band between two bars

# Advance widths of Arial (per 1,000 of the font size) for printable ASCII; any
# other character counts as a digit. Used only to leave room for labels.
_ASCII_WIDTHS = (
    [278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278]
    + [556] * 10
    + [278, 278, 584, 584, 584, 556, 1015]
    + [667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833]
    + [722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611]
    + [278, 278, 278, 469, 556, 333]
    + [556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833]
    + [556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500]
    + [334, 260, 334, 584]
)


def text_width(text: str, size: float = SIZE) -> float:
    """About how wide `text` is in Arial at `size` pixels."""
    units = sum(_ASCII_WIDTHS[ord(ch) - 32] if 32 <= ord(ch) < 127 else 556 for ch in text)
    return units * size / 1000


def whole_ticks(top: float, most: int) -> list[int]:
    """Ticks from 0 up to at least `top`: at most about `most` of them, whole numbers
    1, 2 or 5 × 10ⁿ apart (never 0.5 of a supporter)."""
    if top <= 0:
        return [0, 1]
    rough = top / max(most, 1)
    power = 10 ** math.floor(math.log10(rough)) if rough >= 1 else 1
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    return [n * step for n in range(math.ceil(top / step) + 1)]


def _count(value: int) -> str:
    return f"{value:,}"


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float  # the baseline
    text: str
    fill: str = MUTED
    size: int = SIZE
    anchor: str = "middle"  # text-anchor
    turn: float = 0  # degrees, about (x, y)
    shift: float = 0  # moves the text down after turning (in its own frame)


@dataclass(frozen=True)
class Bar:
    path: str  # SVG path data
    fill: str


@dataclass(frozen=True)
class Key:
    """One entry of a legend: a swatch and its label."""

    x: float
    y: float
    text: str
    fill: str


@dataclass
class Chart:
    """A chart ready to write out: its size, the plot's corner, and what to draw
    (coordinates from the plot's top-left corner)."""

    title: str
    summary: str  # the numbers in words, for the SVG's <desc>
    width: int
    height: int
    left: float
    top: float
    lines: list[Line] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    keys: list[Key] = field(default_factory=list)


def _bar(x: float, y: float, width: float, height: float, rounded: str = "") -> str:
    """A rectangle's path; `rounded` ("top" or "right") gives that end 3 px corners."""
    r = min(3.0, width / 2, height / 2) if rounded else 0.0
    x, y, w, h = (round(v, 2) for v in (x, y, width, height))
    if rounded == "top" and r > 0:
        return (
            f"M{x},{y + h}V{y + r}A{r},{r} 0 0 1 {x + r},{y}"
            f"H{round(x + w - r, 2)}A{r},{r} 0 0 1 {x + w},{y + r}V{y + h}Z"
        )
    if rounded == "right" and r > 0:
        return (
            f"M{x},{y}H{round(x + w - r, 2)}A{r},{r} 0 0 1 {x + w},{y + r}"
            f"V{round(y + h - r, 2)}A{r},{r} 0 0 1 {round(x + w - r, 2)},{y + h}H{x}Z"
        )
    return f"M{x},{y}h{w}v{h}h{-w}Z"


def _columns(
    title: str,
    weeks: Sequence[str],
    stacks: Sequence[Sequence[tuple[int, str]]],
    *,
    width: int,
    height: int,
    axis_title: str,
    numbers: bool,
    legend: Sequence[tuple[str, str]] = (),
) -> Chart:
    """Vertical bars, a band a week, each a stack of (value, colour) from the bottom;
    with `numbers`, the total over each bar and rounded tops."""
    totals = [sum(value for value, _ in stack) for stack in stacks]
    ticks = whole_ticks(max(totals, default=0), math.ceil(height / 40))
    tick_width = max(text_width(_count(tick)) for tick in ticks)
    step = width / max(len(weeks), 1)
    band = step * (1 - BAND_GAP)
    slant = math.radians(SLANT)
    week_width = max((text_width(week) for week in weeks), default=0)
    # Leaning labels sit closer than their bands: label every nth week so none overlap.
    every = max(1, math.ceil((SIZE + 2) / (step * math.sin(slant))))
    below = LABEL_GAP + week_width * math.sin(slant) + 9 * math.cos(slant) + 3
    # room for the counts' title and labels, and for the first week leaning out left
    left = max(
        PAD_LEFT + SIZE + TITLE_GAP + tick_width + LABEL_GAP,
        PAD_LEFT + week_width * math.cos(slant) - step / 2,
    )
    top = PAD_TOP + (8 if numbers else 6) + (22 if legend else 0)
    chart = Chart(
        title=title,
        summary="; ".join(
            f"{week}: " + ", ".join(_count(value) for value, _ in stack)
            for week, stack in zip(weeks, stacks, strict=True)
        ),
        width=math.ceil(left + width + PAD_RIGHT),
        height=math.ceil(top + height + below + TITLE_GAP + SIZE + 3 + PAD_BOTTOM),
        left=round(left, 2),
        top=top,
    )

    def y(value: float) -> float:
        return round(height - value / ticks[-1] * height, 2)

    for tick in ticks:
        chart.lines.append(Line(0, y(tick), width, y(tick), GRID))
        chart.lines.append(Line(-TICK, y(tick), 0, y(tick), RULE))
        chart.labels.append(Label(-LABEL_GAP, y(tick) + 4, _count(tick), anchor="end"))
    chart.lines.append(Line(0, 0, 0, height, RULE))
    chart.lines.append(Line(0, height, width, height, RULE))
    for n, (week, stack) in enumerate(zip(weeks, stacks, strict=True)):
        x = step * (n + BAND_GAP / 2)
        middle = round(x + band / 2, 2)
        base = 0
        for i, (value, colour) in enumerate(stack):
            if value > 0:
                rounded = "top" if numbers and i == len(stack) - 1 else ""
                path = _bar(x, y(base + value), band, y(base) - y(base + value), rounded)
                chart.bars.append(Bar(path, colour))
            base += value
        if numbers:
            chart.labels.append(Label(middle, y(base) - 4, _count(base), INK, size=11))
        if n % every == 0:
            chart.lines.append(Line(middle, height, middle, height + TICK, RULE))
            chart.labels.append(
                Label(middle, height + LABEL_GAP, week, anchor="end", turn=-SLANT, shift=9)
            )
    chart.labels.append(Label(width / 2, round(height + below + TITLE_GAP + 9, 2), "week starting"))
    chart.labels.append(
        Label(-(LABEL_GAP + tick_width + TITLE_GAP), height / 2, axis_title, turn=-90)
    )
    x = 0.0
    for text, colour in legend:
        chart.keys.append(Key(x, -30, text, colour))
        x += 10 + 5 + text_width(text) + 16
    return chart


def _rows(
    title: str,
    rows: Sequence[tuple[str, float, str, str]],
    *,
    width: int,
    height: float,
    thickness: float,
    axis_title: str,
    unit: str = "",
    number_size: int = SIZE,
    gap: float = 6,
) -> Chart:
    """Horizontal bars, one a row: (name, value, colour, the number printed after it)."""
    step = height / max(len(rows), 1)
    top_value = max((value for _, value, _, _ in rows), default=0)

    def tick_text(tick: int) -> str:
        return _count(tick) + unit

    most = math.ceil(width / 40)
    ticks = whole_ticks(top_value, most)
    # fewer ticks until their labels stand clear of each other
    while most > 2 and width / (len(ticks) - 1) < text_width(tick_text(ticks[-1])) + 8:
        most -= 1
        ticks = whole_ticks(top_value, most)

    def x(value: float) -> float:
        return round(value / ticks[-1] * width, 2)

    left = PAD_LEFT + max((text_width(name) for name, *_ in rows), default=0) + LABEL_GAP
    # room on the right for the numbers after the bars and for the last tick's label
    ends = [x(value) + gap + text_width(text, number_size) for _, value, _, text in rows]
    right = max([width + text_width(tick_text(ticks[-1])) / 2, *ends]) - width
    top = PAD_TOP + 4
    chart = Chart(
        title=title,
        summary="; ".join(f"{name}: {text}" for name, _, _, text in rows),
        width=math.ceil(left + width + right + PAD_RIGHT),
        height=math.ceil(top + height + LABEL_GAP + 2 * SIZE + TITLE_GAP + 3 + PAD_BOTTOM),
        left=round(left, 2),
        top=top,
    )
    for tick in ticks:
        chart.lines.append(Line(x(tick), 0, x(tick), height, GRID))
        chart.lines.append(Line(x(tick), height, x(tick), height + TICK, RULE))
        chart.labels.append(Label(x(tick), height + LABEL_GAP + 10, tick_text(tick)))
    chart.lines.append(Line(0, 0, 0, height, RULE))
    chart.lines.append(Line(0, height, width, height, RULE))
    for n, (name, value, colour, text) in enumerate(rows):
        middle = round(step * (n + 0.5), 2)
        if value > 0:
            path = _bar(0, middle - thickness / 2, x(value), thickness, "right")
            chart.bars.append(Bar(path, colour))
        chart.lines.append(Line(-TICK, middle, 0, middle, RULE))
        chart.labels.append(Label(-LABEL_GAP, middle + 4, name, anchor="end"))
        baseline = round(middle + number_size * 0.35, 2)
        chart.labels.append(Label(x(value) + gap, baseline, text, INK, number_size, "start"))
    title_baseline = height + LABEL_GAP + SIZE + TITLE_GAP + 12
    chart.labels.append(Label(width / 2, title_baseline, axis_title))
    return chart


def trend(weeks: list[tuple[str, int]]) -> Chart:
    """'Done' per week: bars, with the number on each."""
    return _columns(
        "“Done” per week",
        [week for week, _ in weeks],
        [[(done, COLOURS["done"])] for _, done in weeks],
        width=WIDTH,
        height=300,
        axis_title="done",
        numbers=True,
    )


def funnel(stages: list[tuple[str, int | None]]) -> Chart:
    """Delivered → link opened → done as bars; a stage not tracked is named so."""
    rows = []
    for stage, n in stages:
        text = "not tracked" if n is None else _count(n)
        rows.append((stage, n or 0, COLOURS.get(stage, COLOURS["done"]), text))
    return _rows(
        "Funnel: delivered, link opened, done",
        rows,
        width=WIDTH - 120,
        height=46 * len(rows),
        thickness=30,
        axis_title="supporters' deliveries and actions",
        number_size=13,
    )


def weekly(rows: list[tuple[str, int, int]]) -> Chart:
    """Done and skipped per week, stacked."""
    return _columns(
        "“Done” and “skipped” answers per week",
        [week for week, _, _ in rows],
        [[(done, COLOURS["done"]), (skipped, COLOURS["skipped"])] for _, done, skipped in rows],
        width=WIDE,
        height=220,
        axis_title="answers",
        numbers=False,
        legend=[("done", COLOURS["done"]), ("skipped", COLOURS["skipped"])],
    )


def shares(rows: list[tuple[str, float]]) -> Chart:
    """Per source, the share of its supporters who took part: horizontal bars, best first."""
    best_first = sorted(rows, key=lambda row: -row[1])
    return _rows(
        "Share of each source’s supporters who took part",
        [(source, share * 100, COLOURS["done"], f"{share:.0%}") for source, share in best_first],
        width=WIDTH - 140,
        height=max(60, 26 * len(rows)),
        thickness=18,
        axis_title="share who took part",
        unit="%",
        gap=5,
    )


def poll(answers: list[tuple[str, int]]) -> Chart:
    """One outcome poll: how many chose each answer, in the poll's order, with the
    count and its share of all answers after each bar."""
    answered = sum(n for _, n in answers)

    def text(n: int) -> str:
        return f"{n:,} ({100 * n / answered:.1f}%)" if answered else "0"

    return _rows(
        "Answers to one outcome poll",
        [(label, n, COLOURS["link opened"], text(n)) for label, n in answers],
        width=WIDTH - 200,
        height=max(60, 26 * len(answers)),
        thickness=18,
        axis_title="supporters who chose it",
        gap=5,
    )


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,  # labels carry source names and pack text: escaped as XML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("chart.svg")


def svg(chart: Chart) -> str:
    """The chart as an SVG document."""
    return _template().render(chart=chart, font=FONT)


class Charts:
    """Draws charts as SVG `data:` URIs for an <img> (about a millisecond each)."""

    def draw(self, chart: Chart) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(svg(chart).encode()).decode()

    async def svg(self, chart: Chart) -> str:
        # async because the pages await it; drawing is quick enough for the event loop
        return self.draw(chart)
