"""PDF with fpdf2, drawn from the same HTML body as the page (`FPDF.write_html`).

fpdf2 is pure Python (its dependencies install from wheels): nothing to install on the system and
nothing fetched at run time. It uses the built-in Helvetica, whose text is extractable; the core
fonts encode Windows-1252 (WinAnsiEncoding), so "£", en and em dashes and curly quotes render, and
any other character is folded to its closest Windows-1252 form or replaced by "?".
The creation date comes from the document, not the clock, so the same document gives the same PDF.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from fpdf import FPDF
from fpdf.fonts import TextStyle

from ktpledger.reports.page import body, page_title

ENCODING = "cp1252"
FONT = "helvetica"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

TAG_STYLES = {
    "h1": TextStyle(font_family=FONT, font_size_pt=16, font_style="B", t_margin=0, b_margin=1),
    "h2": TextStyle(font_family=FONT, font_size_pt=12, font_style="B", t_margin=1, b_margin=0.5),
    "p": TextStyle(font_family=FONT, font_size_pt=9, t_margin=2, b_margin=1),
}


def pdf_text(text: str) -> str:
    """`text` with every character the core fonts cannot draw folded (é stays, ő becomes o) or
    replaced by "?"."""
    out = []
    for char in text:
        try:
            char.encode(ENCODING)
        except UnicodeEncodeError:
            folded = "".join(
                part
                for part in unicodedata.normalize("NFKD", char)
                if _encodable(part) and part.isprintable()
            )
            out.append(folded or "?")
        else:
            out.append(char)
    return "".join(out)


def _encodable(char: str) -> bool:
    try:
        char.encode(ENCODING)
    except UnicodeEncodeError:
        return False
    return True


class _Document(FPDF):
    def __init__(self, footer: str) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self._footer = footer

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(FONT, size=7)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, f"{self._footer}   page {self.page_no()} of {{nb}}", align="C")


def _stamp(document: Mapping[str, Any], kind: str) -> datetime:
    fields = ("to", "start") if kind == "claim_pack" else ("closed_on", "start")
    for field in fields:
        raw = document.get(field)
        if isinstance(raw, str) and raw:
            return datetime.combine(date.fromisoformat(raw), datetime.min.time(), tzinfo=UTC)
    return EPOCH


def render_pdf(document: Mapping[str, Any], kind: str) -> bytes:
    # The whitespace between tags only lays out the HTML source; fpdf2 would draw it as blank lines.
    content = re.sub(r">\s+<", "><", pdf_text(body(document, kind)))
    ledger = document.get("ledger") or {}
    what = f"claim pack {document.get('quarter')}" if kind == "claim_pack" else "reconciliation"
    footer = pdf_text(f"{document.get('project')} {what} - ledger position {ledger.get('position')}")
    pdf = _Document(footer)
    pdf.core_fonts_encoding = ENCODING
    pdf.set_title(pdf_text(page_title(document, kind)))
    pdf.set_author("ktpledger")
    pdf.set_subject(pdf_text(f"{document.get('project')} {what}"))
    pdf.set_creator("ktpledger")
    pdf.set_creation_date(_stamp(document, kind))
    pdf.set_margins(left=10, top=10, right=10)
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.add_page()
    pdf.set_font(FONT, size=8)
    pdf.write_html(
        content,
        font_family=FONT,
        tag_styles=TAG_STYLES,
        table_line_separators=True,
        warn_on_tags_not_matching=False,
    )
    return bytes(pdf.output())
