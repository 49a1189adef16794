"""PDF with fpdf2, drawn from the same HTML body as the page (`FPDF.write_html`).

fpdf2 is pure Python (its dependencies install from wheels): nothing to install on the system and
nothing fetched at run time. Text in any script is drawn with Unicode fonts from installed packages,
embedded as subsets (`ktpledger.reports.pdf_fonts`). A document with right-to-left text or combining
marks is shaped by HarfBuzz (`uharfbuzz`): Arabic letters join, right-to-left runs read right to
left, Indic vowel signs attach. Others are not (shaping costs a plain report 2.5 times the time and
a third more bytes, for kerning). The text stays extractable.
The creation date comes from the statement, not the clock, so the same statement gives the same PDF.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from fpdf import FPDF
from fpdf.fonts import TextStyle

from ktpledger.domain.alert_views import long_date
from ktpledger.reports.cells import Statement
from ktpledger.reports.page import body, page_title
from ktpledger.reports.pdf_fonts import BOLD, FAMILY, REGULAR, drawable, fallbacks_for, needs_shaping
from ktpledger.service.pack_models import ClaimPack
from ktpledger.service.report_appendix import AuditAppendix

TAG_STYLES = {
    "h1": TextStyle(font_family=FAMILY, font_size_pt=16, font_style="B", t_margin=0, b_margin=1),
    "h2": TextStyle(font_family=FAMILY, font_size_pt=12, font_style="B", t_margin=1, b_margin=0.5),
    "h3": TextStyle(font_family=FAMILY, font_size_pt=10, font_style="B", t_margin=1, b_margin=0.5),
    "p": TextStyle(font_family=FAMILY, font_size_pt=9, t_margin=2, b_margin=1),
}
HTML_OPTIONS: dict[str, Any] = {
    "font_family": FAMILY,
    "tag_styles": TAG_STYLES,
    "table_line_separators": True,
    "warn_on_tags_not_matching": False,
}
# A section starts at each heading: it is kept on one page with its table and its totals.
SECTION_START = re.compile(r"(?=<h[23][ >])")
ONLY_HEADING = re.compile(r"<h([23])[^>]*>.*?</h\1>", re.DOTALL)


class _Document(FPDF):
    def __init__(self, footer: str) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self._footer = footer

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(FAMILY, size=7)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, f"{self._footer}   page {self.page_no()} of {{nb}}", align="C")

    def multi_cell(self, *args: Any, **kwargs: Any) -> Any:
        """A table cell. fpdf2 leaves the direction of a cell's last bidi run set after it; the
        headings and paragraphs `write_html` draws next make no bidi pass of their own and would
        inherit it ("Parental leave" drawn right to left after a Hebrew minute), so it is unset."""
        try:
            return super().multi_cell(*args, **kwargs)
        finally:
            if self.text_shaping:
                self.text_shaping["fragment_direction"] = None
                self.text_shaping["paragraph_direction"] = None


def _stamp(statement: Statement) -> datetime:
    if isinstance(statement, ClaimPack):
        day: date = statement.end
    else:
        day = statement.closed_on or statement.terms.start
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def render_pdf(statement: Statement, appendix: AuditAppendix | None = None) -> bytes:
    # The whitespace between tags only lays out the HTML source; fpdf2 would draw it as blank lines.
    content = re.sub(r">\s+<", "><", drawable(body(statement, appendix)))
    what = f"claim pack {statement.quarter}" if isinstance(statement, ClaimPack) else "reconciliation"
    prepared = (
        "" if appendix is None else f" - prepared {long_date(appendix.prepared.on)} by {appendix.prepared.by}"
    )
    footer = drawable(f"{statement.project} {what} - ledger position {statement.ledger.position}{prepared}")
    pdf = _Document(footer)
    pdf.add_font(FAMILY, "", REGULAR.path)
    pdf.add_font(FAMILY, "B", BOLD.path)
    fallbacks = fallbacks_for((content, footer))
    for face in fallbacks:
        pdf.add_font(face.family, "", face.path, collection_font_number=face.collection)
    if fallbacks:
        # A fallback draws bold text too (in its regular weight) rather than leave a gap.
        pdf.set_fallback_fonts([face.family for face in fallbacks], exact_match=False)
    if needs_shaping(content):
        pdf.set_text_shaping(True)
    pdf.set_title(drawable(page_title(statement)))
    pdf.set_author("ktpledger")
    pdf.set_subject(drawable(f"{statement.project} {what}"))
    pdf.set_creator("ktpledger")
    pdf.set_creation_date(_stamp(statement))
    pdf.set_margins(left=10, top=10, right=10)
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.add_page()
    pdf.set_font(FAMILY, size=8)
    for section in sections(content):
        _write_section(pdf, section)
    return bytes(pdf.output())


def sections(content: str) -> list[str]:
    """The body cut at each heading; a heading with nothing under it but the next heading (a
    "Transactions" above its first category) goes with the section after it."""
    chosen: list[str] = []
    pending = ""
    for part in SECTION_START.split(content):
        if not part:
            continue
        if ONLY_HEADING.fullmatch(part):
            pending += part
            continue
        chosen.append(pending + part)
        pending = ""
    if pending:
        chosen.append(pending)
    return chosen


def _write_section(pdf: _Document, section: str) -> None:
    """One heading with what follows it, on a new page when it would not fit on the rest of this
    one (a section longer than a page still breaks, with its table's header row repeated): a
    heading is never left at a page's foot, a total never carried alone to the next page."""
    if pdf.get_y() > pdf.t_margin + 1:
        with pdf.offset_rendering() as trial:
            pdf.write_html(section, **HTML_OPTIONS)
        if trial.page_break_triggered:
            pdf.add_page()
    pdf.write_html(section, **HTML_OPTIONS)
