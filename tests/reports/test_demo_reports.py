"""The samples `ktpledger demo` writes under reports/ (issue 17, "Done when"): the main fec
project's and the non-fec project's (KTP-DEMO-02, in the same ledger) reconciliation and claim
pack, in every format. Each PDF's pages pass the layout checks (`pdf_pages.layout_problems`) and
its first page is kept as a PNG; each HTML is opened in headless Chromium, nothing wider than the
window, and screenshotted; each CSV loads as one table, each JSON reads back; no report for people
writes a date as ISO; each workbook's formulas, evaluated by LibreOffice when it is installed, come
to the JSON's totals. The PNGs go to $KTPLEDGER_TEST_ARTIFACTS (default test-artifacts/ at the
repository's root), for a person to look at."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from PIL import Image
from typer.testing import CliRunner

from ktpledger.cli import app as cli
from ktpledger.domain.money import PENNY
from ktpledger.reports import FORMATS
from tests.reports.browser import headless_chromium
from tests.reports.conftest import statement as scenario_statement
from tests.reports.long_csv import csv_sections, long_csv
from tests.reports.pdf_pages import ARTIFACTS, first_page_png, headings, layout_pages, layout_problems

pytestmark = [pytest.mark.slow]

STEMS = {
    "fec": ("KTP-DEMO-01-reconciliation", "KTP-DEMO-01-2026Q1-claim-pack"),
    "non-fec": ("non-fec/KTP-DEMO-02-reconciliation", "non-fec/KTP-DEMO-02-2025Q1-claim-pack"),
}
EVERY_STEM = [stem for stems in STEMS.values() for stem in stems]


def _project(stem: str) -> str:
    """ "non-fec/KTP-DEMO-02-reconciliation" -> "KTP-DEMO-02"."""
    return "-".join(Path(stem).name.split("-")[:3])


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The folder `ktpledger demo` wrote its reports to."""
    folder = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(
        cli, ["--db", f"sqlite:///{folder}/ktpledger.db", "demo", "--reports", str(folder / "reports")]
    )
    assert result.exit_code == 0, result.output
    assert "refused" not in result.output
    yield folder / "reports"


def test_the_demo_writes_a_fec_and_a_non_fec_project_in_every_format(reports: Path) -> None:
    for stem in EVERY_STEM:
        for fmt in FORMATS:
            assert (reports / f"{stem}.{fmt}").stat().st_size > 0, (stem, fmt)
    methodology = {
        name: json.loads((reports / f"{stems[0]}.json").read_text(encoding="utf-8"))["methodology"]
        for name, stems in STEMS.items()
    }
    assert methodology == {"fec": "fec", "non-fec": "non_fec"}
    non_fec = json.loads((reports / f"{STEMS['non-fec'][0]}.json").read_text(encoding="utf-8"))
    assert non_fec["final"] is True
    assert "knowledge_base_overheads" in {line["category"] for line in non_fec["lines"]}
    assert non_fec["balance_due"] == "0.00"  # each claim was paid in full


@pytest.mark.parametrize("stem", EVERY_STEM)
def test_every_csv_loads_as_one_table_and_every_json_reads_back(reports: Path, stem: str) -> None:
    data = (reports / f"{stem}.csv").read_bytes()
    sections = {row["section"] for row in long_csv(data)}  # one header row, four columns a row
    assert {"transactions", "prepared"} <= sections
    for section in csv_sections(data):
        assert len({len(row) for row in section}) == 1, section[0]
    document = json.loads((reports / f"{stem}.json").read_text(encoding="utf-8"))
    statement = scenario_statement("claim_pack" if "claim-pack" in stem else "reconciliation", document)
    assert statement.to_json() == document


@pytest.mark.parametrize("stem", EVERY_STEM)
def test_every_pdf_page_passes_the_layout_checks(reports: Path, stem: str) -> None:
    pdf = reports / f"{stem}.pdf"
    project = _project(stem)
    page_html = (reports / f"{stem}.html").read_text(encoding="utf-8")
    pages = layout_pages(pdf)
    assert layout_problems(pages, project, headings(page_html)) == []
    for number, lines in enumerate(pages, start=1):
        body = [line for line in lines if f"page {number} of" not in line]
        assert not body[0].startswith(("Total", "Balance due", "Grant to claim")), (stem, number, body[:2])
    png = first_page_png(pdf, f"{Path(stem).name}-pdf-page-1")
    with Image.open(png) as image:
        assert image.size[0] > image.size[1]  # landscape A4


def test_the_html_in_headless_chromium(reports: Path, tmp_path: Path, monkeypatch: Any) -> None:
    driver = headless_chromium(tmp_path, monkeypatch)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        driver.set_window_size(1280, 900)
        for stem in EVERY_STEM:
            driver.get((reports / f"{stem}.html").as_uri())
            assert _project(stem) in driver.title
            overflow = driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (stem, overflow)  # nothing wider than the window
            # The whole page, not the first screenful: the window as tall as the document.
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(1280, min(int(height) + 120, 16000))
            shot = ARTIFACTS / f"{Path(stem).name}-html.png"
            assert driver.save_screenshot(str(shot))
            driver.set_window_size(1280, 900)
            with Image.open(shot) as image:
                assert image.size[0] >= 1000
    finally:
        driver.quit()


ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


@pytest.mark.parametrize("stem", EVERY_STEM)
def test_dates_are_written_for_people_in_every_report_for_people(reports: Path, stem: str) -> None:
    """No 2024-12-31 in the HTML, the PDF's text or the workbook's text cells: alert sentences
    included (the JSON and CSV keep ISO dates)."""
    page_html = (reports / f"{stem}.html").read_text(encoding="utf-8")
    assert ISO_DATE.findall(page_html) == []
    pdf_text = " ".join(" ".join(lines) for lines in layout_pages(reports / f"{stem}.pdf"))
    assert ISO_DATE.findall(pdf_text) == []
    book = load_workbook(reports / f"{stem}.xlsx")
    texts = [
        (sheet.title, value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if isinstance(value, str) and ISO_DATE.search(value)
    ]
    assert texts == []


def test_an_alert_sentence_in_the_claim_pack_has_a_long_date(reports: Path) -> None:
    # Associate development was behind its spend profile at 2024Q4's end, still open at 2025Q1's.
    said = "by the end of 2024Q4 (31 December 2024) £950.00 was spent against £1,500.00 planned"
    stem = STEMS["non-fec"][1]
    assert said in (reports / f"{stem}.html").read_text(encoding="utf-8")
    alerts = [
        value
        for row in load_workbook(reports / f"{stem}.xlsx")["Alerts"].iter_rows(values_only=True)
        for value in row
        if isinstance(value, str)
    ]
    assert any(said in value for value in alerts)
    pdf_text = " ".join(" ".join(lines) for lines in layout_pages(reports / f"{stem}.pdf"))
    assert "by the end of 2024Q4 (31 December 2024)" in re.sub(r"\s+", " ", pdf_text)
    # The JSON keeps the figures as they are stored: ISO.
    document = json.loads((reports / f"{stem}.json").read_text(encoding="utf-8"))
    behind = [alert for alert in document["alerts_open_at_quarter_end"] if alert["kind"] == "behind_profile"]
    assert behind[0]["detail"]["quarter_end"] == "2024-12-31"


# The workbook's total rows are SUM formulas, written without cached values: evaluated by
# LibreOffice (headless, each sheet to a CSV file) they must come to the JSON's totals.
RECONCILIATION_TOTALS = {
    "Original budget": "original_budget",
    "Final budget": "final_budget",
    "Claimed": "claimed",
    "Eligible": "eligible",
    "Ineligible": "ineligible",
    "Grant": "grant",
    "Business": "business",
}
CLAIM_PACK_TOTALS = {
    "In the quarter": "in_quarter",
    "Cumulative": "cumulative",
    "Budget": "budget",
    "Eligible": "eligible",
    "Ineligible": "ineligible",
    "Forecast": "forecast",
}


def evaluated_sheets(workbook: Path, folder: Path) -> dict[str, list[list[str]]]:
    """Each sheet of `workbook` as LibreOffice computes it: its rows of values."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) not installed: the workbook's formulas are not evaluated")
    # Comma, double quote, UTF-8, from line 1, raw values (not as shown), every sheet (-1).
    csv_filter = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
    subprocess.run(
        [soffice, "--headless", "--calc", "--convert-to", csv_filter, "--outdir", str(folder), str(workbook)],
        check=True,
        capture_output=True,
        timeout=300,
        env={**os.environ, "HOME": str(folder)},  # its profile, not the user's
    )
    sheets = {}
    for made in folder.glob(f"{workbook.stem}-*.csv"):
        with made.open(encoding="utf-8", newline="") as handle:
            sheets[made.stem.removeprefix(f"{workbook.stem}-")] = list(csv.reader(handle))
    return sheets


def total_row(rows: list[list[str]]) -> dict[str, str]:
    header, *body = rows
    [total] = [row for row in body if row and row[0] == "Total"]
    return dict(zip(header, total, strict=False))


@pytest.mark.parametrize("stem", EVERY_STEM)
def test_the_workbooks_formulas_evaluate_to_the_json_totals(reports: Path, stem: str, tmp_path: Path) -> None:
    workbook = reports / f"{stem}.xlsx"
    document = json.loads((reports / f"{stem}.json").read_text(encoding="utf-8"))
    claim_pack = "claim-pack" in stem
    sheet, columns = (
        ("Claim pack", CLAIM_PACK_TOTALS) if claim_pack else ("Reconciliation", RECONCILIATION_TOTALS)
    )
    # The total row is formulas in the workbook, not figures written in.
    written = total_row(
        [[str(cell) for cell in row] for row in load_workbook(workbook)[sheet].iter_rows(values_only=True)]
    )
    assert all(written[column].startswith("=SUM(") for column in columns), written
    evaluated = total_row(evaluated_sheets(workbook, tmp_path)[sheet])
    for column, name in columns.items():
        assert Decimal(evaluated[column]).quantize(PENNY) == Decimal(document["totals"][name]), (stem, column)
