"""`ktpledger import`'s refusals, each a clear message naming the row or the profile field and the
rule, nothing recorded, no traceback: bad profiles (exit 2), unreadable files (exit 2), and rows the
ledger would refuse (exit 1). Credits that match no claim, or several, are refused listing them."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from ktpledger.service.imports import MAX_EXPORT_BYTES, read_profile
from tests.imports.fixtures.make_xlsx import ROWS, build
from tests.imports.helpers import fates, fixture, import_json, keys, prepared, run
from tests.ledger.factory import claim, event

PROFILE = """
name = "plain"
[columns]
date = "Date"
date_format = "dd/mm/yyyy"
amount = "Amount"
reference = "Ref"
reverses = "Against"
description = "Description"
cost_code = "Code"
[cost_codes]
"C1" = "consumables"
"T1" = "travel_subsistence"
"""
HEADER = "Date,Ref,Code,Description,Amount,Against"


@pytest.fixture
def url(database_url: str, tmp_path: Path) -> str:
    return prepared(database_url, tmp_path)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def plain(tmp_path: Path, profile: str = PROFILE) -> Path:
    return write(tmp_path, "plain.toml", profile)


def csv_of(tmp_path: Path, *rows: str, header: str = HEADER, name: str = "export.csv") -> Path:
    return write(tmp_path, name, "\n".join([header, *rows]) + "\n")


def refused(url: str, export: Path, profile: Path, *extra: str) -> str:
    """The one-line refusal of an import that exits 2, nothing recorded."""
    code, out, err = run(
        url, "import", str(export), "--project", "KTP-0042", "--profile", str(profile), *extra
    )
    assert code == 2, out + err
    assert keys(url) == ["offer"]
    return err


def rejected(plan: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {row["row"]: row["error"] for row in plan["rows"] if row["status"] == "rejected"}


# --- the profile ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (("amount = ", "amont = "), "columns.amont", "did you mean amount?"),
        (('"C1" = "consumables"', '"C1" = "consumable"'), "cost_codes.C1", "did you mean consumables?"),
        (
            (
                '"T1" = "travel_subsistence"',
                '"T1" = "travel_subsistence"\n[[rules]]\ndescription = "(conf"\ntags = ["conference"]',
            ),
            "rules[1].description",
            "is not a regular expression",
        ),
        (
            (
                '"T1" = "travel_subsistence"',
                '"T1" = "travel_subsistence"\n[[rules]]\ndescription = "x"\ntags = ["conferences"]',
            ),
            "rules[1].tags",
            "did you mean conference?",
        ),
        (
            ('date_format = "dd/mm/yyyy"', 'date_format = "dd/qq/yyyy"'),
            "columns.date_format",
            "no date pattern",
        ),
        (('name = "plain"', 'name = "has space"'), "name", "starts every key"),
    ],
)
def test_a_bad_profile_is_one_error_naming_its_field(
    url: str, tmp_path: Path, change: tuple[str, str], field: str, words: str
) -> None:
    profile = plain(tmp_path, PROFILE.replace(*change))
    err = refused(url, csv_of(tmp_path, "06/01/2025,A1,C1,Pens,10.00,"), profile, "--dry-run")
    assert f"error: R-30: profile {field}: " in err and words in err


def test_a_column_the_header_lacks_is_named_with_the_header_and_the_nearest(url: str, tmp_path: Path) -> None:
    profile = plain(tmp_path, PROFILE.replace('date = "Date"', 'date = "Dte"'))
    err = refused(url, csv_of(tmp_path, "06/01/2025,A1,C1,Pens,10.00,"), profile, "--dry-run")
    assert (
        "profile columns.date: column 'Dte' is not in the export's header (row 1); did you mean 'Date'?"
        in err
    )
    assert "The header's columns are 'Date', 'Ref', 'Code', 'Description', 'Amount', 'Against'" in err


def test_the_service_refuses_a_profile_that_is_not_toml() -> None:
    with pytest.raises(Exception, match="the profile is not TOML") as caught:
        read_profile("name = ")
    assert getattr(caught.value, "field", None) == "profile"


# --- the file ------------------------------------------------------------------------------------


def test_a_profile_that_says_utf8_of_a_windows_file_names_the_line_and_byte(url: str, tmp_path: Path) -> None:
    profile = write(tmp_path, "sap.toml", fixture("sap.toml").read_text().replace('"cp1252"', '"utf-8"'))
    err = refused(url, fixture("sap_fbl3n_2025_02.csv"), profile, "--dry-run")
    # line 3 is "05.02.2025;5100000124;416000;Caf\xe9 ...": the é is its 33rd byte
    assert "the export is not utf-8: line 3, byte 33 is 0xE9" in err and 'encoding = "cp1252"' in err


def test_an_empty_file_an_empty_sheet_and_a_missing_sheet(url: str, tmp_path: Path) -> None:
    assert "the export is empty" in refused(url, write(tmp_path, "e.csv", "\n\n"), plain(tmp_path))
    book = Workbook()
    assert book.active is not None
    book.active.title = "Empty"
    book.save(tmp_path / "e.xlsx")
    assert "sheet 'Empty' is empty" in refused(url, tmp_path / "e.xlsx", plain(tmp_path))
    err = refused(url, fixture("oracle_gl_2025_03.xlsx"), fixture("oracle.toml"), "--sheet", "GL")
    assert "the workbook has no sheet 'GL'; its sheets are 'Notes', 'GL Detail'" in err


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(url: str, tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with big.open("wb") as out:
        out.truncate(50 * 1024 * 1024)  # 50 MB (sparse: costs no disk)
    err = refused(url, big, plain(tmp_path), "--dry-run")
    assert "R-30: " in err and "50.0 MB, over the import's limit of 32 MB" in err
    assert MAX_EXPORT_BYTES == 32 * 1024 * 1024  # 100,000 rows of a real export fit in well under half


def test_unreadable_files_exit_2(url: str, tmp_path: Path) -> None:
    assert "cannot read the export" in refused(url, tmp_path / "missing.csv", plain(tmp_path))
    assert "cannot read the profile" in refused(url, fixture("agresso_2025_01.csv"), tmp_path / "none.toml")
    code, _, err = run(url, "import", str(fixture("agresso_2025_01.csv")))
    assert code == 2 and "--project and --profile" in err


# --- rows ----------------------------------------------------------------------------------------


def test_bad_dates_amounts_periods_and_ragged_rows_are_rejected_row_by_row(url: str, tmp_path: Path) -> None:
    export = csv_of(
        tmp_path,
        "06/01/2025,A1,C1,Pens,10.00,",  # line 2: fine
        "2025/01/07,A2,C1,Pens,10.00,",  # line 3: not dd/mm/yyyy
        "08/01/2025,A3,C1,Pens,ten,",  # line 4: no amount
        "09/01/2023,A4,C1,Pens,10.00,",  # line 5: before the project's start
        "10/01/2025,A5,C1,Pens,10.00,,extra",  # line 6: a cell more than the header
        "11/01/2025,A6,C1,Pens",  # line 7: short: the missing amount is blank
        "12/01/2025,A7,XX,Pens,1.00,",  # line 8: an unmapped code
        "13/01/2025,A8,C1,Pens,0.00,",  # line 9: zero: skipped
        "14/01/2025,A9,C1,Pens,1.005,",  # line 10: below a penny
    )
    code, plan, _ = import_json(url, export, plain(tmp_path), "--dry-run")
    assert code == 1
    errors = rejected(plan)
    assert sorted(errors) == [3, 4, 5, 6, 7, 8, 10]
    assert errors[3] == {
        "rule": "R-30",
        "message": 'row 3: column "Date": "2025/01/07" is not a date as dd/mm/yyyy',
        "field": "Date",
    }
    assert errors[4]["rule"] == "R-30" and errors[4]["field"] == "Amount"
    assert 'row 4: column "Amount": "ten" is not an amount in pounds and pence' in errors[4]["message"]
    assert (
        errors[5]["rule"] == "R-33"
        and "outside the project's period 2024-10-01 to 2026-09-30" in errors[5]["message"]
    )
    assert errors[6]["rule"] == "R-30" and "row 6 has 7 cells, the header has 6" in errors[6]["message"]
    assert 'row 7: column "Amount": "" is not an amount' in errors[7]["message"]
    assert (
        errors[8]["rule"] == "R-33"
        and 'cost code "XX" is not in the profile\'s [cost_codes]' in errors[8]["message"]
    )
    assert '"1.005" is not an amount' in errors[10]["message"]
    assert fates(plan)[0] == (2, "would record", "plain:C1:A1:1", "SpendClaimed")
    assert plan["rows"][7]["reason"] == "zero amount: nothing to record"


def test_an_unknown_project_and_a_closed_one(url: str, tmp_path: Path) -> None:
    export = csv_of(tmp_path, "06/01/2025,A1,C1,Pens,10.00,")
    # Refused as a whole (R-31, exit 1 as any read of an unknown project), naming the nearest one.
    code, refusal, err = import_json(url, export, plain(tmp_path), "--dry-run", project="KTP-0043")
    assert code == 1 and refusal["error"]["rule"] == "R-31"
    assert 'unknown project "KTP-0043"' in refusal["error"]["message"]
    assert "did you mean KTP-0042?" in err
    prepared(url, tmp_path, event("ProjectClosed", "closed", "2025-01-05", {}))
    code, plan, _ = import_json(url, export, plain(tmp_path))
    assert code == 1 and rejected(plan)[2]["rule"] == "R-36"
    assert keys(url) == ["offer", "closed"]


def test_a_formula_cell_rejects_its_row_naming_the_cell(url: str, tmp_path: Path) -> None:
    rows = [list(row) for row in ROWS]
    rows[1][4] = "=150*2"  # JL-3002's Entered Dr, cell E6
    build(rows, formula=True).save(tmp_path / "formula.xlsx")
    code, plan, _ = import_json(url, tmp_path / "formula.xlsx", fixture("oracle.toml"), "--dry-run")
    assert code == 1
    errors = rejected(plan)
    assert errors[6] == {
        "rule": "R-30",
        "message": "row 6: cell E6 holds a formula; ktpledger reads values only: copy the column and "
        "paste values, then import again",
        "field": "E6",
    }
    # and so the refund of JL-3002 (row 9) finds no claim to reverse: never netted elsewhere
    assert sorted(errors) == [6, 9] and errors[9]["rule"] == "R-34"
    # the totals row's =SUM() is skipped by the profile's skip rule before its formula matters
    assert plan["rows"][-1]["status"] == "skipped"


def test_a_changed_row_under_a_recorded_key_is_a_conflict(url: str, tmp_path: Path) -> None:
    profile = plain(tmp_path)
    assert import_json(url, csv_of(tmp_path, "06/01/2025,A1,C1,Pens,10.00,"), profile)[0] == 0
    code, plan, _ = import_json(url, csv_of(tmp_path, "06/01/2025,A1,C1,Pens,11.00,"), profile)
    assert code == 1 and rejected(plan)[2]["rule"] == "R-30"
    assert 'key "plain:C1:A1:1" was recorded (version 2) with other content' in rejected(plan)[2]["message"]
    assert keys(url) == ["offer", "plain:C1:A1:1"]


# --- credits -------------------------------------------------------------------------------------


def test_credits_by_reference_by_cost_code_and_refused_with_the_candidates(url: str, tmp_path: Path) -> None:
    export = csv_of(
        tmp_path,
        "06/01/2025,A1,C1,Pens,100.00,",
        "07/01/2025,A2,C1,Paper,80.00,",
        "08/01/2025,A3,T1,Taxi,30.00,",
        "09/01/2025,K1,C1,Pens returned,-40.00,A1",  # line 5: by reference, partial
        "10/01/2025,K2,C1,Refund,-50.00,",  # line 6: A1 has 60 left, A2 80: ambiguous
        "10/01/2025,K3,T1,Taxi refund,-30.00,",  # line 7: the one T1 claim: reversed in full
        "11/01/2025,K4,T1,Another taxi refund,-5.00,",  # line 8: T1 has nothing left: none
        "11/01/2025,K5,C1,Refund,-5.00,ZZ9",  # line 9: no such reference
        "11/01/2025,K6,C1,Refund,-70.00,A1",  # line 10: A1 has 60 left
        "05/01/2025,K7,C1,Early refund,-1.00,A1",  # line 11: dated before its claim
    )
    code, plan, _ = import_json(url, export, plain(tmp_path), "--dry-run")
    assert code == 1
    by_row = {row["row"]: row for row in plan["rows"]}
    assert by_row[5]["event"]["data"] == {
        "claim": "plain:C1:A1:1",
        "amount": "40.00",
        "reason": "Pens returned",
    }
    assert by_row[7]["event"]["data"] == {
        "claim": "plain:T1:A3:1",
        "amount": "30.00",
        "reason": "Taxi refund",
    }
    errors = rejected(plan)
    assert sorted(errors) == [6, 8, 9, 10, 11]
    assert all(error["rule"] == "R-34" for error in errors.values())
    assert errors[6]["message"] == (
        "row 6: a credit of 50.00 dated 2025-01-10 could reverse any of 2 claims of cost code 'C1': "
        "plain:C1:A1:1 (2025-01-06, 60.00 outstanding of 100.00, 'Pens'); "
        "plain:C1:A2:1 (2025-01-07, 80.00 outstanding of 80.00, 'Paper'); "
        "name the one it reverses in column 'Against'"
    )
    assert "reverses no claim: none of cost code 'T1'" in errors[8]["message"]
    assert (
        "names 'ZZ9' in column 'Against', but project KTP-0042 has no claim imported with that reference"
        in errors[9]["message"]
    )
    assert "no claim with that reference has that much outstanding" in errors[10]["message"]
    assert "plain:C1:A1:1 (2025-01-06, 60.00 outstanding of 100.00, 'Pens')" in errors[10]["message"]
    assert "on or before 2025-01-05" in errors[11]["message"]


def test_a_credit_falls_back_to_the_category_of_claims_not_imported(url: str, tmp_path: Path) -> None:
    prepared(url, tmp_path, claim("by-hand", "90.00", category="consumables"))
    export = csv_of(tmp_path, "20/01/2025,K1,C1,Refund,-20.00,")
    code, plan, _ = import_json(url, export, plain(tmp_path))
    assert code == 0 and plan["rows"][0]["event"]["data"]["claim"] == "by-hand"
    # the same credit again is a duplicate: the claim it reversed is the one recorded with it
    code, again, _ = import_json(url, export, plain(tmp_path))
    assert code == 0 and again["counts"] == {"duplicate": 1}


# --- one file, other shapes: the same keys --------------------------------------------------------


def test_utf16_tabs_and_a_workbook_of_the_same_rows_give_the_same_keys(url: str, tmp_path: Path) -> None:
    profile = fixture("agresso.toml")
    original = fixture("agresso_2025_01.csv").read_bytes().decode("utf-8-sig")
    assert import_json(url, fixture("agresso_2025_01.csv"), profile)[0] == 0
    # Excel's "Unicode text": UTF-16 with a byte order mark, tab-separated
    tabbed = "\r\n".join(
        line.replace('"1,200.00"', "1200.00")
        .replace('"1,050.00"', "1050.00")
        .replace('"1,399.99"', "1399.99")
        .replace('"3,274.99"', "3274.99")
        .replace(",", "\t")
        for line in original.splitlines()
    )
    (tmp_path / "unicode.txt").write_bytes(tabbed.encode("utf-16"))
    code, plan, _ = import_json(url, tmp_path / "unicode.txt", profile)
    assert code == 0 and plan["counts"] == {"duplicate": 8, "skipped": 2}
    # a workbook of the rows without references: the content hash is the same as the CSV's
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Trans Date", "Doc No", "Account", "Description", "Amount", "Orig Ref"])
    for _ in range(2):
        sheet.append([datetime(2025, 1, 15), None, 5010, "Printer paper", Decimal("12.00"), None])
    book.save(tmp_path / "paper.xlsx")
    code, plan, _ = import_json(url, tmp_path / "paper.xlsx", profile)
    assert code == 0 and plan["counts"] == {"duplicate": 2}


# --- --init --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sheet", "columns", "date_format"),
    [
        (
            "agresso_2025_01.csv",
            None,
            {
                "date": "Trans Date",
                "amount": "Amount",
                "reference": "Doc No",
                "reverses": "Orig Ref",
                "description": "Description",
                "cost_code": "Account",
            },
            "dd/mm/yyyy",
        ),
        (
            "sap_fbl3n_2025_02.csv",
            None,
            {
                "date": "Posting Date",
                "amount": "Amount in LC",
                "reference": "Document Number",
                "description": "Text",
                "cost_code": "G/L Account",
            },
            "dd.mm.yyyy",
        ),
        (
            "oracle_gl_2025_03.xlsx",
            "GL Detail",
            {
                "date": "Accounting Date",
                "debit": "Entered Dr",
                "credit": "Entered Cr",
                "reference": "Journal Line Ref",
                "description": "Line Description",
                "cost_code": "Account",
            },
            "yyyy-mm-dd",
        ),
    ],
)
def test_init_drafts_a_profile_that_reads_and_finds_the_columns(
    url: str, tmp_path: Path, name: str, sheet: str | None, columns: dict[str, str], date_format: str
) -> None:
    out = tmp_path / "draft.toml"
    args = ["import", "--init", str(fixture(name)), "--out", str(out)] + (["--sheet", sheet] if sheet else [])
    code, _, err = run(url, *args)
    assert code == 0, err
    text = out.read_text(encoding="utf-8")
    profile = read_profile(text)
    assert {key: value for key, value in vars(profile.columns).items() if value is not None} == columns
    assert profile.date_format.written == date_format
    if name.startswith("sap"):
        assert profile.decimal_mark == ","
        for code_ in ("400100", "416000", "476000", "999999"):
            assert f'# "{code_}" = "consumables"' in text
    # with [cost_codes] still to fill in, every dated row is read and rejected for its code
    code, plan, _ = import_json(url, fixture(name), out, "--dry-run", *(["--sheet", sheet] if sheet else []))
    assert code == 1
    assert rejected(plan) and {error["rule"] for error in rejected(plan).values()} == {"R-33"}
    # the totals rows are found and skipped (Agresso's in Description, Oracle's in Accounting Date)
    reasons = {row["reason"] for row in plan["rows"] if row["status"] == "skipped"}
    assert ("skip[1]: totals and balances" in reasons) == (not name.startswith("sap"))
    # never over a file
    code, _, err = run(url, *args)
    assert code == 2 and "already exists" in err
    assert json.loads(json.dumps(text))  # printable as it is
