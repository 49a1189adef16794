"""The pieces the HTML body is built of: escaped values, tables with a header row and total rows,
and two-column tables of facts (what fpdf2's HTML renderer also understands)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

EMPTY = "-"  # a cell is never empty: fpdf2 drops empty cells and would shift the row


TOTAL_BG = "#f2f2f2"


def esc(value: object) -> str:
    """Every value from the statement, escaped; None and "" become a visible dash."""
    text = "" if value is None else str(value)
    return html.escape(text if text.strip() else EMPTY, quote=True)


class Column:
    """A table column: its heading, its share of the width (for the PDF) and whether it is a figure."""

    def __init__(self, heading: str, width: int, *, number: bool = False) -> None:
        self.heading = heading
        self.width = width
        self.number = number


def table(
    columns: Sequence[Column], rows: Iterable[Sequence[object]], *, totals: int = 0, width: int = 100
) -> str:
    """A table with a header row; the last `totals` rows are shaded and bold."""
    rows = list(rows)
    head = "".join(
        f'<th width="{column.width}%"'
        + (' class="num" align="right"' if column.number else ' align="left"')
        + f">{esc(column.heading)}</th>"
        for column in columns
    )
    body = []
    for index, row in enumerate(rows):
        total = index >= len(rows) - totals
        cells = []
        for column, value in zip(columns, row, strict=True):
            text = esc(value)
            if total:
                text = f"<b>{text}</b>"
            cells.append(
                f'<td class="num" align="right">{text}</td>'
                if column.number
                else f'<td align="left">{text}</td>'
            )
        attributes = f' class="total" bgcolor="{TOTAL_BG}"' if total else ""
        body.append(f"<tr{attributes}>{''.join(cells)}</tr>")
    opening = "<table>" if width == 100 else f'<table width="{width}%" align="left" style="width: {width}%">'
    return opening + "\n<tr>" + head + "</tr>\n" + "\n".join(body) + "\n</table>"


def facts(rows: Iterable[tuple[str, object]], *, css: str = "facts", numbers: bool = False) -> str:
    """A two-column table of name and value, without a header row."""
    cell = '<td class="num" align="right">' if numbers else "<td>"
    body = "\n".join(f"<tr><td><b>{esc(name)}</b></td>{cell}{esc(value)}</td></tr>" for name, value in rows)
    return f'<table class="{css}" width="60%" align="left">\n{body}\n</table>'
