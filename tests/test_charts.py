"""The dashboard's charts as the browser gets them: SVG images in data: URIs that
the Content-Security-Policy allows, with whole-number ticks, labels, and the numbers."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET

import pytest

from web import charts

SVG = "{http://www.w3.org/2000/svg}"
URI = "data:image/svg+xml;base64,"


def drawn(chart: charts.Chart) -> ET.Element:
    uri = charts.Charts().draw(chart)
    assert uri.startswith(URI)
    return ET.fromstring(base64.b64decode(uri.removeprefix(URI)))  # noqa: S314 (our own SVG)


def texts(svg: ET.Element) -> list[str]:
    return [text.text or "" for text in svg.iter(f"{SVG}text")]


def four() -> dict[str, charts.Chart]:
    weeks = [("2026-11-02", 1), ("2026-11-09", 0), ("2026-11-16", 3)]
    return {
        "trend": charts.trend(weeks),
        "funnel": charts.funnel([("delivered", 3), ("link opened", None), ("done", 1)]),
        "weekly": charts.weekly([(week, done, 1) for week, done in weeks]),
        "shares": charts.shares([("leaflet", 0.5), ("readme", 0.0333)]),
    }


@pytest.mark.parametrize("name", ["trend", "funnel", "weekly"])
def test_counts_have_whole_number_ticks(name: str) -> None:
    """A handful of supporters is counted 0, 1, 2, 3: never 0.2 or 1.5 of one."""
    labels = texts(drawn(four()[name]))
    assert not [label for label in labels if re.fullmatch(r"\d+\.\d+", label)], labels
    assert {"0", "1", "2", "3"} <= set(labels)


def test_shares_are_whole_percentages_best_first() -> None:
    labels = texts(drawn(charts.shares([("readme", 0.0333), ("leaflet", 0.5)])))
    assert "3%" in labels and "50%" in labels
    assert labels.index("leaflet") < labels.index("readme")
    assert not [label for label in labels if re.fullmatch(r"\d+\.\d+%", label)], labels


def test_labels_and_axis_titles_as_before() -> None:
    labels = {name: texts(drawn(chart)) for name, chart in four().items()}
    assert {"week starting", "done", "2026-11-16"} <= set(labels["trend"])
    assert {"delivered", "link opened", "not tracked", "supporters' deliveries and actions"} <= set(
        labels["funnel"]
    )
    assert {"answers", "done", "skipped"} <= set(labels["weekly"])
    assert "share who took part" in labels["shares"]


@pytest.mark.parametrize("name", ["trend", "funnel", "weekly", "shares"])
def test_nothing_a_policy_would_block_and_a_text_alternative(name: str) -> None:
    """Presentation attributes only: no script, no style element or attribute, no link
    out; the image names itself and carries its numbers."""
    svg = drawn(four()[name])
    for element in svg.iter():
        tag = element.tag.removeprefix(SVG)
        assert tag not in ("script", "style", "foreignObject", "image", "a"), tag
        for attribute in element.attrib:
            assert attribute != "style" and not attribute.startswith("on"), attribute
            assert "href" not in attribute, attribute
    assert svg.get("role") == "img"
    title = svg.find(f"{SVG}title")
    desc = svg.find(f"{SVG}desc")
    assert title is not None and title.text
    assert desc is not None and desc.text and re.search(r"\d", desc.text)


def test_names_are_text_not_markup() -> None:
    svg = drawn(charts.shares([('<script>alert("x")</script>&', 0.25)]))
    assert svg.find(f".//{SVG}script") is None
    assert '<script>alert("x")</script>&' in texts(svg)


def test_bars_are_as_long_as_their_numbers() -> None:
    svg = drawn(charts.funnel([("delivered", 200), ("link opened", 50), ("done", 100)]))
    fills = [path.get("fill") for path in svg.iter(f"{SVG}path")]
    assert fills == [charts.COLOURS[stage] for stage in ("delivered", "link opened", "done")]
    ends = []  # where each bar's straight top edge ends (its rounded corner follows)
    for path in svg.iter(f"{SVG}path"):
        found = re.search(r"H([\d.]+)", path.get("d", ""))
        assert found is not None
        ends.append(float(found.group(1)) + 3)
    assert ends[0] == pytest.approx(2 * ends[2], abs=1) and ends[2] == pytest.approx(2 * ends[1])
