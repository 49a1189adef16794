"""The report renderers on documents made from real ledgers: every format, read back."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet
from pypdf import PdfReader

from ktpledger.domain.labels import category_label, gbp, kind_label
from ktpledger.reports import EXTENSIONS, FORMATS, KINDS, MEDIA_TYPES, filename, render
from ktpledger.reports.cells import guard_text
from ktpledger.reports.tabular import (
    CLAIM_PACK_COLUMNS,
    FINDING_COLUMNS,
    GRANT_CLAIM_COLUMNS,
    INVOICE_COLUMNS,
    RECONCILIATION_COLUMNS,
)
from ktpledger.reports.xlsx_report import MONEY_FORMAT, exact_in_xlsx, heading
from ktpledger.service.pack_models import ClaimPack
from ktpledger.service.statement_models import ReconciliationStatement
from tests.reports.conftest import Documents, statement
from tests.reports.long_csv import csv_sections, long_csv
from tests.reports.scenarios import HOSTILE_MINUTE, HOSTILE_TITLE

LINE_FIGURES = ("original_budget", "final_budget", "claimed", "eligible", "ineligible", "grant", "business")
PACK_FIGURES = ("in_quarter", "cumulative", "budget", "remaining", "eligible", "ineligible", "forecast")
PACK_TOTALS = ("in_quarter", "cumulative", "budget", "eligible", "ineligible", "forecast")


# ---------------------------------------------------------------- helpers


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def section_names(data: bytes) -> list[str]:
    return list(dict.fromkeys(row["section"] for row in long_csv(data)))


def as_dicts(section: list[list[str]]) -> list[dict[str, str]]:
    header, *rows = section
    return [dict(zip(header, row, strict=True)) for row in rows]


def pairs(section: list[list[str]]) -> dict[str, str]:
    """A block of `name, value` rows as a mapping."""
    return dict(section)


def expected_reasons(line: dict[str, Any]) -> str:
    return "; ".join(f"{name} {amount}" for name, amount in line["ineligible_reasons"].items())


def expected_changes(line: dict[str, Any]) -> str:
    texts = []
    for change in line["changes"]:
        amount = change["amount"] if change["amount"].startswith("-") else "+" + change["amount"]
        text = f"v{change['version']} {change['date']} {change['kind']} {amount}"
        texts.append(f"{text} ({change['note']})" if change["note"] else text)
    return "; ".join(texts)


def workbook(data: bytes) -> Any:
    return load_workbook(io.BytesIO(data))


def sheet_rows(sheet: Worksheet) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in sheet.iter_rows()]


def figure_of(cell: Cell) -> Decimal:
    """A numeric cell's value as the exact decimal it stands for (the shortest form of the double)."""
    assert cell.data_type == "n", (cell.coordinate, cell.value)
    assert isinstance(cell.value, int | float) and not isinstance(cell.value, bool)
    return Decimal(repr(cell.value))


def about(sheet: Worksheet) -> dict[str, Any]:
    return {str(row[0].value): row[1] for row in sheet_rows(sheet)}


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def all_documents(*scenarios: Documents) -> list[tuple[str, dict[str, Any]]]:
    return [(kind, document) for pair in scenarios for kind, document in zip(KINDS, pair, strict=True)]


# ---------------------------------------------------------------- the API


def test_formats_have_media_types_and_extensions() -> None:
    assert set(MEDIA_TYPES) == set(FORMATS) == set(EXTENSIONS)
    assert MEDIA_TYPES["pdf"] == "application/pdf"
    assert MEDIA_TYPES["xlsx"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert EXTENSIONS["csv"] == ".csv"


def test_unknown_format_is_a_value_error_listing_the_formats(lifecycle: Documents) -> None:
    with pytest.raises(ValueError, match="json, csv, xlsx, html, pdf"):
        render(ReconciliationStatement.from_json(lifecycle[0]), "docx")


def test_unknown_kind_is_a_value_error(lifecycle: Documents) -> None:
    with pytest.raises(ValueError, match="reconciliation, claim_pack"):
        render(lifecycle[0], "json")  # type: ignore[arg-type]


def test_a_document_of_another_kind_is_a_value_error(lifecycle: Documents) -> None:
    with pytest.raises(ValueError, match="not a claim_pack document"):
        render(ClaimPack.from_json(lifecycle[0]), "csv")


def test_format_names_are_case_insensitive(lifecycle: Documents) -> None:
    assert render(ReconciliationStatement.from_json(lifecycle[0]), "CSV") == render(
        ReconciliationStatement.from_json(lifecycle[0]), "csv"
    )


def test_file_names(lifecycle: Documents, open_non_fec: Documents) -> None:
    assert filename(ReconciliationStatement.from_json(lifecycle[0]), "pdf") == "KTP-0042-reconciliation.pdf"
    assert (
        filename(ReconciliationStatement.from_json(open_non_fec[0]), "csv") == "KTP-0042-statement-so-far.csv"
    )
    assert filename(ClaimPack.from_json(lifecycle[1]), "xlsx") == "KTP-0042-2025Q1-claim-pack.xlsx"


@pytest.mark.parametrize(
    ("text", "guarded"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+44 1234", "'+44 1234"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-500.00", "-500.00"),
        ("1027.98", "1027.98"),
        ("plain = text", "plain = text"),
        ("", ""),
    ],
)
def test_guard_text(text: str, guarded: str) -> None:
    assert guard_text(text) == guarded


# ---------------------------------------------------------------- every format, every document


def test_every_format_of_every_document_renders(
    lifecycle: Documents, hostile: Documents, open_non_fec: Documents
) -> None:
    signatures = {
        "json": b"{",
        "csv": b"section,row,field,value\r\n",
        "xlsx": b"PK\x03\x04",
        "html": b"<!DOCTYPE html>",
        "pdf": b"%PDF-",
    }
    for kind, document in all_documents(lifecycle, hostile, open_non_fec):
        for fmt in FORMATS:
            data = render(statement(kind, document), fmt)
            assert data.startswith(signatures[fmt]), (kind, fmt)


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx", "pdf", "html"])
def test_the_same_document_gives_the_same_bytes(
    fmt: str, lifecycle: Documents, hostile: Documents, open_non_fec: Documents
) -> None:
    for kind, document in all_documents(lifecycle, hostile, open_non_fec):
        assert render(statement(kind, document), fmt) == render(
            statement(kind, json.loads(json.dumps(document))), fmt
        ), (kind, fmt)


# ---------------------------------------------------------------- JSON


def test_json_is_the_document_indented(lifecycle: Documents) -> None:
    for kind, document in all_documents(lifecycle):
        data = render(statement(kind, document), "json")
        assert data == (json.dumps(document, indent=2, sort_keys=False) + "\n").encode("utf-8")
        assert json.loads(data) == json.loads(json.dumps(document))


# ---------------------------------------------------------------- CSV


def check_reconciliation_csv(document: dict[str, Any]) -> list[list[list[str]]]:
    sections = csv_sections(render(ReconciliationStatement.from_json(document), "csv"))
    head, lines, settlement, *rest = sections
    if any(line["changes"] for line in document["lines"]):
        *rest, changes = rest
        assert changes[0] == ["category", "version", "date", "kind", "amount", "note"]
    # The findings (ineligible spend by reason) come next, when there are any.
    if document["findings"]:
        found, *rest = rest
        assert found[0] == list(FINDING_COLUMNS)
        assert [(row["finding_category"], row["finding_amount"]) for row in as_dicts(found)] == [
            (item["category"], item["amount"]) for item in document["findings"]
        ]
    # Then the receivables, and the business's invoices when it has any.
    receivables, *rest = rest
    owed = document["receivables"]
    business = owed["business"]
    assert pairs(receivables) == {
        **{f"grant_{name}": owed["grant"][name] for name in ("due", "received", "outstanding")},
        **{f"business_{name}": business[name] for name in ("invoiced", "received", "outstanding")},
        "business_not_yet_invoiced": business["not_yet_invoiced"],
        "business_offer_total": business["offer_check"]["offer_total"],
        "business_share_of_eligible": business["offer_check"]["share_of_eligible"],
        "business_top_up": business["offer_check"]["top_up"],
        "business_invoiced_at_least_offer": "true"
        if business["offer_check"]["invoiced_at_least_offer"]
        else "false",
        # claim approvals: the grant claimed and the final adjustment, when the document has them
        **{
            f"grant_{name}": owed["grant"][name]
            for name in ("claimed_total", "final_adjustment")
            if name in owed["grant"]
        },
    }
    if business["invoices"]:
        invoices, *rest = rest
        assert invoices[0] == list(INVOICE_COLUMNS)
        assert [row["invoice"] for row in as_dicts(invoices)] == [
            item["number"] for item in business["invoices"]
        ]
    # Then the grant's claims, when it has any.
    if owed["grant"].get("claims"):
        claims, *rest = rest
        assert claims[0] == list(GRANT_CLAIM_COLUMNS)
        assert [(row["claim"], row["claim_approved"]) for row in as_dicts(claims)] == [
            (str(item["number"]), item.get("approved") or "") for item in owed["grant"]["claims"]
        ]
    assert rest == []
    header = pairs(head)
    assert header["report"] == "reconciliation"
    assert header["project"] == document["project"]
    assert header["status"] == ("final" if document["final"] else "statement so far")
    assert header["grant_rate"] == document["grant_rate"]
    assert header["ledger_position"] == str(document["ledger"]["position"])
    assert header["ledger_version"] == str(document["ledger"]["version"])
    assert header["head_hash"] == document["ledger"]["head_hash"]
    assert header["closed_on"] == (document["closed_on"] or "")
    assert lines[0] == list(RECONCILIATION_COLUMNS)
    rows = as_dicts(lines)
    assert len(rows) == len(document["lines"]) + 1
    for row, line in zip(rows, document["lines"], strict=False):
        assert row["category"] == line["category"]
        assert row["limit_kind"] == line["limit_kind"]
        for name in LINE_FIGURES:
            assert row[name] == line[name], (line["category"], name)
        assert row["ineligible_reasons"] == guard_text(expected_reasons(line))
        assert row["changes"] == guard_text(expected_changes(line))
    total = rows[-1]
    assert total["category"] == "total"
    for name in LINE_FIGURES:
        assert total[name] == document["totals"][name]
    assert pairs(settlement) == {
        "parental_leave_incurred": document["parental_leave"]["incurred"],
        "parental_leave_reimbursable": document["parental_leave"]["reimbursable"],
        "grant_paid": document["grant_paid"],
        "balance_due": document["balance_due"],
    }
    return sections


def test_reconciliation_csv_shows_every_figure_of_the_json(
    lifecycle: Documents, open_non_fec: Documents
) -> None:
    check_reconciliation_csv(lifecycle[0])
    check_reconciliation_csv(open_non_fec[0])
    lines = {line["category"]: line for line in open_non_fec[0]["lines"]}
    assert "knowledge_base_overheads" in lines  # the derived non-fec line is rendered like any other


def test_reconciliation_csv_reasons_and_changes(hostile: Documents) -> None:
    document = hostile[0]
    _, lines, *_ = check_reconciliation_csv(document)
    rows = {row["category"]: row for row in as_dicts(lines)}
    assert rows["consumables"]["ineligible_reasons"] == "computer 899.00; over_budget 399.99"
    assert rows["associate_employment"]["changes"].startswith("v6 2025-01-05 virement +500.00 (virement from")
    assert rows["travel_subsistence"]["changes"].startswith("v6 2025-01-05 virement -500.00 (virement to")


def test_csv_guards_text_but_not_numbers(hostile: Documents) -> None:
    document = hostile[0]
    data = render(ReconciliationStatement.from_json(document), "csv")
    header = pairs(csv_sections(data)[0])
    assert header["title"] == "'" + HOSTILE_TITLE
    assert header["business"] == "'@Crumb & Co Ltd"
    assert header["knowledge_base"] == "'-University of Example"
    settlement = pairs(csv_sections(data)[2])
    assert document["balance_due"].startswith("-")
    assert settlement["balance_due"] == document["balance_due"]  # a negative amount is a number
    for row in csv_rows(data):
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
            assert not cell.startswith("-") or re.fullmatch(r"-\d+\.\d\d", cell), cell


def test_claim_pack_csv_shows_every_figure_of_the_json(lifecycle: Documents, hostile: Documents) -> None:
    for pack in (lifecycle[1], hostile[1]):
        head, lines, claim, alerts = csv_sections(render(ClaimPack.from_json(pack), "csv"))
        header = pairs(head)
        assert header["report"] == "claim_pack"
        assert (header["project"], header["quarter"]) == (pack["project"], pack["quarter"])
        assert (header["from"], header["to"]) == (pack["from"], pack["to"])
        assert header["head_hash"] == pack["ledger"]["head_hash"]
        assert lines[0] == list(CLAIM_PACK_COLUMNS)
        rows = as_dicts(lines)
        for row, line in zip(rows, pack["lines"], strict=False):
            assert row["category"] == line["category"]
            for name in PACK_FIGURES:
                assert row[name] == line[name], (line["category"], name)
            assert row["forecast_over_budget"] == ("true" if line["forecast_over_budget"] else "false")
        assert rows[-1]["category"] == "total"
        for name in PACK_TOTALS:
            assert rows[-1][name] == pack["totals"][name]
        assert as_dicts(claim) == [
            *(
                {
                    "claim_category": category,
                    "eligible_added": amount,
                    "grant_added": pack["claim"]["grant_added"][category],
                }
                for category, amount in pack["claim"]["eligible_added"].items()
            ),
            {"claim_category": "grant", "eligible_added": "", "grant_added": pack["claim"]["grant"]},
        ]
        opened = as_dicts(alerts)
        assert [(row["alert_category"], row["alert_kind"]) for row in opened] == [
            (alert["category"], alert["kind"]) for alert in pack["alerts_open_at_quarter_end"]
        ]
    assert any(row["alert_kind"] == "sub_limit" for row in opened)


# ---------------------------------------------------------------- XLSX


def check_money(cell: Cell, expected: str) -> None:
    assert figure_of(cell) == Decimal(expected), (cell.coordinate, cell.value, expected)
    assert cell.number_format == MONEY_FORMAT, cell.coordinate


def check_sum(cell: Cell, first: int, last: int) -> None:
    """A total cell: the SUM of its column's rows `first` to `last`, so an edited figure re-adds."""
    letter = cell.column_letter
    assert cell.data_type == "f", cell.coordinate
    assert cell.value == f"=SUM({letter}{first}:{letter}{last})", (cell.coordinate, cell.value)
    assert cell.number_format == MONEY_FORMAT, cell.coordinate


def rows_sum(rows: list[tuple[Any, ...]], column: int) -> Decimal:
    return sum((figure_of(row[column]) for row in rows), Decimal(0))


def test_reconciliation_xlsx_amounts_are_numbers_equal_to_the_json(
    lifecycle: Documents, hostile: Documents, open_non_fec: Documents
) -> None:
    for document in (lifecycle[0], hostile[0], open_non_fec[0]):
        book = workbook(render(ReconciliationStatement.from_json(document), "xlsx"))
        assert book.sheetnames[:2] == ["Reconciliation", "Settlement"]
        assert book.sheetnames[-1] == "About"
        sheet = book["Reconciliation"]
        assert sheet.freeze_panes == "A2"
        assert sheet.print_title_rows == "$1:$1"
        assert sheet.page_setup.orientation == "landscape"
        assert sheet.page_setup.fitToWidth == 1
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert document["project"] in sheet.oddFooter.left.text
        assert sheet.oddFooter.right.text == "Page &P of &N"
        rows = sheet_rows(sheet)
        header = [cell.value for cell in rows[0]]
        assert header == [heading(name) for name in RECONCILIATION_COLUMNS]
        assert header[:3] == ["Cost line", "Limit", "Original budget"]
        assert all(cell.font.bold for cell in rows[0])
        column = {name: index for index, name in enumerate(RECONCILIATION_COLUMNS)}
        count = len(document["lines"])
        for row, line in zip(rows[1:], document["lines"], strict=False):
            assert row[0].value == category_label(line["category"])
            for name in LINE_FIGURES:
                check_money(row[column[name]], line[name])
        total = rows[1 + count]
        assert total[0].value == "Total"
        assert total[0].font.bold
        for name in LINE_FIGURES:
            cell = total[column[name]]
            if rows_sum(rows[1 : 1 + count], column[name]) == Decimal(document["totals"][name]):
                check_sum(cell, 2, 1 + count)
            else:  # a total that is not the sum of its rows is the statement's figure
                check_money(cell, document["totals"][name])
        settlement = {str(row[0].value): row[1] for row in sheet_rows(book["Settlement"])}
        grant_cell = f"{total[column['grant']].column_letter}{2 + count}"
        assert settlement["Grant share of eligible spend"].value == f"='Reconciliation'!{grant_cell}"
        check_money(settlement["Parental leave incurred"], document["parental_leave"]["incurred"])
        check_money(settlement["Parental leave reimbursable"], document["parental_leave"]["reimbursable"])
        check_money(settlement["Grant paid to date"], document["grant_paid"])
        assert settlement["Balance due"].value == "=B1+B2-B3"  # the grant share + reimbursable - paid
        assert Decimal(document["balance_due"]) == (
            Decimal(document["totals"]["grant"])
            + Decimal(document["parental_leave"]["reimbursable"])
            - Decimal(document["grant_paid"])
        )
        facts = about(book["About"])
        assert facts["Innovate UK project reference"].value == document["project"]
        assert facts["Head hash"].value == document["ledger"]["head_hash"]
        assert facts["Ledger position"].value == document["ledger"]["position"]
        assert facts["Status"].value == ("final" if document["final"] else "statement so far")
        assert facts["Grant rate"].number_format == "0%"
        widths = book["Reconciliation"].column_dimensions
        assert widths["A"].width >= len("Additional associate support")


def test_xlsx_lmc_changes_sheet(hostile: Documents) -> None:
    book = workbook(render(ReconciliationStatement.from_json(hostile[0]), "xlsx"))
    rows = sheet_rows(book["LMC changes"])
    assert [cell.value for cell in rows[0]] == ["Cost line", "Version", "Date", "Kind", "Amount", "Note"]
    changes = [(line["category"], change) for line in hostile[0]["lines"] for change in line["changes"]]
    assert len(rows) == 1 + len(changes)
    for row, (category, change) in zip(rows[1:], changes, strict=True):
        assert row[0].value == category_label(category)
        assert row[1].value == change["version"]
        assert row[2].value.date().isoformat() == change["date"]
        assert row[2].number_format == "d mmmm yyyy"
        check_money(row[4], change["amount"])
        assert row[5].value == change["note"]
        assert HOSTILE_MINUTE in row[5].value


def test_xlsx_formula_text_is_stored_as_text_with_an_apostrophe(hostile: Documents) -> None:
    data = render(ReconciliationStatement.from_json(hostile[0]), "xlsx")
    facts = about(workbook(data)["About"])
    title = facts["Title"]
    assert title.value == "'" + HOSTILE_TITLE
    assert title.data_type == "s"
    assert facts["Business"].value == "'@Crumb & Co Ltd"
    assert facts["Knowledge base"].value == "'-University of Example"
    # The only formulas are the totals ktpledger writes: SUM of a column, the settlement's sums.
    raw = load_workbook(io.BytesIO(data), data_only=False)
    for sheet in raw.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    assert re.fullmatch(
                        r"=SUM\([A-Z]+\d+:[A-Z]+\d+\)|='Reconciliation'!\w+|=B1\+B2-B3", cell.value
                    ), (
                        sheet.title,
                        cell.coordinate,
                        cell.value,
                    )


def test_xlsx_never_rounds_a_figure_silently(lifecycle: Documents) -> None:
    assert exact_in_xlsx(Decimal("9999999999999.99"))
    assert exact_in_xlsx(Decimal("66.40"))
    assert not exact_in_xlsx(Decimal("12345678901234.56"))
    huge = dict(lifecycle[0], grant_paid="12345678901234.56")
    rows = sheet_rows(workbook(render(ReconciliationStatement.from_json(huge), "xlsx"))["Settlement"])
    paid = next(row[1] for row in rows if row[0].value == "Grant paid to date")
    assert (paid.value, paid.data_type) == ("12345678901234.56", "s")


def test_xlsx_is_deterministic_with_document_dates(lifecycle: Documents) -> None:
    document = lifecycle[0]
    data = render(ReconciliationStatement.from_json(document), "xlsx")
    assert data == render(ReconciliationStatement.from_json(document), "xlsx")
    book = workbook(data)
    assert book.properties.created.date().isoformat() == document["closed_on"]
    assert book.properties.modified.date().isoformat() == document["closed_on"]


def test_claim_pack_xlsx(lifecycle: Documents, hostile: Documents) -> None:
    for pack in (lifecycle[1], hostile[1]):
        book = workbook(render(ClaimPack.from_json(pack), "xlsx"))
        assert book.sheetnames[:2] == ["Claim pack", "Claim"]
        assert book.sheetnames[-1] == "About"
        assert ("Alerts" in book.sheetnames) == bool(pack["alerts_open_at_quarter_end"])
        sheet = book["Claim pack"]
        assert sheet.freeze_panes == "A2"
        rows = sheet_rows(sheet)
        header = [cell.value for cell in rows[0]]
        assert header == [heading(name) for name in CLAIM_PACK_COLUMNS]
        column = {name: index for index, name in enumerate(CLAIM_PACK_COLUMNS)}
        count = len(pack["lines"])
        for row, line in zip(rows[1:], pack["lines"], strict=False):
            for name in PACK_FIGURES:
                check_money(row[column[name]], line[name])
            assert row[column["forecast_over_budget"]].value == (
                "yes" if line["forecast_over_budget"] else "no"
            )
        total = rows[1 + count]
        for name in PACK_TOTALS:
            cell = total[column[name]]
            if rows_sum(rows[1 : 1 + count], column[name]) == Decimal(pack["totals"][name]):
                check_sum(cell, 2, 1 + count)
            else:
                check_money(cell, pack["totals"][name])
        claim = sheet_rows(book["Claim"])
        assert claim[-1][0].value == "Grant"
        if claim[-1][2].data_type == "f":
            check_sum(claim[-1][2], 2, len(claim) - 1)
            assert rows_sum(claim[1:-1], 2) == Decimal(pack["claim"]["grant"])
        else:
            check_money(claim[-1][2], pack["claim"]["grant"])
        if pack["alerts_open_at_quarter_end"]:
            assert len(sheet_rows(book["Alerts"])) == 1 + len(pack["alerts_open_at_quarter_end"])
        assert about(book["About"])["Quarter"].value == pack["quarter"]


# ---------------------------------------------------------------- HTML


def test_html_escapes_every_value(hostile: Documents) -> None:
    for kind, document in all_documents(hostile):
        page = render(statement(kind, document), "html").decode("utf-8")
        assert "<script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "&quot;http://example.invalid/x&quot;" in page
        assert "@Crumb &amp; Co Ltd" in page


def test_html_is_a_self_contained_page(lifecycle: Documents, open_non_fec: Documents) -> None:
    document = lifecycle[0]
    page = render(ReconciliationStatement.from_json(document), "html").decode("utf-8")
    assert "<style>" in page
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert "src=" not in page and "http" not in page
    for line in document["lines"]:
        assert f'<td align="left">{html.escape(category_label(line["category"]))}</td>' in page
        assert f'<td align="left">{line["category"]}</td>' not in page  # the guidance's names, not the codes
    for text in (
        "End-of-grant reconciliation",
        gbp(document["balance_due"]),
        gbp(document["grant_paid"]),
        gbp(document["parental_leave"]["incurred"]),
        gbp(document["parental_leave"]["reimbursable"]),
        gbp(document["totals"]["grant"]),
        f"Grant rate</b></td><td>{Decimal(document['grant_rate']) * 100:.0f}%",
        "Full economic costing (FEC)",
        "1 October 2024 to 30 June 2027",
        "LMC1 item 4",
        "University of Example",
        "Crumb &amp; Co Ltd",
        document["ledger"]["head_hash"],
        f"ledger position {document['ledger']['position']}",
        f"project version {document['ledger']['version']}",
    ):
        assert text in page, text
    draft = render(ReconciliationStatement.from_json(open_non_fec[0]), "html").decode("utf-8")
    assert "statement so far" in draft and "not final" in draft


def test_claim_pack_html(lifecycle: Documents) -> None:
    pack = lifecycle[1]
    page = render(ClaimPack.from_json(pack), "html").decode("utf-8")
    for text in (
        pack["quarter"],
        gbp(pack["claim"]["grant"]),
        gbp(pack["totals"]["cumulative"]),
        kind_label("forecast_overspend"),
        "1 January 2025 to 31 March 2025",
    ):
        assert text in page, text
    for line in pack["lines"]:
        assert f'<td align="left">{html.escape(category_label(line["category"]))}</td>' in page


# ---------------------------------------------------------------- PDF


def test_reconciliation_pdf_text(lifecycle: Documents, hostile: Documents, open_non_fec: Documents) -> None:
    for document in (lifecycle[0], hostile[0], open_non_fec[0]):
        text = pdf_text(render(ReconciliationStatement.from_json(document), "pdf"))
        assert document["project"] in text
        for line in document["lines"]:
            assert category_label(line["category"]) in text, line["category"]
        assert f"Balance due {gbp(document['balance_due'])}" in text
        assert document["ledger"]["head_hash"] in text
    draft = pdf_text(render(ReconciliationStatement.from_json(open_non_fec[0]), "pdf"))
    assert "statement so far" in draft


def test_pdf_draws_pounds_dashes_greek_arrows_and_symbols(hostile: Documents) -> None:
    text = pdf_text(render(ReconciliationStatement.from_json(hostile[0]), "pdf"))
    assert "\u2013 £ bakery QA" in text
    assert "<script>alert(1)</script>" in text  # markup is shown as text
    odd = dict(hostile[0], title="Ωmega → Zürich ☃")
    text = pdf_text(render(ReconciliationStatement.from_json(odd), "pdf"))
    assert "Ωmega → Zürich ☃" in text  # see test_pdf_unicode.py for other scripts


def test_pdf_metadata(lifecycle: Documents) -> None:
    reader = PdfReader(io.BytesIO(render(ReconciliationStatement.from_json(lifecycle[0]), "pdf")))
    assert reader.metadata is not None
    assert reader.metadata.title == "KTP-0042 reconciliation: Machine vision for bakery QA"


def test_claim_pack_pdf_text(lifecycle: Documents, hostile: Documents) -> None:
    for pack in (lifecycle[1], hostile[1]):
        text = pdf_text(render(ClaimPack.from_json(pack), "pdf"))
        assert pack["project"] in text and pack["quarter"] in text
        for line in pack["lines"]:
            assert category_label(line["category"]) in text
        assert f"Grant to claim - {gbp(pack['claim']['grant'])}" in text
        for alert in pack["alerts_open_at_quarter_end"]:
            assert kind_label(alert["kind"]) in text
