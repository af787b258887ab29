"""Charts drawn on the server: Altair builds a Vega-Lite spec, vl-convert draws it as SVG.

Nothing is fetched from the network (vl-convert may load no URL at all), and
the page shows each chart as an image with a text alternative, next to a table
of the same numbers. Drawn charts are kept in a small cache keyed by their
spec, so a page reloaded with unchanged numbers draws nothing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections import OrderedDict
from typing import Any, cast

import altair as alt
import vl_convert

# Arial's metrics everywhere (Liberation Sans is metric-compatible), so the labels
# vl-convert measures fit as the browser draws them.
FONT = "Arial, 'Liberation Sans', Helvetica, sans-serif"
INK = "#1d2433"
MUTED = "#5b6478"
COLOURS = {
    "delivered": "#8fb3e8",
    "link opened": "#3d78c9",
    "done": "#13795b",
    "skipped": "#b4bcc9",
}
WIDTH = 640
WIDE = 980
CONFIG: dict[str, Any] = {
    "font": FONT,
    "padding": {"left": 12, "right": 24, "top": 8, "bottom": 8},
    "background": "#ffffff",
    "view": {"stroke": None},
    "axis": {
        "labelColor": MUTED,
        "titleColor": MUTED,
        "labelFontSize": 12,
        "titleFontSize": 12,
        "titleFontWeight": "normal",
        "gridColor": "#e6e9ef",
        "domainColor": "#c9ced8",
        "tickColor": "#c9ced8",
    },
    "legend": {"labelColor": INK, "titleColor": MUTED, "labelFontSize": 12},
    "title": {"color": INK},
}


Chart = alt.TopLevelMixin


def _data(rows: list[dict[str, Any]]) -> alt.InlineData:
    return alt.InlineData(values=rows)


def trend(weeks: list[tuple[str, int]]) -> Chart:
    """'Done' per week: bars, with the number on each."""
    rows = [{"week": week, "done": done} for week, done in weeks]
    base = alt.Chart(_data(rows)).encode(
        x=alt.X("week:O", title="week starting", axis=alt.Axis(labelAngle=-40)),
        y=alt.Y("done:Q", title="done"),
    )
    bars = base.mark_bar(color=COLOURS["done"], cornerRadiusTopLeft=3, cornerRadiusTopRight=3)
    labels = base.mark_text(dy=-7, color=INK, fontSize=11).encode(text=alt.Text("done:Q"))
    return alt.layer(bars, labels).properties(width=WIDTH, height=300)


def funnel(stages: list[tuple[str, int | None]]) -> Chart:
    """Delivered → link opened → done as bars; a stage not tracked is named so."""
    rows = [
        {
            "stage": stage,
            "n": n or 0,
            "label": "not tracked" if n is None else f"{n:,}",
        }
        for stage, n in stages
    ]
    base = alt.Chart(_data(rows)).encode(
        y=alt.Y("stage:N", sort=[stage for stage, _ in stages], title=None),
        x=alt.X("n:Q", title="supporters' deliveries and actions"),
    )
    bars = base.mark_bar(cornerRadiusTopRight=3, cornerRadiusBottomRight=3, height=30).encode(
        color=alt.Color(
            "stage:N",
            scale=alt.Scale(domain=list(COLOURS), range=list(COLOURS.values())),
            legend=None,
        )
    )
    labels = base.mark_text(align="left", dx=6, color=INK, fontSize=13).encode(
        text=alt.Text("label:N")
    )
    return alt.layer(bars, labels).properties(width=WIDTH - 120, height=46 * len(rows))


def weekly(rows: list[tuple[str, int, int]]) -> Chart:
    """Done and skipped per week, stacked."""
    values = [
        {"week": week, "answer": answer, "n": n}
        for week, done, skipped in rows
        for answer, n in (("done", done), ("skipped", skipped))
    ]
    chart = (
        alt.Chart(_data(values))
        .mark_bar()
        .encode(
            x=alt.X("week:O", title="week starting", axis=alt.Axis(labelAngle=-40)),
            y=alt.Y("n:Q", title="answers", stack="zero"),
            color=alt.Color(
                "answer:N",
                scale=alt.Scale(
                    domain=["done", "skipped"], range=[COLOURS["done"], COLOURS["skipped"]]
                ),
                legend=alt.Legend(title=None, orient="top"),
            ),
            order=alt.Order("answer:N", sort="ascending"),
        )
        .properties(width=WIDE, height=220)
    )
    return cast(Chart, chart)


def shares(rows: list[tuple[str, float]]) -> Chart:
    """Per source, the share of its supporters who took part: horizontal bars, best first."""
    values = [{"source": source, "share": share} for source, share in rows]
    base = alt.Chart(_data(values)).encode(
        y=alt.Y("source:N", sort="-x", title=None),
        x=alt.X("share:Q", title="share who took part", axis=alt.Axis(format="%")),
    )
    bars = base.mark_bar(color=COLOURS["done"], height=18)
    labels = base.mark_text(align="left", dx=5, color=INK, fontSize=12).encode(
        text=alt.Text("share:Q", format=".0%")
    )
    return alt.layer(bars, labels).properties(width=WIDTH - 140, height=max(60, 26 * len(values)))


class Charts:
    """Draws charts as SVG data URIs, off the event loop, with a small cache."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def draw(self, chart: Chart) -> str:
        spec = chart.to_dict(validate=False)
        spec["config"] = CONFIG
        key = json.dumps(spec, sort_keys=True)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        svg = vl_convert.vegalite_to_svg(spec, allowed_base_urls=[])
        uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
        with self._lock:
            self._cache[key] = uri
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return uri

    async def svg(self, chart: Chart) -> str:
        return await asyncio.to_thread(self.draw, chart)

    def warm(self) -> None:
        """Start vl-convert's engine (its first drawing is slow), ahead of the first page."""
        self.draw(trend([("warm-up", 0)]))
