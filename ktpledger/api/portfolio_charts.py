"""The portfolio page's charts as inline SVG, drawn on the server as `charts.py` draws the project
page's: no chart library, no script, every text escaped, each chart titled for screen readers and
drawn twice (wide for a desktop, narrow for a phone: the stylesheet shows one). The figures are the
service's (`service/portfolio.py`); only coordinates are worked out here.

- `quarters_chart`: the shown projects' budget (their spend profiles' plan) and spend by calendar
  quarter, a pair of bars per quarter;
- `pace_scatter`: one point per project, the share of its period elapsed across and the share of
  its budget spent up, coloured and shaped by its status, with the diagonal where spend keeps
  pace with time.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup, escape

from ktpledger.api.charts import DECOR, INK, MUTED, RED, SLATE, TEAL, _f, _nice_step, _text, short_pounds
from ktpledger.api.formatting import percent, pounds
from ktpledger.domain.health import Health
from ktpledger.service.portfolio import PortfolioRow, QuarterFigures

# A status's mark: its colour (3:1 or more on white, WCAG 1.4.11) and its shape, so that the
# status is never told by colour alone.
GREEN = "#15803d"  # 5.0:1 on white
AMBER_MARK = "#b45309"  # 5.0:1 on white
STATUS_COLOURS = {Health.RED: RED, Health.AMBER: AMBER_MARK, Health.GREEN: GREEN}
BUDGET_FILL = "#cbd5e1"  # the plan's bar, edged in SLATE (4.8:1) so that its edge carries it


def _svg(width: int, height: int, title_id: str, title: str, css: str, narrow: bool) -> list[str]:
    return [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
            f'role="img" aria-labelledby="{title_id}" '
            f'class="chart {css} {"chart-narrow" if narrow else "chart-wide"}">'
        ),
        f'<title id="{title_id}">{escape(title)}</title>',
    ]


def quarters_chart(quarters: Sequence[QuarterFigures], *, narrow: bool = False) -> Markup:
    """A pair of bars per calendar quarter: the plan (grey, edged) and the spend (teal), on a
    pound scale; the quarter's name under every pair, or every few on a crowded axis."""
    if narrow:
        width, height, left, right, top, bottom, tick_size = 320, 240, 46, 8, 16, 34, 13
    else:
        width, height, left, right, top, bottom, tick_size = 900, 300, 70, 20, 20, 40, 12
    title_id = "quarters-title-narrow" if narrow else "quarters-title"
    parts = _svg(
        width,
        height,
        title_id,
        "Budget (the spend profiles' plan) and spend by quarter",
        "chart-quarters",
        narrow,
    )
    if not quarters:
        parts.append(_text(width / 2, height / 2, "No quarters to show", anchor="middle", fill=MUTED))
        parts.append("</svg>")
        return Markup("".join(parts))
    highest = max([Decimal(1), *(q.budget for q in quarters), *(q.spent for q in quarters)])
    step = _nice_step(highest * Decimal("1.05"))
    ceiling = step * (highest * Decimal("1.05") / step).to_integral_value(rounding="ROUND_CEILING")
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / len(quarters)
    bar = max(2.0, min(28.0, slot * 0.36))

    def y_of(amount: Decimal) -> float:
        return top + plot_h * (1 - float(max(amount, Decimal(0)) / ceiling))

    tick = Decimal(0)
    while tick <= ceiling:
        y = y_of(tick)
        parts.append(
            f'<line x1="{left}" y1="{_f(y)}" x2="{left + plot_w}" y2="{_f(y)}" stroke="#f3f4f6"{DECOR}/>'
        )
        parts.append(_text(left - 6, y + 4, short_pounds(tick), anchor="end", size=tick_size, fill=MUTED))
        tick += step
    # A quarter's name takes about 7 units a character at these sizes: name every `every` quarters.
    every = max(1, -(-len(quarters) * (6 if narrow else 7) * 7 // plot_w))
    base_y = top + plot_h
    for index, quarter in enumerate(quarters):
        middle = left + slot * (index + 0.5)
        name = str(quarter.quarter)
        shown_name = name[2:] if narrow else name  # "25Q1" on a phone
        parts.append(f'<g class="quarter" data-quarter="{escape(name)}">')
        for x, amount, fill, edge, what in (
            (middle - bar, quarter.budget, BUDGET_FILL, f' stroke="{SLATE}" stroke-width="1"', "planned"),
            (middle, quarter.spent, TEAL, "", "spent"),
        ):
            y = y_of(amount)
            note = escape(f"{name}: {pounds(amount, pence=True)} {what}")
            parts.append(
                f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(bar)}" height="{_f(max(0.0, base_y - y))}" '
                f'fill="{fill}"{edge}><title>{note}</title></rect>'
            )
        if index % every == 0:
            parts.append(_text(middle, base_y + 18, shown_name, anchor="middle", size=tick_size, fill=MUTED))
        parts.append("</g>")
    parts.append(f'<line x1="{left}" y1="{base_y}" x2="{left + plot_w}" y2="{base_y}" stroke="{MUTED}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _mark(status: Health, x: float, y: float, size: float) -> str:
    """A status's shape at (x, y): a square for red, a triangle for amber, a circle for green."""
    colour = STATUS_COLOURS[status]
    if status is Health.RED:
        return f'<rect x="{_f(x - size)}" y="{_f(y - size)}" width="{_f(2 * size)}" height="{_f(2 * size)}" fill="{colour}"'
    if status is Health.AMBER:
        return (
            f'<path d="M {_f(x)} {_f(y - size * 1.2)} L {_f(x + size * 1.15)} {_f(y + size)} '
            f'L {_f(x - size * 1.15)} {_f(y + size)} Z" fill="{colour}"'
        )
    return f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{_f(size)}" fill="{colour}"'


def pace_scatter(rows: Sequence[PortfolioRow], *, narrow: bool = False) -> Markup:
    """One point per project with a budget: across, the share of its period elapsed (0 to 100%);
    up, the share of its budget spent (0 to 100%, or to the highest share when some project is
    over, at most 200%: a point beyond is drawn at the top edge); the dashed diagonal is spend in
    step with time. Each point's `<title>` names the project, its status and both shares."""
    if narrow:
        width, height, left, right, top, bottom, tick_size, size = 320, 320, 44, 14, 36, 40, 13, 6.0
    else:
        width, height, left, right, top, bottom, tick_size, size = 520, 420, 50, 20, 36, 48, 12, 6.0
    title_id = "scatter-title-narrow" if narrow else "scatter-title"
    parts = _svg(
        width,
        height,
        title_id,
        "Share of budget spent against share of period elapsed, one point per project",
        "chart-scatter",
        narrow,
    )
    points = [row for row in rows if row.spent_share is not None]
    highest = max([Decimal(1), *(row.spent_share for row in points if row.spent_share is not None)])
    y_top = min(Decimal(2), (highest * 4).to_integral_value(rounding="ROUND_CEILING") / 4)
    plot_w, plot_h = width - left - right, height - top - bottom

    def x_of(share: Decimal) -> float:
        return left + plot_w * float(min(max(share, Decimal(0)), Decimal(1)))

    def y_of(share: Decimal) -> float:
        return top + plot_h * (1 - float(min(max(share, Decimal(0)), y_top) / y_top))

    for tick in (Decimal(0), Decimal("0.25"), Decimal("0.5"), Decimal("0.75"), Decimal(1)):
        x = x_of(tick)
        parts.append(
            f'<line x1="{_f(x)}" y1="{top}" x2="{_f(x)}" y2="{top + plot_h}" stroke="#f3f4f6"{DECOR}/>'
        )
        parts.append(_text(x, top + plot_h + 18, f"{tick:.0%}", anchor="middle", size=tick_size, fill=MUTED))
    tick = Decimal(0)
    while tick <= y_top:
        y = y_of(tick)
        parts.append(
            f'<line x1="{left}" y1="{_f(y)}" x2="{left + plot_w}" y2="{_f(y)}" stroke="#f3f4f6"{DECOR}/>'
        )
        parts.append(_text(left - 6, y + 4, f"{tick:.0%}", anchor="end", size=tick_size, fill=MUTED))
        tick += Decimal("0.25") if y_top <= Decimal("1.25") else Decimal("0.5")
    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="{MUTED}" stroke-width="1"/>'
    )
    parts.append(
        f'<line x1="{_f(x_of(Decimal(0)))}" y1="{_f(y_of(Decimal(0)))}" x2="{_f(x_of(Decimal(1)))}" '
        f'y2="{_f(y_of(Decimal(1)))}" stroke="{SLATE}" stroke-width="1.5" stroke-dasharray="6 4">'
        "<title>On time: the share spent equals the share elapsed</title></line>"
    )
    parts.append(
        _text(
            left + plot_w / 2,
            height - 6,
            "Share of the period elapsed",
            anchor="middle",
            size=tick_size,
            fill=INK,
        )
    )
    # Above the plot, not turned along the axis: a turned label is harder to read (and to measure).
    parts.append(_text(left - 6, top - 12, "Share of the budget spent", size=tick_size, fill=INK))
    # Red last, so that the most pressing points are drawn on top.
    for row in sorted(points, key=lambda row: -list(Health).index(row.status)):
        assert row.spent_share is not None
        note = escape(
            f"{row.project} ({row.status.value}): {percent(row.spent_share)} of the budget spent, "
            f"{percent(row.elapsed)} of the period elapsed"
        )
        parts.append(
            f"{_mark(row.status, x_of(row.elapsed), y_of(row.spent_share), size)} "
            f'stroke="#ffffff" stroke-width="1" class="point" data-project="{escape(row.project)}" '
            f'data-status="{row.status.value}"><title>{note}</title>'
            f"{'</rect>' if row.status is Health.RED else '</path>' if row.status is Health.AMBER else '</circle>'}"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
