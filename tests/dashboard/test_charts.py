"""The SVG charts: real marks at the data's coordinates, labelled axes, a legend, a summary."""

from __future__ import annotations

import datetime as dt
import re

from bs4 import BeautifulSoup

from evict.server.views.charts import Marker, Series, burndown, nice_ticks, stacked_bars

D = dt.date(2026, 1, 1)


def test_ticks_are_round_and_cover_the_top() -> None:
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(4) == [0, 1, 2, 3, 4]
    assert nice_ticks(19) == [0, 5, 10, 15, 20]
    assert nice_ticks(1234)[-1] >= 1234 and nice_ticks(1234)[1] in (200, 250, 500)
    assert nice_ticks(1_000_000)[-1] == 1_000_000


def test_the_burndown_steps_through_the_points_and_marks_the_deadline() -> None:
    points = [(D, 20), (D + dt.timedelta(days=7), 12), (D + dt.timedelta(days=14), 12)]
    svg = burndown(
        points,
        markers=[
            Marker(D + dt.timedelta(days=30), "Begin removal: 2026-01-31"),
            Marker(D + dt.timedelta(days=14), "today", "today"),
        ],
        title="Burn-down <test>",
        description="From 20 hosts to 12.",
    )
    chart = BeautifulSoup(str(svg), "html.parser").svg
    assert chart["role"] == "img" and chart.title.get_text() == "Burn-down <test>"
    assert chart.desc.get_text() == "From 20 hosts to 12."
    texts = [t.get_text() for t in chart.find_all("text")]
    assert {
        "Date (UTC)",
        "Hosts",
        "Hosts carrying covered products",
        "Milestone due",
        "Today",
        "Begin removal: 2026-01-31",
    } <= set(texts)
    assert "20" in texts and "0" in texts  # the y axis reaches the data
    line = chart.find("path", class_="series-line")
    assert line["data-points"] == "3"
    ys = [float(v) for v in re.findall(r"V([\d.]+)", line["d"])]
    first_y = float(line["d"].split()[1])
    assert ys[0] > first_y  # down from 20 to 12: a larger y on screen
    deadline = chart.find("line", class_="marker-deadline")
    today = chart.find("line", class_="marker-today")
    assert float(deadline["x1"]) > float(today["x1"])  # the deadline is after today
    assert deadline["data-day"] == "2026-01-31"


def test_stacked_bars_are_proportional_and_escape_labels() -> None:
    svg = stacked_bars(
        [("Kaspersky <Endpoint>", (30, 10)), ("TikTok", (0, 5))],
        series=(Series("Still present", "present"), Series("Removed", "removed")),
        title="Products",
        description="Two products.",
        axis_label="Endpoints (hosts)",
    )
    chart = BeautifulSoup(str(svg), "html.parser").svg
    present = chart.find_all("rect", class_="bar-present")
    removed = chart.find_all("rect", class_="bar-removed")
    widths = {
        int(r["data-value"]): float(r["width"]) for r in present + removed if r.get("data-value")
    }
    assert abs(widths[30] / widths[10] - 3) < 0.05
    assert 0 not in widths  # an empty segment draws nothing
    assert "Kaspersky <Endpoint>" in chart.get_text() and "<Endpoint>" not in str(svg)
    assert "Endpoints (hosts)" in [t.get_text() for t in chart.find_all("text")]
    assert [t.get_text() for t in chart.find_all("text", class_="bar-total")] == ["40", "5"]
