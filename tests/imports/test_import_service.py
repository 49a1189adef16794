"""`service/imports.py` as `POST /imports` will call it: `plan_import` writes nothing, `run_import`
records what the plan said in one append, `ImportRefused` for whole-file problems; and the pure
parts of `domain/import_profile.py` (amounts, dates, keys) on their own."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ktpledger.bootstrap import App
from ktpledger.domain.import_profile import DateFormat, imported_parts, key_basis, parse_amount, row_key
from ktpledger.service.imports import ImportRefused, plan_import, run_import
from tests.imports.helpers import fixture
from tests.ledger.factory import PROJECT, offer

AGRESSO = fixture("agresso_2025_01.csv").read_bytes()
PROFILE = fixture("agresso.toml").read_text(encoding="utf-8")


@pytest.fixture
def ledger_app(app: App) -> App:
    assert app.ledger.append([offer()])[0].status == "recorded"
    return app


def test_plan_writes_nothing_and_run_records_what_it_planned(ledger_app: App) -> None:
    ledger = ledger_app.ledger
    plan = plan_import(ledger, PROJECT, AGRESSO, "jan.csv", PROFILE)
    assert [event.key for event in ledger.stream(PROJECT)] == ["offer"]
    document = plan.to_json()
    assert set(document) == {
        "project",
        "file",
        "profile",
        "dry_run",
        "recorded_anything",
        "rows",
        "counts",
        "categories",
        "parental_leave",
        "grant_payments",
    }
    assert (document["project"], document["file"], document["profile"]) == (PROJECT, "jan.csv", "agresso")
    assert set(document["rows"][0]) == {"row", "status", "key", "event", "source"}
    done = run_import(ledger, PROJECT, AGRESSO, "jan.csv", PROFILE)
    assert done.dry_run is False and done.recorded_anything is True
    planned = [row.key for row in plan.rows if row.status == "would record"]
    assert [row.key for row in done.rows if row.status == "recorded"] == planned
    assert [event.key for event in ledger.stream(PROJECT)] == ["offer", *planned]
    assert done.rejected_rows() == []


def test_run_records_nothing_from_a_plan_with_a_rejected_row(ledger_app: App) -> None:
    export = AGRESSO.replace(b"INV-1002,6020", b"INV-1002,6099")  # an unmapped cost code
    done = run_import(ledger_app.ledger, PROJECT, export, "jan.csv", PROFILE)
    assert done.recorded_anything is False and done.rejected == 2
    # row 11, CN-2002, then reverses no claim of 6020: rejected too, never netted against another
    assert [row.row for row in done.rejected_rows()] == [5, 11]
    assert [event.key for event in ledger_app.ledger.stream(PROJECT)] == ["offer"]
    skipping = run_import(ledger_app.ledger, PROJECT, export, "jan.csv", PROFILE, skip_rejected=True)
    assert skipping.counts() == {"recorded": 6, "rejected": 2, "skipped": 2}
    assert len(ledger_app.ledger.stream(PROJECT)) == 1 + 6


@pytest.mark.parametrize(
    ("project", "profile", "field", "words"),
    [
        ("not a project", PROFILE, "project", "project must be a reference"),
        (PROJECT, PROFILE.replace("[[skip]]", "[[skips]]"), "skips", "unknown key"),
        (
            PROJECT,
            PROFILE + "\n[[rules]]\ndescription = '['\ncategory = 'consumables'\n",
            "rules[4].description",
            "not a regular expression",
        ),
    ],
)
def test_whole_file_problems_are_import_refused(
    ledger_app: App, project: str, profile: str, field: str, words: str
) -> None:
    with pytest.raises(ImportRefused) as caught:
        plan_import(ledger_app.ledger, project, AGRESSO, "jan.csv", profile)
    assert caught.value.rule == "R-30" and caught.value.field == field and words in caught.value.message


def test_amounts_as_exports_write_them() -> None:
    cases = {
        "1200.00": "1200.00",
        "1,200.00": "1200.00",
        "£1,200.00": "1200.00",
        "-31.20": "-31.20",
        "(31.20)": "-31.20",
        "31.20 CR": "-31.20",
        "31.20DR": "31.20",
        "31.20-": "-31.20",
        "-£31.20": "-31.20",
        "£-31.20": "-31.20",
        " 7 ": "7.00",
        "31.2000": "31.20",
    }
    for text, expected in cases.items():
        assert parse_amount(text) == Decimal(expected), text
    for bad in ("31.205", "1,20.00", "abc", "", "1e3", "--1"):
        assert parse_amount(bad) is None, bad
    assert parse_amount("1.200,50", decimal_mark=",") == Decimal("1200.50")
    assert parse_amount("15,00-", decimal_mark=",") == Decimal("-15.00")


def test_dates_in_written_and_strftime_patterns() -> None:
    assert DateFormat.compile("dd/mm/yyyy").parse("06/01/2025") == date(2025, 1, 6)
    assert DateFormat.compile("%d.%m.%Y").parse("6.1.2025") == date(2025, 1, 6)
    assert DateFormat.compile("dd-mmm-yyyy").parse("06-Jan-2025") == date(2025, 1, 6)
    assert DateFormat.compile("dd/mm/yy").parse("06/01/25") == date(2025, 1, 6)
    assert DateFormat.compile("dd/mm/yyyy").parse("01/06/2025 ") == date(2025, 6, 1)  # UK: day first
    assert DateFormat.compile("dd/mm/yyyy").parse("31/02/2025") is None


def test_keys_carry_the_cost_code_and_reference_and_read_back() -> None:
    day, amount = date(2025, 1, 6), Decimal("12.00")
    basis = key_basis("agresso", "50:10", "INV#1", day, amount, "paper")
    key = row_key(basis, 2)
    assert key == "agresso:50%3A10:INV%231:2"
    parts = imported_parts(key)
    assert parts is not None and (parts.cost_code, parts.reference, parts.occurrence) == ("50:10", "INV#1", 2)
    hashed = row_key(key_basis("agresso", "5010", "", day, amount, "paper"), 1)
    assert hashed.startswith("agresso:5010:#") and len(hashed) == len("agresso:5010:#") + 16 + 2
    parts = imported_parts(hashed)
    assert parts is not None and parts.reference == ""
    long = row_key(key_basis("agresso", "5010", "R" * 400, day, amount, "paper"), 1)
    assert len(long) <= 200 and long.isprintable()
    assert imported_parts("offer") is None and imported_parts("2024Q4-salary") is None
