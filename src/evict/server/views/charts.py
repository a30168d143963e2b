"""Charts drawn on the server as inline SVG: a burn-down and a stacked bar chart.

No JavaScript and nothing fetched: the pages must work on an air-gapped network and under a
strict Content-Security-Policy. Each chart is an ``<svg role="img">`` with a ``<title>`` and a
``<desc>`` that says in words what it shows; the pages put the same numbers in a table beside it.
Colours come from CSS classes (``dashboard.css``), so the charts follow the page's theme.

Pure functions of their data: tests parse the SVG and check the marks against the numbers.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH = 760
"""The charts' coordinate width (they scale to their container)."""
COMPACT = 500
"""Below this coordinate width a chart lays itself out for a phone."""
NARROW = 380
"""The width of the charts drawn for phones (shown by the stylesheet below 600 px)."""


@dataclass(frozen=True, slots=True)
class Marker:
    """A vertical line on a time axis: a milestone's due date, or today."""

    day: dt.date
    label: str
    kind: str = "deadline"
    """``deadline`` or ``today`` (a CSS class suffix)."""
    short: str = ""
    """The label on a phone-sized chart (default: :attr:`label`)."""


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a bar chart: its legend label and CSS class suffix."""

    label: str
    kind: str


def nice_ticks(top: float, count: int = 5) -> list[int]:
    """Round tick values from 0 covering ``top`` (steps of 1, 2 or 5 times a power of ten)."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next((m * power for m in (1, 2, 5, 10) if m * power >= raw), 10 * power)
    step = max(1, int(step))
    last = int(math.ceil(top / step)) * step
    return list(range(0, last + 1, step))


def _date_ticks(first: dt.date, last: dt.date) -> list[dt.date]:
    span = max(1, (last - first).days)
    step = next((s for s in (1, 2, 7, 14, 28, 56, 91, 182, 365, 730) if span / s <= 7), 1461)
    if step >= 28:
        # Month starts read better than every 28th day.
        months = max(1, round(step / 30.4))
        ticks = []
        year, month = first.year, first.month
        while True:
            month += 1
            if month > 12:
                year, month = year + 1, 1
            day = dt.date(year, month, 1)
            if day > last:
                break
            if (month - 1) % months == 0:
                ticks.append(day)
        return ticks or [first, last]
    return [first + dt.timedelta(days=d) for d in range(0, span + 1, step)]


def _day_label(day: dt.date, span_days: int) -> str:
    if span_days > 300:
        return day.strftime("%b %Y")
    return f"{day.day} {day.strftime('%b')}"


def _text(x: float, y: float, content: str, cls: str, anchor: str = "middle") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" class="{cls}" text-anchor="{anchor}">'
        f"{escape(content)}</text>"
    )


def burndown(
    points: Sequence[tuple[dt.date, int]],
    *,
    markers: Sequence[Marker],
    title: str,
    description: str,
    ident: str = "burndown",
    width: int = WIDTH,
) -> Markup:
    """A step chart of hosts over time, with vertical lines for ``markers``.

    :param points: ``(day, hosts at the end of that day)``, in day order, at least one.
    :param markers: due dates and today; those outside the points' range widen it.
    :param ident: a prefix for the element ids (unique on the page).
    :param width: the coordinate width; below :data:`COMPACT` the legend is stacked, so that
        a phone draws the chart near its natural size and its text stays readable.
    """
    compact = width < COMPACT
    legend_rows = 3 if compact else 1
    height, left, right, top, bottom = 320, 64, 24, 28 + 16 * legend_rows, 56
    inner_w, inner_h = width - left - right, height - top - bottom
    days = [p[0] for p in points] + [m.day for m in markers]
    first, last = min(days), max(days)
    if last == first:
        last = first + dt.timedelta(days=1)
    span = (last - first).days
    ticks = nice_ticks(max((p[1] for p in points), default=0))
    y_top = ticks[-1] or 1

    def x(day: dt.date) -> float:
        return left + inner_w * (day - first).days / span

    def y(value: float) -> float:
        return top + inner_h * (1 - value / y_top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]
    for value in ticks:
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" '
            f'y1="{y(value):.1f}" y2="{y(value):.1f}"/>'
        )
        parts.append(_text(left - 8, y(value) + 4, f"{value:,}", "tick", "end"))
    for day in _date_ticks(first, last):
        parts.append(
            f'<line class="tick-mark" x1="{x(day):.1f}" x2="{x(day):.1f}" '
            f'y1="{top + inner_h}" y2="{top + inner_h + 5}"/>'
        )
        parts.append(_text(x(day), top + inner_h + 19, _day_label(day, span), "tick"))
    parts.append(
        f'<line class="axis" x1="{left}" x2="{width - right}" '
        f'y1="{top + inner_h}" y2="{top + inner_h}"/>'
    )
    parts.append(f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{top + inner_h}"/>')
    parts.append(_text(left + inner_w / 2, height - 8, "Date (UTC)", "axis-label"))
    parts.append(
        f'<text class="axis-label" text-anchor="middle" '
        f'transform="translate(16 {top + inner_h / 2:.1f}) rotate(-90)">Hosts</text>'
    )
    if points:
        ordered = sorted(points)
        d = f"M{x(ordered[0][0]):.1f} {y(ordered[0][1]):.1f}"
        for day, value in ordered[1:]:
            d += f" H{x(day):.1f} V{y(value):.1f}"
        end = max(ordered[-1][0], max((m.day for m in markers if m.kind == "today"), default=first))
        d += f" H{x(end):.1f}"
        area = f"{d} V{y(0):.1f} H{x(ordered[0][0]):.1f} Z"
        parts.append(f'<path class="series-area" d="{area}"/>')
        parts.append(f'<path class="series-line" d="{d}" data-points="{len(ordered)}"/>')
    deadlines = 0
    for m in sorted(markers, key=lambda m: m.day):
        mx = x(m.day)
        parts.append(
            f'<line class="marker marker-{m.kind}" x1="{mx:.1f}" x2="{mx:.1f}" '
            f'y1="{top}" y2="{top + inner_h}" data-day="{m.day.isoformat()}"/>'
        )
        anchor = "end" if mx > left + inner_w * 0.7 else "start"
        dx = -5 if anchor == "end" else 5
        if m.kind == "today":
            label_y = top + inner_h - 8  # at the foot of its line, clear of the deadlines'
        else:
            label_y = top + 14 + 17 * (deadlines % 3)
            deadlines += 1
        text = (m.short or m.label) if compact else m.label
        parts.append(_text(mx + dx, label_y, text, f"marker-label marker-{m.kind}", anchor))
    legend_y = 18
    parts.append(
        f'<line class="series-line" x1="{left}" x2="{left + 24}" y1="{legend_y}" y2="{legend_y}"/>'
    )
    parts.append(
        _text(left + 30, legend_y + 4, "Hosts carrying covered products", "legend", "start")
    )
    lx = left + 270
    for kind, label in (("deadline", "Milestone due"), ("today", "Today")):
        if any(m.kind == kind for m in markers):
            if compact:
                lx, legend_y = left, legend_y + 16
            parts.append(
                f'<line class="marker marker-{kind}" x1="{lx}" x2="{lx + 24}" '
                f'y1="{legend_y}" y2="{legend_y}"/>'
            )
            parts.append(_text(lx + 30, legend_y + 4, label, "legend", "start"))
            lx += 150
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_bars(
    rows: Sequence[tuple[str, Sequence[int]]],
    *,
    series: Sequence[Series],
    title: str,
    description: str,
    axis_label: str,
    ident: str = "bars",
    width: int = WIDTH,
) -> Markup:
    """Horizontal stacked bars, one per row: ``(label, one value per series)``.

    :param width: the coordinate width; below :data:`COMPACT` labels get less room.
    """
    compact = width < COMPACT
    label_chars = 18 if compact else 36
    left, right, top, bottom, row_h = (140 if compact else 250), 56, 44, 48, 30
    height = top + bottom + row_h * max(1, len(rows))
    inner_w = width - left - right
    ticks = nice_ticks(max((sum(v) for _, v in rows), default=0))
    x_top = ticks[-1] or 1

    def x(value: float) -> float:
        return left + inner_w * value / x_top

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]
    base = top + row_h * max(1, len(rows))
    for value in ticks:
        parts.append(
            f'<line class="grid" x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{top}" y2="{base}"/>'
        )
        parts.append(_text(x(value), base + 18, f"{value:,}", "tick"))
    parts.append(f'<line class="axis" x1="{left}" x2="{width - right}" y1="{base}" y2="{base}"/>')
    parts.append(_text(left + inner_w / 2, height - 8, axis_label, "axis-label"))
    for i, (label, values) in enumerate(rows):
        ry = top + row_h * i
        short = label if len(label) <= label_chars else label[: label_chars - 1] + "…"
        parts.append(
            f'<text x="{left - 8}" y="{ry + row_h / 2 + 4:.1f}" class="tick" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(short)}</text>"
        )
        start = 0
        for s, value in zip(series, values, strict=True):
            if value:
                parts.append(
                    f'<rect class="bar bar-{s.kind}" x="{x(start):.1f}" y="{ry + 6}" '
                    f'width="{max(1.0, x(start + value) - x(start)):.1f}" height="{row_h - 12}" '
                    f'data-value="{value}"><title>{escape(label)}: {value:,} {escape(s.label)}'
                    f"</title></rect>"
                )
            start += value
        parts.append(_text(x(start) + 6, ry + row_h / 2 + 4, f"{start:,}", "bar-total", "start"))
    lx = left
    for s in series:
        parts.append(f'<rect class="bar bar-{s.kind}" x="{lx}" y="12" width="14" height="14"/>')
        parts.append(_text(lx + 20, 24, s.label, "legend", "start"))
        lx += 40 + 8 * len(s.label)
    parts.append("</svg>")
    return Markup("".join(parts))
