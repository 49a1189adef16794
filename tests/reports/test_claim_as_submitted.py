"""The claim pack shows the quarter's grant claim (R-45) first, in the shape of Innovate UK's
quarterly claim, in every format: as submitted, frozen whatever is recorded later, with the late
items of its prior-period adjustment listed; or, while not submitted, as a draft said to be one.
On both databases.

The story, worked by hand. The factory's offer at 67% (SME, fec), 24 months from 2025-01-01, no
recorded profile, so each line is forecast at its budget / 8 a quarter: associate_employment
12,500.00, additional_associate_support 4,500.00, knowledge_base_supervisor 2,000.00,
associate_development 500.00, consumables 500.00, travel_subsistence 312.50 (associate_estates 0:
no line).

    v1 offer; v2 associate_employment 12,500.00 (2025-03-31); v3 consumables 500.00 (2025-02-10)
    v4 claim 1 for 2025Q1, made from v3: grant 12,500 x 0.67 + 500 x 0.67 = 8,375.00 + 335.00 = 8,710.00
    v5 late: travel_subsistence 150.00 dated 2025-03-20 (in 2025Q1, claimed already)
    v6 rev-cons: 100.00 of the consumables of v3 reversed, dated 2025-03-25 (late too)
    v7 cons-q2: consumables 500.00 (2025-05-10)
    v8 claim 2 for 2025Q2, made from v7

Claim 2's prior-period adjustment lists v5 and v6 (after v3, the version claim 1 was made from, at
or before v7, dated before 2025-04-01): travel 150.00 x 0.67 = 100.50, consumables -100.00 x 0.67
= -67.00, in all 33.50. Its lines (forecast, actual, variance, variance %, grant, prior, claimed):

    consumables           500.00     500.00       0.00     0.0   335.00  -67.00  268.00
    travel_subsistence    312.50       0.00    -312.50  -100.0     0.00  100.50  100.50
    associate_employment 12500.00      0.00  -12500.00  -100.0     0.00    0.00    0.00
    (associate_development, knowledge_base_supervisor, additional_associate_support likewise -100.0)
    total               20312.50     500.00  -19812.50   -97.5   335.00   33.50  368.50

(-19,812.50 / 20,312.50 = -0.97538...: -97.5%.) Claim 2's grant: 335.00 + 33.50 = 368.50.
"""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from typer.testing import CliRunner

from ktpledger.bootstrap import App
from ktpledger.cli import app as cli
from ktpledger.reports import FORMATS, render
from ktpledger.reports.page import body
from ktpledger.service.pack_models import ClaimPack
from ktpledger.service.statements import quarter_pack
from tests.ledger.factory import PROJECT, claim, event, offer, reversal
from tests.reports.long_csv import csv_sections

OTHER_LINES = (
    "additional_associate_support",
    "associate_development",
    "knowledge_base_supervisor",
    "travel_subsistence",
)
ALL_ZERO = ("additional_associate_support", "associate_development", "knowledge_base_supervisor")


@pytest.fixture(autouse=True)
def no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KTPLEDGER_BROKER_URL", raising=False)
    monkeypatch.delenv("KTPLEDGER_TODAY", raising=False)


def record(app: App, items: list[dict[str, Any]]) -> None:
    results = app.ledger.append(items)
    assert all(r.status == "recorded" for r in results), [r.to_json() for r in results]


def submit(url: str, quarter: str, on: str, *lines: str) -> None:
    passes = [part for line in lines for part in ("--narrative", f"{line}=not started yet")]
    result = CliRunner().invoke(
        cli, ["--db", url, "claim", "submit", PROJECT, "--quarter", quarter, "--date", on, *passes]
    )
    assert result.exit_code == 0, result.stderr


def every_format(app: App, quarter: str) -> dict[str, bytes]:
    pack = quarter_pack(app.database, PROJECT, quarter)
    assert ClaimPack.from_json(pack.to_json()) == pack
    return {fmt: render(pack, fmt) for fmt in FORMATS}


def figure(value: object) -> Decimal:
    """A workbook number as the decimal it was written from (at most 15 significant digits)."""
    assert isinstance(value, int | float), value
    return Decimal(f"{value:.2f}") if isinstance(value, float) else Decimal(value)


def by_first(section: list[list[str]]) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in section}


def pdf_text(data: bytes) -> str:
    return " ".join((page.extract_text() or "") for page in PdfReader(io.BytesIO(data)).pages)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_the_claim_as_submitted_in_every_format(app: App, database_url: str) -> None:
    record(
        app,
        [
            offer(date="2024-12-01", start="2025-01-01"),
            claim("ae-q1", "12500.00", category="associate_employment", date="2025-03-31"),
            claim("cons-q1", "500.00", date="2025-02-10"),
        ],
    )
    # Before claim 1: the draft, said to be one, narratives required where the variance is over 10%.
    draft = quarter_pack(app.database, PROJECT, "2025Q1").to_json()
    assert draft["submitted"] is None
    assert draft["draft_claim"]["number"] == 1
    assert draft["draft_claim"]["grant"] == "8710.00"
    assert draft["draft_claim"]["prior_period_items"] == []
    assert draft["draft_claim"]["lines"]["travel_subsistence"]["narrative"] is None
    assert draft["draft_claim"]["lines"]["travel_subsistence"]["narrative_required"] is True
    # A quarter that is not the next to claim has no draft.
    assert quarter_pack(app.database, PROJECT, "2025Q2").to_json()["draft_claim"] is None
    submit(database_url, "2025Q1", "2025-04-05", *OTHER_LINES)
    q1 = quarter_pack(app.database, PROJECT, "2025Q1").to_json()
    assert q1["draft_claim"] is None
    assert q1["submitted"]["number"] == 1
    assert q1["submitted"]["prior_period_items"] == []  # a first claim has none
    record(
        app,
        [
            claim("late", "150.00", category="travel_subsistence", date="2025-03-20"),
            reversal("rev-cons", "cons-q1", "100.00", date="2025-03-25"),
            claim("cons-q2", "500.00", date="2025-05-10"),
        ],
    )
    items = [
        {
            "version": 5,
            "date": "2025-03-20",
            "category": "travel_subsistence",
            "key": "late",
            "kind": "claim",
            "amount": "150.00",
        },
        {
            "version": 6,
            "date": "2025-03-25",
            "category": "consumables",
            "key": "rev-cons",
            "kind": "reversal",
            "amount": "-100.00",
        },
    ]
    draft = quarter_pack(app.database, PROJECT, "2025Q2").to_json()["draft_claim"]
    assert (draft["number"], draft["prior_period"], draft["grant"]) == (2, "33.50", "368.50")
    assert draft["prior_period_items"] == items
    draft_html = render(quarter_pack(app.database, PROJECT, "2025Q2"), "html").decode("utf-8")
    assert "DRAFT grant claim 2 for 2025Q2: not submitted" in draft_html
    assert draft_html.index("DRAFT grant claim 2") < draft_html.index("Budget lines at the quarter")

    submit(database_url, "2025Q2", "2025-07-02", *OTHER_LINES, "associate_employment")
    made = every_format(app, "2025Q2")
    q1_made = every_format(app, "2025Q1")
    document = json.loads(made["json"])
    submitted = document["submitted"]
    assert document["draft_claim"] is None
    assert (submitted["number"], submitted["date"], submitted["version"]) == (2, "2025-07-02", 8)
    assert submitted["ledger"]["version"] == 7
    assert (submitted["quarter_grant"], submitted["prior_period"], submitted["grant"]) == (
        "335.00",
        "33.50",
        "368.50",
    )
    assert submitted["prior_period_items"] == items
    assert submitted["lines"]["consumables"]["prior_period"] == "-67.00"
    assert submitted["lines"]["travel_subsistence"]["prior_period"] == "100.50"

    # CSV: the claim first (its heading, its lines, the late items, the adjustments), then the pack.
    heading, lines, listed, adjustments, about, *_ = csv_sections(made["csv"])
    head = {row[0]: row[1] for row in heading}
    assert head["report"] == "claim_pack" and head["claim_status"] == "submitted"
    assert (head["claim_number"], head["claim_quarter"], head["claim_submitted_on"]) == (
        "2",
        "2025Q2",
        "2025-07-02",
    )
    assert (head["claim_from"], head["claim_to"], head["claim_final_quarter"]) == (
        "2025-04-01",
        "2025-06-30",
        "false",
    )
    assert (head["claim_ledger_version"], head["claim_recorded_at_version"]) == ("7", "8")
    assert head["claim_head_hash"] == submitted["ledger"]["head_hash"]
    assert lines[0] == [
        "claim_category", "forecast", "actual", "variance", "variance_percent", "narrative", "eligible",
        "grant", "prior_period_adjustment", "grant_claimed",
    ]  # fmt: skip
    rows = by_first(lines[1:])
    assert rows["consumables"] == [
        "500.00",
        "500.00",
        "0.00",
        "0.0",
        "",
        "500.00",
        "335.00",
        "-67.00",
        "268.00",
    ]
    assert rows["travel_subsistence"] == [
        "312.50", "0.00", "-312.50", "-100.0", "not started yet", "0.00", "0.00", "100.50", "100.50",
    ]  # fmt: skip
    assert rows["associate_employment"][:4] == ["12500.00", "0.00", "-12500.00", "-100.0"]
    for name in ALL_ZERO:
        assert rows[name][3] == "-100.0"
    assert rows["total"] == [
        "20312.50", "500.00", "-19812.50", "-97.5", "", "500.00", "335.00", "33.50", "368.50",
    ]  # fmt: skip
    assert listed == [
        ["item_version", "item_date", "item_category", "item_key", "item_kind", "item_amount"],
        ["5", "2025-03-20", "travel_subsistence", "late", "claim", "150.00"],
        ["6", "2025-03-25", "consumables", "rev-cons", "reversal", "-100.00"],
    ]
    assert adjustments == [
        ["adjustment_category", "prior_period_adjustment"],
        ["consumables", "-67.00"],
        ["travel_subsistence", "100.50"],
        ["total", "33.50"],
    ]
    assert about[0] == ["report", "claim_pack"]

    # XLSX: the claim's sheet first, its figures numbers (read back through their text: exact).
    book = load_workbook(io.BytesIO(made["xlsx"]))
    assert book.sheetnames[0] == "Claim as submitted"
    cells = [[cell.value for cell in row] for row in book["Claim as submitted"].iter_rows()]
    sheet: dict[Any, list[Any]] = {row[0]: row[1:] for row in cells}
    head = {row[0].value: row[1].value for row in book["Claim as submitted - heading"].iter_rows()}
    assert head["Claim number"] == 2 and head["Claim status"] == "submitted"
    last = len(cells) - 1  # the lines are rows 2 to `last`, the total the row after
    # The total row's figures are SUMs of the lines (an edited figure re-adds); the variance's
    # percentage is not a sum, so it is the figure.
    assert sheet["Total"][:3] == [f"=SUM({column}2:{column}{last})" for column in "BCD"]
    assert figure(sheet["Total"][3]) == Decimal("-97.5")
    assert sheet["Total"][4] is None
    assert sheet["Total"][5:9] == [f"=SUM({column}2:{column}{last})" for column in "GHIJ"]
    lines = cells[1:-1]
    assert sum((figure(row[9]) for row in lines), Decimal(0)) == Decimal("368.50")
    assert sheet["Travel & subsistence"][4] == "not started yet"
    assert sheet["Associate employment"][4] == "not started yet"
    items = [[cell.value for cell in row] for row in book["Late items"].iter_rows()]
    assert items[1][1].date().isoformat() == "2025-03-20"
    assert items[1][2:5] == ["Travel & subsistence", "late", "claim"] and figure(items[1][5]) == Decimal(
        "150.00"
    )
    assert items[2][2:5] == ["Equipment & consumables", "rev-cons", "reversal"]
    assert figure(items[2][5]) == Decimal("-100.00")

    # HTML and PDF: the claim first, before the pack's own sections.
    html = made["html"].decode("utf-8")
    assert "Grant claim 2 for 2025Q2, as submitted" in html
    assert html.index("as submitted") < html.index("Budget lines at the quarter")
    for text in (
        "2025Q2: 1 April 2025 to 30 June 2025",
        "2 July 2025",
        "Prior-period adjustments",
        "rev-cons",
        "-£100.00",
        "-97.5%",
        "£368.50",
        submitted["ledger"]["head_hash"],
    ):
        assert text in html, text
    pdf = flat(pdf_text(made["pdf"]))
    for text in (
        "Grant claim 2 for 2025Q2, as submitted",
        "2 July 2025",
        "rev-cons",
        "-97.5%",
        "£368.50",
        "£33.50",
    ):
        assert text in pdf, text
    assert pdf.index("as submitted") < pdf.index("Budget lines at the quarter")
    assert "Grant claim 2" in body(ClaimPack.from_json(document))

    # Later events never change a submitted quarter's pack, in any format.
    record(
        app,
        [
            claim("late2", "40.00", date="2025-06-15"),
            event("GrantPayment", "pay-1", "2025-08-10", {"amount": "8000.00", "claim": 1}),
            claim("cons-q3", "500.00", date="2025-08-12"),
        ],
    )
    submit(database_url, "2025Q3", "2025-10-03", *OTHER_LINES, "associate_employment")
    assert every_format(app, "2025Q2") == made
    assert every_format(app, "2025Q1") == q1_made
    # The next claim lists the late cost of 2025Q2 (v9), none of claim 2's items again.
    q3 = json.loads(every_format(app, "2025Q3")["json"])["submitted"]
    assert [(item["version"], item["key"]) for item in q3["prior_period_items"]] == [(9, "late2")]
    assert q3["prior_period"] == "26.80"  # 40.00 x 0.67


LINE = {
    "actual": "500.00",
    "forecast": "500.00",
    "variance": "0.00",
    "narrative": None,
    "narrative_required": False,
    "eligible": "500.00",
    "grant": "335.00",
    "prior_period": "0.00",
}
SUBMITTED = {
    "number": 2,
    "date": "2025-07-02",
    "version": 8,
    "ledger": {"position": 7, "version": 7, "head_hash": "ab" * 32},
    "lines": {"consumables": LINE},
    "quarter_grant": "335.00",
    "prior_period": "0.00",
    "grant": "335.00",
    "prior_period_items": [
        {
            "version": 5,
            "date": "2025-03-20",
            "category": "consumables",
            "key": "late",
            "kind": "claim",
            "amount": "1.00",
        }
    ],
}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"prior_period_items": [{**SUBMITTED["prior_period_items"][0], "kind": "late"}]}, "prior_period_items[0].kind"),
        ({"prior_period_items": [{**SUBMITTED["prior_period_items"][0], "amount": 1.0}]}, "prior_period_items[0].amount"),
        ({"lines": {"teleportation": LINE}}, "submitted.lines.teleportation"),
        ({"lines": {"consumables": {**LINE, "narrative": 3}}}, "submitted.lines.consumables.narrative"),
        ({"ledger": None}, "submitted.ledger"),
    ],
)  # fmt: skip
def test_a_malformed_claim_is_refused_naming_its_field(
    lifecycle: tuple[dict[str, Any], dict[str, Any]], change: dict[str, Any], named: str
) -> None:
    pack = lifecycle[1]
    assert ClaimPack.from_json({**pack, "submitted": SUBMITTED}).to_json()["submitted"] == SUBMITTED
    with pytest.raises(ValueError, match=re.escape(named)):
        ClaimPack.from_json({**pack, "submitted": {**SUBMITTED, **change}})
    with pytest.raises(ValueError, match="draft_claim"):
        ClaimPack.from_json({**pack, "draft_claim": "not a claim"})


def test_a_pack_written_before_the_claim_shapes_reads(
    lifecycle: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    # Written before grant claims: no `submitted`, no `draft_claim`; before the listed items: none.
    older = {key: value for key, value in lifecycle[1].items() if key not in ("submitted", "draft_claim")}
    read = ClaimPack.from_json(older)
    assert (read.submitted, read.draft_claim) == (None, None)
    without_items = {key: value for key, value in SUBMITTED.items() if key != "prior_period_items"}
    claimed = ClaimPack.from_json({**older, "submitted": without_items}).submitted
    assert claimed is not None and claimed.prior_period_items == ()


def test_a_hostile_narrative_is_guarded_in_every_format(app: App, database_url: str) -> None:
    # A narrative is free text from the command line: a formula, markup and right-to-left script.
    narrative = '=HYPERLINK("http://x") <b>late</b> تأخر التوظيف'
    record(
        app,
        [
            offer(date="2024-12-01", start="2025-01-01"),
            claim("ae-q1", "12500.00", category="associate_employment", date="2025-03-31"),
            claim("cons-q1", "500.00", date="2025-02-10"),
        ],
    )
    passes = [part for line in OTHER_LINES for part in ("--narrative", f"{line}={narrative}")]
    result = CliRunner().invoke(
        cli,
        [
            "--db",
            database_url,
            "claim",
            "submit",
            PROJECT,
            "--quarter",
            "2025Q1",
            "--date",
            "2025-04-05",
            *passes,
        ],
    )
    assert result.exit_code == 0, result.stderr
    made = every_format(app, "2025Q1")
    rows = by_first(csv_sections(made["csv"])[1])
    assert rows["travel_subsistence"][4] == "'" + narrative
    book = load_workbook(io.BytesIO(made["xlsx"]))
    assert book.sheetnames[0] == "Claim as submitted"
    assert "'" + narrative in [cell.value for row in book["Claim as submitted"].iter_rows() for cell in row]
    html = made["html"].decode("utf-8")
    assert "&lt;b&gt;late&lt;/b&gt;" in html and "<b>late</b>" not in html
    assert "HYPERLINK" in pdf_text(made["pdf"])
    assert every_format(app, "2025Q1") == made
