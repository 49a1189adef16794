"""A table longer than a page in the PDF (issue 17): the transaction listing of a category with
many claims. Its heading keeps its first rows, its total keeps the rows before it, its header row
is repeated on each page it continues on, every page has its footer. Read per page with
`pdftotext -layout`. 95 claims put the total alone at the top of a page when the table was left to
break wherever it fell; 250 make the listing run over several pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ktpledger.bootstrap import bootstrap
from ktpledger.reports import render
from ktpledger.service.report_appendix import audit_appendix
from ktpledger.service.schema import upgrade
from ktpledger.service.statements import reconciliation_statement
from ktpledger.settings import Settings
from tests.reports import scenarios
from tests.reports.pdf_pages import DATED_ROW, headings, layout_pages, layout_problems

P = "KTP-0042"


@pytest.fixture(scope="module", params=[95, 250], ids=lambda count: f"{count}-claims")
def listing(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, int]]:
    """The reconciliation PDF (with its appendix) of a project with that many consumables claims,
    and its HTML beside it."""
    count: int = request.param
    folder = tmp_path_factory.mktemp(f"long-{count}")
    app = bootstrap(Settings(database_url=f"sqlite:///{folder}/r.db"))
    try:
        upgrade(app.database)
        scenarios.record(app, scenarios.long_listing(count))
        statement = reconciliation_statement(app.database, P, checkpoints=app.checkpoints)
        appendix = audit_appendix(app.database, P, prepared_by="Jo Finance")
        (folder / "r.pdf").write_bytes(render(statement, "pdf", appendix))
        (folder / "r.html").write_bytes(render(statement, "html", appendix))
    finally:
        app.close()
    yield folder / "r.pdf", count


def test_a_long_table_keeps_its_heading_and_its_total_with_rows(listing: tuple[Path, int]) -> None:
    pdf, count = listing
    pages = layout_pages(pdf)
    page_html = pdf.with_suffix(".html").read_text(encoding="utf-8")
    assert layout_problems(pages, f"{P} reconciliation", headings(page_html)) == []
    # No grant payment: said so, not a table of nothing but its total.
    assert "<p>No grant payment is recorded.</p>" in page_html and "Total received" not in page_html
    # The listing runs over two pages or more, each page of it under the column header row.
    holding = [lines for lines in pages if any(DATED_ROW.match(line) for line in lines)]
    assert len(holding) >= 2
    for lines in holding:
        first_row = next(index for index, line in enumerate(lines) if DATED_ROW.match(line))
        assert lines[first_row - 1].split()[:3] == ["Date", "Description", "Amount"], lines[: first_row + 1]
    # Every claim is listed once, and the listing's total right after the last of them.
    everything = [line for lines in pages for line in lines]
    listed = [index for index, line in enumerate(everything) if "Lab supplies batch" in line]
    assert len(listed) == count
    assert everything[listed[-1] + 1].startswith("Total ")
