"""The dashboard's charts as inline SVG, drawn on the server: no chart library, no script, no CDN.

Every text that goes into the SVG is escaped; figures are the summary's (`service/summary_models.py`),
to the penny as its JSON gives them.
"""

from __future__ import annotations

from collections.abc import Sequence
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
MUTED = "#6b7280"
BLUE = "#1d4ed8"


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


def budget_bars(lines: Sequence[SummaryLine], *, elapsed: Decimal) -> Markup:
    """One row per line: its budget as a track (100%), eligible spend in teal, ineligible in red,
    the forecast at the end date as an amber tick, and the share of the period elapsed as a dashed
    line across every row (spending in step with time follows it)."""
    rows = [line for line in lines if line.budget > 0 or line.spent > 0]
    left, right, bar_height, row_height, top = 230, 220, 14, 36, 30
    width = 900
    track = width - left - right
    # The scale shows spend up to 125% of budget, or up to 150% when some line is that far over;
    # a forecast beyond the scale is an arrow at its end.
    ratios = [Decimal("1.25")]
    for line in rows:
        if line.budget > 0:
            ratios.append(line.spent / line.budget)
    scale = float(min(Decimal("1.5"), max(ratios)))
    height = top + row_height * len(rows) + 24

    def x_of(ratio: Decimal | float) -> float:
        return left + track * min(float(ratio), scale) / scale

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
            f'role="img" aria-labelledby="bars-title" class="chart chart-bars">'
        ),
        '<title id="bars-title">Spend against budget, by category</title>',
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5):
        if tick > scale + 1e-9:
            break
        x = x_of(tick)
        parts.append(
            f'<line x1="{_f(x)}" y1="{top - 6}" x2="{_f(x)}" y2="{height - 22}" stroke="'
            f'{"#9ca3af" if tick == 1.0 else "#f3f4f6"}" stroke-width="1"/>'
        )
        parts.append(_text(x, top - 12, f"{tick:.0%}", anchor="middle", size=11, fill=MUTED))
    if elapsed > 0:
        x = x_of(min(elapsed, Decimal(1)))
        parts.append(
            f'<line x1="{_f(x)}" y1="{top - 4}" x2="{_f(x)}" y2="{height - 22}" stroke="{BLUE}" '
            'stroke-width="1.5" stroke-dasharray="4 3"/>'
        )
        parts.append(
            _text(
                x,
                height - 8,
                f"{min(elapsed, Decimal(1)):.0%} of the period elapsed",
                anchor="middle",
                size=11,
                fill=BLUE,
            )
        )
    for index, line in enumerate(rows):
        y = top + index * row_height + 6
        budget, spent, eligible = line.budget, line.spent, line.eligible
        derived = line.derived
        parts.append(f'<g class="bar-row" data-category="{escape(line.category)}">')
        parts.append(
            _text(
                left - 10,
                y + bar_height - 2,
                label(line.category),
                anchor="end",
                size=13,
                fill=MUTED if derived else INK,
            )
        )
        parts.append(
            f'<rect x="{left}" y="{y}" width="{_f(x_of(1) - left)}" height="{bar_height}" rx="3" '
            f'fill="{GREY}"/>'
        )
        if budget > 0:
            eligible_end = x_of(eligible / budget)
            spent_end = x_of(spent / budget)
            if eligible > 0:
                parts.append(
                    f'<rect x="{left}" y="{y}" width="{_f(eligible_end - left)}" height="{bar_height}" '
                    f'rx="3" fill="{"#94a3b8" if derived else TEAL}"/>'
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
                width - right + 10,
                y + bar_height - 2,
                value,
                size=12,
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


def spend_over_time(summary: ProjectSummary) -> Markup:
    """Cumulative spend by month against the budget line, the even-spend line, and the forecast
    from the latest month to the end date (dashed)."""
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
    width, height = 900, 340
    left, right, top_pad, bottom = 70, 150, 20, 40
    plot_w, plot_h = width - left - right, height - top_pad - bottom

    def x_of(month: float) -> float:
        return left + plot_w * month / max(1, months)

    def y_of(amount: Decimal) -> float:
        return top_pad + plot_h * (1 - float(amount / ceiling))

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
            'role="img" aria-labelledby="spend-title" class="chart chart-spend">'
        ),
        '<title id="spend-title">Cumulative spend against the budget, with the forecast to the end date</title>',
    ]
    tick = Decimal(0)
    while tick <= ceiling:
        y = y_of(tick)
        parts.append(f'<line x1="{left}" y1="{_f(y)}" x2="{left + plot_w}" y2="{_f(y)}" stroke="#f3f4f6"/>')
        parts.append(_text(left - 8, y + 4, short_pounds(tick), anchor="end", size=11, fill=MUTED))
        tick += step
    every = max(1, -(-months // 12))
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
                size=11,
                fill=MUTED,
            )
        )
    parts.append(
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" y2="{top_pad + plot_h}" stroke="{MUTED}"/>'
    )
    # Even spend: the budget spread evenly over the period.
    parts.append(
        f'<line x1="{_f(x_of(0))}" y1="{_f(y_of(Decimal(0)))}" x2="{_f(x_of(months))}" y2="{_f(y_of(budget))}" '
        'stroke="#cbd5e1" stroke-width="1.5" stroke-dasharray="2 4"/>'
    )
    # Budget line.
    yb = y_of(budget)
    parts.append(
        f'<line x1="{left}" y1="{_f(yb)}" x2="{left + plot_w}" y2="{_f(yb)}" stroke="{INK}" stroke-width="2" '
        'stroke-dasharray="8 4"/>'
    )
    parts.append(_text(left + plot_w + 8, yb + 4, f"Budget {pounds(budget)}", size=12, weight="bold"))
    # Spend so far, as an area and a line.
    coordinates = " ".join(f"{_f(x_of(m))},{_f(y_of(v))}" for m, v in points)
    last_month, last_value = points[-1]
    area = f"{_f(x_of(0))},{_f(y_of(Decimal(0)))} {coordinates} {_f(x_of(last_month))},{_f(y_of(Decimal(0)))}"
    parts.append(f'<polygon points="{area}" fill="{TEAL}" fill-opacity="0.12"/>')
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
        parts.append(
            _text(
                left + plot_w + 8, fy + 4, f"Forecast {pounds(forecast)}", size=12, fill=colour, weight="bold"
            )
        )
    parts.append(
        _text(
            x_of(last_month),
            y_of(last_value) - 10,
            f"Spent {pounds(last_value)}",
            anchor="middle",
            size=12,
            fill=TEAL,
            weight="bold",
        )
    )
    parts.append("</svg>")
    return Markup("".join(parts))
