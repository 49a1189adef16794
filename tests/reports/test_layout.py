"""What people and auditors see (issue 17): the reports of a fec and a non-fec project, with the
audit appendix, in every format. The PDF is rendered page by page to PNG with pdftoppm and its text
read per page: every page has its footer (project, ledger position, page N of M), no page holds
only a total, a section's heading never sits alone at a page's foot. The HTML is opened in
headless Chromium and screenshotted (into $KTPLEDGER_TEST_ARTIFACTS, default test-artifacts/).
Skipped with the reason when pdftoppm or Chromium is missing, except with CI=true."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from PIL import Image
from pypdf import PdfReader
from typer.testing import CliRunner

from ktpledger.bootstrap import App, bootstrap
from ktpledger.cli import app as cli
from ktpledger.domain.labels import gbp
from ktpledger.reports import FORMATS, Statement, filename, render
from ktpledger.service.report_appendix import AuditAppendix, audit_appendix
from ktpledger.service.schema import upgrade
from ktpledger.service.statement_models import ReconciliationStatement
from ktpledger.service.statements import quarter_pack, reconciliation_statement
from ktpledger.settings import Settings, parse_threshold
from tests.reports import scenarios
from tests.reports.browser import headless_chromium
from tests.reports.long_csv import csv_sections, long_csv
from tests.reports.pdf_pages import ARTIFACTS, headings, layout_pages, layout_problems

IN_CI = os.environ.get("CI", "").lower() == "true"
P = "KTP-0042"
Made = tuple[Statement, AuditAppendix]


def _made(app: App, quarter: str, threshold: Decimal | None) -> list[Made]:
    statement = reconciliation_statement(app.database, P, checkpoints=app.checkpoints)
    pack = quarter_pack(app.database, P, quarter, checkpoints=app.checkpoints)
    return [
        (
            statement,
            audit_appendix(app.database, P, prepared_by="Jo Finance", independent_report_threshold=threshold),
        ),
        (
            pack,
            audit_appendix(
                app.database,
                P,
                prepared_by="Jo Finance",
                date_from=pack.start,
                date_to=pack.end,
                through_version=pack.ledger.version,
            ),
        ),
    ]


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The fec lifecycle (closed) and an open non-fec project, each with its database URL and its
    (statement, appendix) of the reconciliation and a claim pack."""
    made: dict[str, Any] = {}
    apps = []
    for name, events, quarter in (
        ("fec", scenarios.lifecycle, "2025Q1"),
        ("non_fec", scenarios.open_non_fec, "2024Q4"),
    ):
        url = f"sqlite:///{tmp_path_factory.mktemp(name)}/r.db"
        app = bootstrap(Settings(database_url=url))
        upgrade(app.database)
        scenarios.record(app, events())
        apps.append(app)
        made[name] = {"url": url, "app": app, "reports": _made(app, quarter, Decimal("5000.00"))}
    yield made
    for app in apps:
        app.close()


def every_report(projects: dict[str, Any]) -> list[Made]:
    return [item for name in ("fec", "non_fec") for item in projects[name]["reports"]]


def pdftoppm() -> str:
    found = shutil.which("pdftoppm")
    if found:
        return found
    message = "pdftoppm not installed (poppler-utils): the PDF's pages are not rendered"
    if IN_CI:
        pytest.fail(f"{message}; CI=true, so the layout checks must run")
    pytest.skip(message)


def page_texts(data: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]


def body_lines(text: str, footer: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and footer not in line]


# ---------------------------------------------------------------- the PDF's pages


def test_the_non_fec_project_is_non_fec(projects: dict[str, Any]) -> None:
    statement, _ = projects["non_fec"]["reports"][0]
    assert statement.terms.methodology.value == "non_fec"
    assert "Non-FEC" in render(statement, "html").decode("utf-8")


def test_every_pdf_page_has_its_footer_and_no_page_holds_only_a_total(
    projects: dict[str, Any], tmp_path: Path
) -> None:
    program = pdftoppm()
    for statement, appendix in every_report(projects):
        data = render(statement, "pdf", appendix)
        texts = page_texts(data)
        for number, text in enumerate(texts, start=1):
            flat = re.sub(r"\s+", " ", text)
            assert f"page {number} of {len(texts)}" in flat, (statement.project, number)
            assert f"ledger position {statement.ledger.position}" in flat, number
            assert "prepared" in flat and appendix.prepared.by in flat, number
            lines = body_lines(text, f"page {number} of")
            assert len(lines) > 1, (number, lines)  # never a page of one row
            if number > 1:
                assert not lines[0].startswith(("Total", "Balance due", "Grant to claim")), (number, lines[0])
        # Rendered: one PNG per page, each with ink in the body and in the footer band.
        pdf = tmp_path / "report.pdf"
        pdf.write_bytes(data)
        for old in tmp_path.glob("page-*.png"):
            old.unlink()
        subprocess.run([program, "-png", "-r", "60", str(pdf), str(tmp_path / "page")], check=True)
        pngs = sorted(tmp_path.glob("page-*.png"))
        assert len(pngs) == len(texts)
        for png in pngs:
            with Image.open(png) as image:
                grey = image.convert("L")
                width, height = grey.size
                footer_band = grey.crop((0, int(height * 0.93), width, height))
                body = grey.crop((0, 0, width, int(height * 0.9)))
                assert footer_band.getextrema()[0] < 220, png.name  # the footer is drawn (small grey text)
                assert body.getextrema()[0] < 100, png.name  # the page has content


def test_every_pdf_passes_the_page_by_page_layout_checks(projects: dict[str, Any], tmp_path: Path) -> None:
    for statement, appendix in every_report(projects):
        pdf = tmp_path / filename(statement, "pdf")
        pdf.write_bytes(render(statement, "pdf", appendix))
        page_html = render(statement, "html", appendix).decode("utf-8")
        assert layout_problems(layout_pages(pdf), statement.project, headings(page_html)) == [], pdf.name


def test_a_heading_is_never_left_at_the_foot_of_a_page(projects: dict[str, Any]) -> None:
    headings = ("Settlement", "Parental leave", "Receivables", "Grant payments received", "Transactions")
    for statement, appendix in every_report(projects):
        for text in page_texts(render(statement, "pdf", appendix)):
            lines = body_lines(text, " of ")
            assert lines and not lines[-1].startswith(headings), lines[-3:]


# ---------------------------------------------------------------- what an auditor asks for


def test_the_reports_say_who_prepared_them_from_what(projects: dict[str, Any]) -> None:
    statement, appendix = projects["fec"]["reports"][0]
    assert isinstance(statement, ReconciliationStatement)
    page = render(statement, "html", appendix).decode("utf-8")
    for text in (
        "Innovate UK project reference",
        "Extensions</b></td><td>Extension of 3 month(s), no-cost (1 October 2026)",
        "Prepared by</b></td><td>Jo Finance",
        "Prepared on</b></td><td>15 July 2027",  # the latest event's date: the closing
        f"Ledger position</b></td><td>{statement.ledger.position}",
        statement.ledger.head_hash,
        "Grant payments received",
        "28 April 2025",
        "LMC decisions and offer amendments",
        "LMC1 item 4",
        "Transactions by category",
        "claim 2024Q4-laptop",
        "Paternity pay",
        "Certification by the finance officer",
        "I certify that",
        "Signature",
        "An independent accountant's report is required",
    ):
        assert text in page, text
    # No note when the grant is under the threshold, or with no threshold.
    high = replace(appendix, prepared=replace(appendix.prepared, independent_report_threshold=Decimal("1e9")))
    assert "report is required" not in render(statement, "html", high).decode()
    assert "report is required" not in render(statement, "html").decode()


def test_prepared_on_is_given_or_the_latest_event_never_the_clock(projects: dict[str, Any]) -> None:
    app = projects["fec"]["app"]
    made = audit_appendix(app.database, P, prepared_by="Jo")
    assert made.prepared.on == date(2027, 7, 15)
    given = audit_appendix(app.database, P, prepared_by="Jo", prepared_on=date(2027, 8, 1))
    assert given.prepared.on == date(2027, 8, 1)
    statement, _ = projects["fec"]["reports"][0]
    for fmt in FORMATS:
        assert render(statement, fmt, made) == render(
            statement, fmt, audit_appendix(app.database, P, prepared_by="Jo")
        ), fmt


def test_the_threshold_setting() -> None:
    assert parse_threshold(None, name="X") == Decimal("250000.00")
    assert parse_threshold("350000", name="X") == Decimal("350000.00")
    assert parse_threshold("£1,000", name="X") == Decimal("1000.00")
    assert parse_threshold("none", name="X") is None
    for bad in ("-1", "lots", "NaN"):
        with pytest.raises(ValueError, match="X"):
            parse_threshold(bad, name="X")
    env = {"KTPLEDGER_INDEPENDENT_REPORT_THRESHOLD": "100000"}
    assert Settings.from_env(env).independent_report_threshold == Decimal("100000.00")


def test_the_command_line_prepares_by_as_on_prepared_on(projects: dict[str, Any], tmp_path: Path) -> None:
    url = projects["fec"]["url"]
    outputs = []
    for attempt in range(2):
        out = tmp_path / f"r{attempt}.pdf"
        result = CliRunner().invoke(
            cli,
            [
                *("--db", url, "--as", "Sam Auditor", "reconcile", P, "--format", "pdf"),
                *("--prepared-on", "2027-08-01", "--out", str(out)),
            ],
        )
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]  # the same ledger, the same person, the same day: the same bytes
    text = re.sub(r"\s+", " ", " ".join(page_texts(outputs[0])))
    assert "Sam Auditor" in text and "1 August 2027" in text
    refused = CliRunner().invoke(
        cli, ["--db", url, "reconcile", P, "--format", "html", "--prepared-on", "soon"]
    )
    assert refused.exit_code != 0


# ---------------------------------------------------------------- spreadsheets


def test_the_csv_loads_as_one_table(projects: dict[str, Any]) -> None:
    for statement, appendix in every_report(projects):
        data = render(statement, "csv", appendix)
        rows = long_csv(data)  # one header row; every row the same four columns
        sections = [row["section"] for row in rows]
        assert "transactions" in sections and "prepared" in sections
        prepared = {row["field"]: row["value"] for row in rows if row["section"] == "prepared"}
        assert prepared["prepared_by"] == "Jo Finance"
        # every row of a table pivots to the same columns
        for section in csv_sections(data):
            assert len({len(row) for row in section}) == 1, section[0]


def test_the_workbook_has_a_sheet_per_table_with_formulas(projects: dict[str, Any]) -> None:
    statement, appendix = projects["fec"]["reports"][0]
    book = load_workbook(io.BytesIO(render(statement, "xlsx", appendix)))
    for name in ("Reconciliation", "Settlement", "Grant payments", "LMC decisions", "Transactions", "About"):
        assert name in book.sheetnames, name
    payments = [[cell.value for cell in row] for row in book["Grant payments"].iter_rows()]
    assert payments[0][:2] == ["Payment date", "Payment amount"]
    for sheet in book.worksheets:
        assert sheet.page_setup.orientation == "landscape", sheet.title
        assert "Page &P of &N" in (sheet.oddFooter.right.text or ""), sheet.title
    about = {row[0].value: row[1].value for row in book["About"].iter_rows()}
    assert about["Prepared by"] == "Jo Finance"


# ---------------------------------------------------------------- the HTML in a browser


def test_the_html_in_headless_chromium(projects: dict[str, Any], tmp_path: Path, monkeypatch: Any) -> None:
    driver = headless_chromium(tmp_path, monkeypatch)
    try:
        driver.set_window_size(1280, 900)
        for number, (statement, appendix) in enumerate(every_report(projects)):
            page = tmp_path / f"report-{number}.html"
            page.write_bytes(render(statement, "html", appendix))
            driver.get(page.as_uri())
            assert statement.project in driver.title
            overflow = driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (page.name, overflow)  # nothing wider than the window
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = ARTIFACTS / f"layout-{number}-{filename(statement, 'html').removesuffix('.html')}.png"
            assert driver.save_screenshot(str(shot))
            with Image.open(shot) as image:
                assert image.size[0] >= 1000
            text = driver.find_element("tag name", "body").text
            assert gbp(statement.totals["eligible"]) in text  # money as people write it
    finally:
        driver.quit()


def test_alert_details_and_changes_read_as_words_in_the_workbook() -> None:
    from ktpledger.reports.cells import detail_words

    assert detail_words({"share": "0.10", "spent": "1250.00", "as_of": "2025-03-31", "month": 6}) == (
        "Share 10%; Spent £1,250.00; As of 31 March 2025; Month 6"
    )


def test_the_workbook_writes_changes_in_words(projects: dict[str, Any]) -> None:
    statement, appendix = projects["fec"]["reports"][0]
    book = load_workbook(io.BytesIO(render(statement, "xlsx", appendix)))
    rows = list(book["Reconciliation"].iter_rows(values_only=True))
    changes = rows[0].index("LMC changes")
    assert rows[1][changes].startswith("Virement +£500.00 on 5 February 2025 (v5)")
