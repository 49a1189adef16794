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
from collections.abc import Sequence
from dataclasses import dataclass
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
    # A heading stands clear of the table above it, as in the page's CSS, and close to its own.
    "h2": TextStyle(font_family=FAMILY, font_size_pt=12, font_style="B", t_margin=4, b_margin=0.5),
    "h3": TextStyle(font_family=FAMILY, font_size_pt=10, font_style="B", t_margin=2.5, b_margin=0.5),
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
    one: a heading is never left at a page's foot. A section longer than a page is cut between the
    rows of its longest table (`_write_long_table`)."""
    at_top = pdf.get_y() <= pdf.t_margin + 1
    long = _LongTable.of(section)
    # A table of more rows than a page can hold is not tried whole: each trial draws every row.
    may_fit = long is None or len(long.rows) <= _most_rows(pdf, pdf.t_margin)
    if may_fit and _fits(pdf, section):
        pdf.write_html(section, **HTML_OPTIONS)
        return
    if may_fit and not at_top and _fits(pdf, section, fresh_page=True):
        pdf.add_page()
        pdf.write_html(section, **HTML_OPTIONS)
        return
    if long is None:  # nothing to cut between rows: fpdf2 breaks it where it must
        if not at_top:
            pdf.add_page()
        pdf.write_html(section, **HTML_OPTIONS)
        return
    _write_long_table(pdf, long)


def _most_rows(pdf: _Document, y: float) -> int:
    """More rows than fit below `y`: no row is less than 3 mm high."""
    return int((pdf.page_break_trigger - y) / 3) + 1


def _fits(pdf: _Document, html: str, *, fresh_page: bool = False) -> bool:
    """Whether `html` fits on the rest of this page (or on a page of its own), tried and undone."""
    with pdf.offset_rendering() as trial:
        if fresh_page:
            pdf.set_y(pdf.t_margin)
        pdf.write_html(html, **HTML_OPTIONS)
    return not trial.page_break_triggered


# A heading keeps at least this many rows of its table on its page, and a table's total row at
# least this many rows above it on its page: a total alone under a repeated header row reads as
# another table's, and a heading at a page's foot with one row under it is easily missed.
KEEP_ROWS = 3
TABLE = re.compile(r"<table[^>]*>.*?</table>", re.DOTALL)
TABLE_OPENING = re.compile(r"<table[^>]*>")
ROW = re.compile(r"<tr[^>]*>.*?</tr>", re.DOTALL)


@dataclass(frozen=True)
class _LongTable:
    """A section around its longest table with a header row: what comes before the table (its
    headings, a paragraph), the table's opening tag, its header row, its rows (the total rows
    last) and what comes after it."""

    lead: str
    opening: str
    header: str
    rows: tuple[str, ...]
    totals: int
    tail: str

    @classmethod
    def of(cls, section: str) -> _LongTable | None:
        longest: tuple[re.Match[str], list[str]] | None = None
        for found in TABLE.finditer(section):
            rows = ROW.findall(found.group())
            if len(rows) < 2 or "<th" not in rows[0]:
                continue  # a table of facts has no header row to repeat
            if longest is None or len(rows) > len(longest[1]):
                longest = (found, rows)
        if longest is None:
            return None
        found, rows = longest
        opening = TABLE_OPENING.match(found.group())
        assert opening is not None
        totals = 0
        for row in reversed(rows[1:]):
            if 'class="total"' not in row:
                break
            totals += 1
        return cls(
            lead=section[: found.start()],
            opening=opening.group(),
            header=rows[0],
            rows=tuple(rows[1:]),
            totals=totals,
            tail=section[found.end() :],
        )

    def piece(self, rows: Sequence[str], *, first: bool, last: bool) -> str:
        """The table's `rows` under its header row: with the lead on the first piece, the tail on
        the last."""
        return (
            (self.lead if first else "")
            + self.opening
            + self.header
            + "".join(rows)
            + "</table>"
            + (self.tail if last else "")
        )


def _write_long_table(pdf: _Document, table: _LongTable) -> None:
    """The section a page at a time, each page's rows under the table's header row: the heading
    with at least KEEP_ROWS rows (else it starts on the next page), and the total rows with at
    least KEEP_ROWS rows before them (the page before breaks earlier)."""
    rows = table.rows
    first = True
    full_page = 0  # how many rows the last full page held: the first guess for the next one
    while True:
        whole = table.piece(rows, first=first, last=True)
        if len(rows) <= _most_rows(pdf, pdf.get_y()) and _fits(pdf, whole):
            pdf.write_html(whole, **HTML_OPTIONS)
            return
        at_top = pdf.get_y() <= pdf.t_margin + 1
        here = _rows_that_fit(pdf, table, rows, first=first, guess=full_page if at_top else 0)
        if here < min(KEEP_ROWS, len(rows)) and not at_top:
            pdf.add_page()
            continue
        if here >= len(rows):  # every row fits but what follows the table does not
            pdf.write_html(table.piece(rows, first=first, last=False), **HTML_OPTIONS)
            pdf.write_html(table.tail, **HTML_OPTIONS)
            return
        if at_top:
            full_page = here
        if len(rows) - here - table.totals < KEEP_ROWS:
            here = max(1, len(rows) - table.totals - KEEP_ROWS)
        if here < 1:  # not one row fits on a page of its own: fpdf2 breaks it where it must
            pdf.write_html(whole, **HTML_OPTIONS)
            return
        pdf.write_html(table.piece(rows[:here], first=first, last=False), **HTML_OPTIONS)
        pdf.add_page()
        rows = rows[here:]
        first = False


def _rows_that_fit(pdf: _Document, table: _LongTable, rows: Sequence[str], *, first: bool, guess: int) -> int:
    """How many of `rows` (under the header row, after the lead on the first piece) fit on the
    rest of this page: `guess` when it is right (two trials), else searched for."""

    def fit(count: int) -> bool:
        return _fits(pdf, table.piece(rows[:count], first=first, last=False))

    if 0 < guess < len(rows) and fit(guess) and not fit(guess + 1):
        return guess
    most = min(len(rows), _most_rows(pdf, pdf.get_y()))
    fewest = 0
    while fewest < most:
        tried = (fewest + most + 1) // 2
        if fit(tried):
            fewest = tried
        else:
            most = tried - 1
    return fewest
