"""The JSON shapes of docs/cli.md, built from domain objects; the CLI and HTTP API share them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ktpledger.domain.costing import Costing
from ktpledger.domain.money import ZERO, format_money, format_pounds
from ktpledger.domain.rules import Category


def costing_json(costing: Costing) -> dict[str, Any]:
    """`ktpledger costing --format json`: lines in the guidance tables' order, totals summing them."""
    request = costing.request
    return {
        "methodology": request.methodology.value,
        "business_type": request.business_type.value,
        "months": request.months,
        "london": request.london,
        "virtual": request.virtual,
        "grant_rate": f"{costing.grant_rate:.2f}",
        "rule_set": {
            "name": costing.rule_set.name,
            "in_force_from": costing.rule_set.in_force_from.isoformat(),
        },
        "lines": [
            {
                "category": line.category.value,
                "limit_kind": line.limit_kind.value,
                "limit": None if line.limit is None else format_money(line.limit),
                "requested": format_money(line.requested),
                "cut": format_money(line.cut),
                "eligible": format_money(line.eligible),
                "grant": format_money(line.grant),
                "business": format_money(line.business),
                **({"note": line.note} if line.note else {}),
            }
            for line in costing.lines
        ],
        "totals": {
            "eligible": format_money(costing.eligible),
            "grant": format_money(costing.grant),
            "business": format_money(costing.business),
        },
    }


def costing_rows(costing: Costing) -> list[tuple[str, ...]]:
    """Rows for people, with the non-fec subtotal before the overheads line as the guidance shows."""
    rows: list[tuple[str, ...]] = []
    subtotal = [ZERO, ZERO, ZERO]
    for line in costing.lines:
        if line.category is Category.KNOWLEDGE_BASE_OVERHEADS:
            rows.append(("subtotal", *(format_pounds(v) for v in subtotal), ""))
        else:
            subtotal = [subtotal[0] + line.eligible, subtotal[1] + line.grant, subtotal[2] + line.business]
        cut = f"cut {format_pounds(line.cut)}: {line.note}" if line.cut else line.note
        rows.append(
            (
                line.category.value,
                format_pounds(line.eligible),
                format_pounds(line.grant),
                format_pounds(line.business),
                cut,
            )
        )
    rows.append(
        (
            "total",
            format_pounds(costing.eligible),
            format_pounds(costing.grant),
            format_pounds(costing.business),
            "",
        )
    )
    return rows


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, numeric: set[int]) -> str:
    """Aligned columns: text left, the `numeric` column indexes right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: Sequence[str]) -> str:
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i]) for i, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(r) for r in rows)])
