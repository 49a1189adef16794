"""The dashboard's charts as inline SVG, drawn on the server: no chart library, no script, no CDN.

Every text that goes into the SVG is escaped; figures are the summary's (`service/summary_models.py`),
to the penny as its JSON gives them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from markupsafe import Markup, escape

from ktpledger.api.formatting import label, pounds
from ktpledger.domain.project import add_months
from ktpledger.service.summary_models import ProjectSummary, SummaryLine

TEAL = "#0f766e"
RED = "#c2410c"
AMBER = "#b45309"
GREY = "#e5e7eb"
INK = "#1f2937"
MUTED = "#4b5563"  # 7.6:1 on white: the axis labels
SLATE = "#64748b"  # 4.8:1 on white: the even-spend line, derived lines' bars, the budget track's edge
BLUE = "#1d4ed8"
# A mark that carries meaning keeps at least 3:1 against the card (WCAG 1.4.11; the dashboard's
# browser test asks 3.3); the grid and the shaded area under the spend line are class "decor".


DECOR = ' class="decor"'


def short_pounds(amount: Decimal) -> str:
    """£12k, £1.2m: axis labels."""
    value = abs(amount)
    if value >= 1_000_000:
        return f"£{amount / 1_000_000:.1f}m"
    if value >= 10_000:
        return f"£{amount / 1000:.0f}k"
    if value >= 1000:
        return f"£{amount / 1000:.1f}k"
    return f"£{amount:.0f}"


def _f(number: float) -> str:
    return f"{number:.1f}"


def _text(
    x: float,
    y: float,
    body: str,
    *,
    anchor: str = "start",
    size: int = 12,
    fill: str = INK,
    weight: str = "normal",
    css: str = "",
) -> str:
    klass = f' class="{css}"' if css else ""
    return (
        f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}" font-size="{size}" fill="{fill}" '
        f'font-weight="{weight}"{klass}>{escape(body)}</text>'
    )


@dataclass(frozen=True)
class BarsLayout:
    """Where the bar chart puts things. The wide one (a desktop) has each line's name on the left
    and its figures on the right of its bar; the narrow one (a phone, 320 units wide so that its
    labels render at 12 px or more on a 320 px screen) puts the name above the bar and the figures
    below it, with fewer ticks."""

    width: int
    left: int
    right: int
    top: int
    row_height: int
    bottom: int
    ticks: tuple[float, ...]
    tick_size: int
    name_size: int
    value_size: int
    narrow: bool


WIDE_BARS = BarsLayout(900, 230, 220, 30, 36, 24, (0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5), 11, 13, 12, False)
NARROW_BARS = BarsLayout(320, 16, 22, 34, 64, 30, (0, 0.5, 1.0, 1.5), 14, 15, 14, True)


def budget_bars(lines: Sequence[SummaryLine], *, elapsed: Decimal, narrow: bool = False) -> Markup:
    """One row per line: its budget as a track (100%), eligible spend in teal, ineligible in red,
    the forecast at the end date as an amber tick, and the share of the period elapsed as a dashed
    line across every row (spending in step with time follows it). `narrow`: the phone's layout
    (the page has both; its stylesheet shows one)."""
    layout = NARROW_BARS if narrow else WIDE_BARS
    rows = [line for line in lines if line.budget > 0 or line.spent > 0]
    left, right, row_height, top = layout.left, layout.right, layout.row_height, layout.top
    bar_height = 14
    width = layout.width
    track = width - left - right
    # The scale shows spend up to 125% of budget, or up to 150% when some line is that far over;
    # a forecast beyond the scale is an arrow at its end.
    ratios = [Decimal("1.25")]
    for line in rows:
        if line.budget > 0:
            ratios.append(line.spent / line.budget)
    scale = float(min(Decimal("1.5"), max(ratios)))
    height = top + row_height * len(rows) + layout.bottom
    bar_top = 22 if narrow else 6  # a bar's top below its row's top
    title = "bars-title-narrow" if narrow else "bars-title"

    def x_of(ratio: Decimal | float) -> float:
        return left + track * min(float(ratio), scale) / scale

    def spans(first: float) -> list[tuple[float, float]]:
        """Where a line across the rows is drawn: from `first` to the last row, or on a phone
        (where the names and figures sit above and below the bars) across each bar only."""
        if not narrow:
            return [(first, height - 22)]
        return [
            (top + i * row_height + bar_top - 4, top + i * row_height + bar_top + 18)
            for i in range(len(rows))
        ]

    def across(x: float, first: float, attributes: str) -> str:
        return "".join(
            f'<line x1="{_f(x)}" y1="{_f(y1)}" x2="{_f(x)}" y2="{_f(y2)}" {attributes}/>'
            for y1, y2 in spans(first)
        )

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
            f'role="img" aria-labelledby="{title}" '
            f'class="chart chart-bars {"chart-narrow" if narrow else "chart-wide"}">'
        ),
        f'<title id="{title}">Spend against budget, by category</title>',
    ]
    for tick in layout.ticks:
        if tick > scale + 1e-9:
            break
        x = x_of(tick)
        colour = (
            f'stroke="{SLATE if tick == 1.0 else "#f3f4f6"}" stroke-width="1"{"" if tick == 1.0 else DECOR}'
        )
        parts.append(across(x, top - 6, colour))
        parts.append(_text(x, top - 12, f"{tick:.0%}", anchor="middle", size=layout.tick_size, fill=MUTED))
    if elapsed > 0:
        x = x_of(min(elapsed, Decimal(1)))
        parts.append(across(x, top - 4, f'stroke="{BLUE}" stroke-width="1.5" stroke-dasharray="4 3"'))
        # On a phone the label stays inside the chart whatever the share elapsed.
        label_x = min(max(x, left + 95), width - right - 95) if narrow else x
        parts.append(
            _text(
                label_x,
                height - 8,
                f"{min(elapsed, Decimal(1)):.0%} of the period elapsed",
                anchor="middle",
                size=layout.tick_size if narrow else 11,
                fill=BLUE,
            )
        )
    for index, line in enumerate(rows):
        y = top + index * row_height + bar_top
        budget, spent, eligible = line.budget, line.spent, line.eligible
        derived = line.derived
        parts.append(f'<g class="bar-row" data-category="{escape(line.category)}">')
        parts.append(
            _text(
                left if narrow else left - 10,
                y - 10 if narrow else y + bar_height - 2,
                label(line.category),
                anchor="start" if narrow else "end",
                size=layout.name_size,
                fill=MUTED if derived else INK,
                weight="600" if narrow else "normal",
            )
        )
        parts.append(
            f'<rect x="{left}" y="{y}" width="{_f(x_of(1) - left)}" height="{bar_height}" rx="3" '
            f'fill="{GREY}" stroke="{SLATE}" stroke-width="1"/>'
        )
        if budget > 0:
            eligible_end = x_of(eligible / budget)
            spent_end = x_of(spent / budget)
            if eligible > 0:
                parts.append(
                    f'<rect x="{left}" y="{y}" width="{_f(eligible_end - left)}" height="{bar_height}" '
                    f'rx="3" fill="{SLATE if derived else TEAL}"/>'
                )
            if spent > eligible:
                parts.append(
                    f'<rect x="{_f(eligible_end)}" y="{y}" width="{_f(max(1.5, spent_end - eligible_end))}" '
                    f'height="{bar_height}" fill="{RED}"/>'
                )
            forecast = line.forecast
            if forecast > 0:
                ratio = forecast / budget
                fx = x_of(ratio)
                colour = RED if line.forecast_over_budget else AMBER
                note = escape(f"Forecast at the end date: {pounds(forecast)} ({ratio:.0%} of budget)")
                if float(ratio) > scale:  # off the scale: an arrow at its end
                    shape = f"M {_f(fx + 1)} {y - 1} l 8 {bar_height / 2 + 1} l -8 {bar_height / 2 + 1} z"
                else:
                    shape = f"M {_f(fx)} {y - 2} l -5 -7 h 10 z"
                parts.append(f'<path d="{shape}" fill="{colour}"><title>{note}</title></path>')
            share = spent / budget
            value = f"{pounds(spent)} of {pounds(budget)} · {share:.0%}"
        else:
            value = f"{pounds(spent)} with no budget"
        over = spent > budget
        parts.append(
            _text(
                left if narrow else width - right + 10,
                y + bar_height + 17 if narrow else y + bar_height - 2,
                value,
                size=layout.value_size,
                fill=RED if over else INK,
                weight="bold" if over else "normal",
            )
        )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def _nice_step(top: Decimal) -> Decimal:
    raw = top / 5
    if raw <= 0:
        return Decimal(1)
    magnitude = Decimal(10) ** (len(str(int(raw))) - 1)
    for multiple in (1, 2, 2.5, 5, 10):
        step = magnitude * Decimal(str(multiple))
        if step >= raw:
            return step
    return magnitude * 10


def month_label(start: date, month: int) -> str:
    """The calendar month that begins `month` months into the project (month 0: its first)."""
    return add_months(date(start.year, start.month, 1), month).strftime("%b %y")


def spend_over_time(summary: ProjectSummary, *, narrow: bool = False) -> Markup:
    """Cumulative spend by month against the budget line, the even-spend line, and the forecast
    from the latest month to the end date (dashed). `narrow`: the phone's layout, 320 units wide
    with fewer month ticks and the budget and forecast named above the plot instead of at its
    right (the page has both; its stylesheet shows one)."""
    spend = summary.spend
    months = summary.facts.months
    start = summary.facts.start
    budget = spend.budget
    forecast = spend.forecast
    points = [(0, Decimal(0))] + [(point.month, point.cumulative) for point in spend.series]
    dates = {point.month: point.to for point in spend.series}
    top = max([budget, forecast, *(value for _, value in points), Decimal(1)])
    step = _nice_step(top * Decimal("1.05"))
    ceiling = step * ((top * Decimal("1.05") / step).to_integral_value(rounding="ROUND_CEILING"))
    if narrow:
        width, height = 320, 280
        left, right, top_pad, bottom = 48, 26, 52, 30  # room for the last month's label
        tick_size, label_size, title = 13, 14, "spend-title-narrow"
    else:
        width, height = 900, 340
        left, right, top_pad, bottom = 70, 150, 20, 40
        tick_size, label_size, title = 11, 12, "spend-title"
    plot_w, plot_h = width - left - right, height - top_pad - bottom

    def x_of(month: float) -> float:
        return left + plot_w * month / max(1, months)

    def y_of(amount: Decimal) -> float:
        return top_pad + plot_h * (1 - float(amount / ceiling))

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
            f'role="img" aria-labelledby="{title}" '
            f'class="chart chart-spend {"chart-narrow" if narrow else "chart-wide"}">'
        ),
        f'<title id="{title}">Cumulative spend against the budget, with the forecast to the end date</title>',
    ]
    tick = Decimal(0)
    while tick <= ceiling:
        y = y_of(tick)
        parts.append(
            f'<line x1="{left}" y1="{_f(y)}" x2="{left + plot_w}" y2="{_f(y)}" stroke="#f3f4f6"{DECOR}/>'
        )
        parts.append(_text(left - 8, y + 4, short_pounds(tick), anchor="end", size=tick_size, fill=MUTED))
        tick += step
    every = max(1, -(-months // (4 if narrow else 12)))
    for month in range(0, months + 1, every):
        x = x_of(month)
        parts.append(
            f'<line x1="{_f(x)}" y1="{top_pad + plot_h}" x2="{_f(x)}" y2="{top_pad + plot_h + 4}" stroke="{MUTED}"/>'
        )
        parts.append(
            _text(
                x,
                top_pad + plot_h + 18,
                month_label(start, month),
                anchor="middle",
                size=tick_size,
                fill=MUTED,
            )
        )
    parts.append(
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" y2="{top_pad + plot_h}" stroke="{MUTED}"/>'
    )
    # Even spend: the budget spread evenly over the period.
    parts.append(
        f'<line x1="{_f(x_of(0))}" y1="{_f(y_of(Decimal(0)))}" x2="{_f(x_of(months))}" y2="{_f(y_of(budget))}" '
        f'stroke="{SLATE}" stroke-width="1.5" stroke-dasharray="2 4"/>'
    )
    # Budget line.
    yb = y_of(budget)
    parts.append(
        f'<line x1="{left}" y1="{_f(yb)}" x2="{left + plot_w}" y2="{_f(yb)}" stroke="{INK}" stroke-width="2" '
        'stroke-dasharray="8 4"/>'
    )
    if narrow:
        parts.append(_text(8, 18, f"Budget {pounds(budget)}", size=label_size, weight="bold"))
    else:
        parts.append(_text(left + plot_w + 8, yb + 4, f"Budget {pounds(budget)}", size=12, weight="bold"))
    # Spend so far, as an area and a line.
    coordinates = " ".join(f"{_f(x_of(m))},{_f(y_of(v))}" for m, v in points)
    last_month, last_value = points[-1]
    area = f"{_f(x_of(0))},{_f(y_of(Decimal(0)))} {coordinates} {_f(x_of(last_month))},{_f(y_of(Decimal(0)))}"
    parts.append(f'<polygon points="{area}" fill="{TEAL}" fill-opacity="0.12"{DECOR}/>')
    parts.append(f'<polyline points="{coordinates}" fill="none" stroke="{TEAL}" stroke-width="2.5"/>')
    for month, value in points[1:]:
        parts.append(
            f'<circle cx="{_f(x_of(month))}" cy="{_f(y_of(value))}" r="3" fill="{TEAL}">'
            f"<title>{escape(f'to {dates[month]:%d %b %Y}: {pounds(value, pence=True)}')}</title></circle>"
        )
    # Forecast to the end date.
    over = spend.forecast_over_budget
    colour = RED if over else AMBER
    if summary.facts.status == "open" and last_month < months:
        parts.append(
            f'<line x1="{_f(x_of(last_month))}" y1="{_f(y_of(last_value))}" x2="{_f(x_of(months))}" '
            f'y2="{_f(y_of(forecast))}" stroke="{colour}" stroke-width="2.5" stroke-dasharray="6 4"/>'
        )
        parts.append(f'<circle cx="{_f(x_of(months))}" cy="{_f(y_of(forecast))}" r="4" fill="{colour}"/>')
        fy = y_of(forecast)
        if abs(fy - yb) < 16:
            fy = yb + (16 if fy >= yb else -16)
        fx = left + plot_w + 8
        if narrow:
            fx, fy = 8, 36
        parts.append(
            _text(
                fx,
                fy + 4 if not narrow else fy,
                f"Forecast {pounds(forecast)}",
                size=label_size,
                fill=colour,
                weight="bold",
            )
        )
    spent_x = x_of(last_month)
    if narrow:  # inside the chart, wherever the latest month falls
        spent_x = min(max(spent_x, left + 60), width - right - 60)
    parts.append(
        _text(
            spent_x,
            y_of(last_value) - 10,
            f"Spent {pounds(last_value)}",
            anchor="middle",
            size=label_size,
            fill=TEAL,
            weight="bold",
        )
    )
    parts.append("</svg>")
    return Markup("".join(parts))
