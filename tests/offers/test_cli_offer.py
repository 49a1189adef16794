"""`ktpledger offer FILE` (issue 13): an offer letter's budget sheet (XLSX) or its terms (TOML) to the
GrantOffered event that `record` accepts; every refusal names what to fix, and none is a traceback.

The letters are tests/offers/fixtures (make_offers.py writes the XLSX files). By hand:
- fec: the worked case of tests/ledger/test_cli_costing_offer.py, 12 months: employment 45,000,
  development 2,000, travel 1,250, consumables 2,000, supervisor 0.1 x 80,000 = 8,000, estates
  none, additional support 0.5 x 36,000 = 18,000; total 76,250.
- non_fec, 24 months, a large business at 50%: employment 96,000, academic support 30,000 (its
  maximum, 15,000 x 2), development 4,000, travel 2,500, consumables 3,000; overheads 46% of
  (96,000 + 30,000) x 50% = 28,980 (R-19); total 164,480.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from ktpledger.cli import app, reports
from tests.offers.fixtures.make_offers import FEC_LINES, FEC_TERMS, Value, main, write_letter

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FEC_XLSX, FEC_TOML = FIXTURES / "fec_offer.xlsx", FIXTURES / "fec_offer.toml"
NON_FEC_XLSX, NON_FEC_TOML = FIXTURES / "non_fec_offer.xlsx", FIXTURES / "non_fec_offer.toml"

FEC_BUDGET = {
    "additional_associate_support": "18000.00",
    "associate_development": "2000.00",
    "associate_employment": "45000.00",
    "associate_estates": "0.00",
    "consumables": "2000.00",
    "knowledge_base_supervisor": "8000.00",
    "travel_subsistence": "1250.00",
}
NON_FEC_BUDGET = {
    "academic_secretarial_support": "30000.00",
    "associate_development": "4000.00",
    "associate_employment": "96000.00",
    "consumables": "3000.00",
    "travel_subsistence": "2500.00",
}
NON_FEC_TOML_TEXT = NON_FEC_TOML.read_text(encoding="utf-8")


def run(*args: str | Path, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(arg) for arg in args], input=stdin)
    # No traceback ever: a refusal is a message and an exit status.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr
    return result.exit_code, result.stdout, result.stderr


def offer(*args: str | Path) -> str:
    code, out, err = run("offer", *args)
    assert (code, err) == (0, ""), err
    assert out.count("\n") == 1 and out.endswith("\n")
    return out


def refused(*args: str | Path) -> tuple[int, str]:
    """The exit status and stderr of a refusal, which prints nothing on stdout."""
    code, out, err = run("offer", *args)
    assert out == "" and code in (1, 2), (code, out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return code, err


def letter(
    tmp_path: Path,
    *,
    terms: Sequence[tuple[str, Value]] = FEC_TERMS,
    lines: Sequence[tuple[str, Value]] = FEC_LINES,
    replace: dict[str, Value] | None = None,
) -> Path:
    """The fec letter with some lines' amounts replaced (by label)."""
    changed = [(label, (replace or {}).get(label, amount)) for label, amount in lines]
    return write_letter(tmp_path / "letter.xlsx", terms, changed)


# --- the events ------------------------------------------------------------------------------------


def test_the_fec_letter_gives_the_worked_offer() -> None:
    event = json.loads(offer(FEC_XLSX))
    assert list(event) == ["type", "project", "key", "date", "data"]
    assert (event["type"], event["project"], event["key"], event["date"]) == (
        "GrantOffered",
        "KTP-OFFER-1",
        "offer",
        "2024-06-01",
    )
    data = event["data"]
    assert data["budget"] == FEC_BUDGET
    assert (data["title"], data["knowledge_base"], data["business"]) == (
        "Predictive maintenance",
        "University of Northshire",
        "Acme Packaging Ltd",
    )
    assert (data["methodology"], data["business_type"], data["start"], data["months"]) == (
        "fec",
        "sme",
        "2024-06-01",
        12,
    )
    assert (data["london"], data["virtual"], data["supervisor_cost"]) == (False, False, "80000.00")
    assert "grant_rate" not in data and "justifications" not in data


def test_the_fec_letter_gives_the_event_costing_offer_gives_for_the_same_project() -> None:
    args = ["costing", "--methodology", "fec", "--business-type", "sme", "--months", "12"]
    args += ["--salary", "45000", "--supervisor-cost", "80000", "--support-costs", "36000"]
    args += ["--offer", "--project", "KTP-OFFER-1", "--start", "2024-06-01"]
    args += ["--title", "Predictive maintenance", "--knowledge-base", "University of Northshire"]
    args += ["--business", "Acme Packaging Ltd"]
    code, costed, err = run(*args)
    assert code == 0, err
    assert offer(FEC_XLSX) == costed


def test_the_non_fec_letter_leaves_the_derived_overheads_out() -> None:
    data = json.loads(offer(NON_FEC_XLSX))["data"]
    assert data["budget"] == NON_FEC_BUDGET
    assert (data["methodology"], data["business_type"], data["grant_rate"], data["months"]) == (
        "non_fec",
        "large",
        "0.5",
        24,
    )
    assert "supervisor_cost" not in data


@pytest.mark.parametrize(("xlsx", "toml"), [(FEC_XLSX, FEC_TOML), (NON_FEC_XLSX, NON_FEC_TOML)])
def test_the_xlsx_and_toml_twins_give_the_same_bytes(xlsx: Path, toml: Path) -> None:
    assert offer(xlsx) == offer(toml)


def test_make_offers_writes_letters_that_give_the_same_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(tmp_path)
    assert offer(tmp_path / "fec_offer.xlsx") == offer(FEC_XLSX)
    assert offer(tmp_path / "non_fec_offer.xlsx") == offer(NON_FEC_XLSX)


@pytest.mark.parametrize(
    ("file", "budget", "derived"),
    [
        (FEC_XLSX, FEC_BUDGET, None),
        (NON_FEC_XLSX, NON_FEC_BUDGET, "28980.00"),
        (FEC_TOML, FEC_BUDGET, None),
        (NON_FEC_TOML, NON_FEC_BUDGET, "28980.00"),
    ],
)
def test_the_event_is_recorded_and_allowances_show_its_budget(
    sqlite_url: str, file: Path, budget: dict[str, str], derived: str | None
) -> None:
    line = offer(file)
    project = json.loads(line)["project"]
    code, out, err = run("--db", sqlite_url, "record", "-", stdin=line)
    assert (code, err) == (0, ""), out
    assert json.loads(out)["status"] == "recorded"
    code, out, err = run("--db", sqlite_url, "allowances", project, "--format", "json")
    assert code == 0, err
    shown = {row["category"]: row["budget"] for row in json.loads(out)["lines"]}
    expected = dict(budget)
    if derived is not None:
        expected["knowledge_base_overheads"] = derived
    assert shown == expected


def test_the_event_pipes_into_record_through_a_shell(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "ktpledger.cli"]
    made = subprocess.run([*cli, "offer", str(NON_FEC_XLSX)], capture_output=True, check=True, text=True)
    recorded = subprocess.run(
        [*cli, "--db", f"sqlite:///{tmp_path / 'ledger.db'}", "record", "-"],
        input=made.stdout,
        capture_output=True,
        text=True,
    )
    assert recorded.returncode == 0, recorded.stderr
    assert json.loads(recorded.stdout)["status"] == "recorded"


def test_out_writes_the_event_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "offer.jsonl"
    code, out, err = run("offer", FEC_TOML, "--out", target)
    assert (code, out) == (0, "")
    assert err == f"wrote {target}: the GrantOffered event of KTP-OFFER-1\n"
    assert target.read_text(encoding="utf-8") == offer(FEC_XLSX)


def test_options_override_the_letter_and_supply_the_rest(tmp_path: Path) -> None:
    args = ["--project", "KTP-OTHER", "--key", "offer-v2", "--date", "2024-05-20", "--title", "Other"]
    event = json.loads(offer(FEC_XLSX, *args, "--london", "--grant-rate", "70%"))
    assert (event["project"], event["key"], event["date"]) == ("KTP-OTHER", "offer-v2", "2024-05-20")
    assert (event["data"]["title"], event["data"]["london"], event["data"]["grant_rate"]) == (
        "Other",
        True,
        "0.7",
    )
    assert event["data"]["start"] == "2024-06-01"


def test_the_sheet_is_found_by_its_name_in_any_case() -> None:
    assert offer(FEC_XLSX, "--sheet", "offer") == offer(FEC_XLSX)


def test_labels_are_matched_whatever_their_case_and_punctuation(tmp_path: Path) -> None:
    terms = [(f"{label.upper()}:", value) for label, value in FEC_TERMS]
    lines = [(label.lower().replace(" ", "-") + " ", amount) for label, amount in FEC_LINES]
    assert offer(letter(tmp_path, terms=terms, lines=lines)) == offer(FEC_XLSX)


def test_overheads_that_are_not_the_derived_figure_are_noted(tmp_path: Path) -> None:
    toml = tmp_path / "offer.toml"
    toml.write_text(
        NON_FEC_TOML_TEXT.replace('"28980"', '"29000"').replace('"164480"', '"164500"'), encoding="utf-8"
    )
    code, out, err = run("offer", toml)
    assert code == 0
    assert out == offer(NON_FEC_TOML)
    assert err == (
        "note: the letter's knowledge_base_overheads ([budget] knowledge_base_overheads) is 29,000, but "
        "46% of the grant share of associate_employment + academic_secretarial_support is 28,980: the "
        "ledger derives knowledge_base_overheads itself (R-19) and the event leaves it out\n"
    )


# --- justifications (R-31) -----------------------------------------------------------------------

ABOVE_STANDARD = {"Travel & Subsistence": "£3,000", "Total": "£78,000"}


def test_a_standard_line_above_its_standard_is_refused_naming_the_option(tmp_path: Path) -> None:
    code, err = refused(letter(tmp_path, replace=ABOVE_STANDARD))
    assert code == 1
    assert err == (
        "error: R-31: travel_subsistence budget 3,000 is above its standard of 1,250 for 12 months "
        "(R-13, cell C16): give a justification for it (--justification travel_subsistence=TEXT) or "
        "lower it\n"
    )


def test_a_justification_given_as_an_option_reaches_the_event(tmp_path: Path) -> None:
    file = letter(tmp_path, replace=ABOVE_STANDARD)
    event = json.loads(offer(file, "--justification", "Travel and Subsistence=Three sites"))
    assert event["data"]["justifications"] == {"travel_subsistence": "Three sites"}
    assert event["data"]["budget"]["travel_subsistence"] == "3000.00"


def test_on_a_terminal_a_missing_justification_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports, "stdin_is_terminal", lambda: True)
    code, out, err = run("offer", letter(tmp_path, replace=ABOVE_STANDARD), stdin="Three sites\n")
    assert code == 0, err
    assert "travel_subsistence budget 3,000 is above its standard of 1,250" in err
    assert json.loads(out)["data"]["justifications"] == {"travel_subsistence": "Three sites"}


# --- refusals ------------------------------------------------------------------------------------


def test_an_unknown_label_in_the_table_names_its_cell_and_the_known_lines(tmp_path: Path) -> None:
    lines = [*FEC_LINES[:3], ("Equipment purchase", "£500"), *FEC_LINES[3:]]
    code, err = refused(letter(tmp_path, lines=lines))
    assert code == 1
    assert err.startswith('error: R-01: unknown cost line "Equipment purchase" in cell B17; the offer ')
    for known in (
        "Associate Employment Costs",
        "Travel and Subsistence",
        "Knowledge Base Overheads",
        "Total",
    ):
        assert known in err


def test_a_total_that_is_not_the_sum_of_the_lines_names_both_figures(tmp_path: Path) -> None:
    code, err = refused(letter(tmp_path, replace={"Total": "£80,000"}))
    assert code == 1
    assert err == (
        "error: R-31: the total 80,000 (cell C21) is not the sum of the lines, 76,250: correct a line or "
        "the total\n"
    )


def test_pence_are_refused_naming_the_row(tmp_path: Path) -> None:
    code, err = refused(letter(tmp_path, replace={"Consumables": "£2,000.50", "Total": "£76,250.50"}))
    assert code == 1
    assert err == (
        'error: R-20: Consumables (row 17, cell C17): "£2,000.50" has pence; an offer\'s budget is in '
        "whole pounds\n"
    )


def test_a_line_above_its_maximum_is_refused_naming_it(tmp_path: Path) -> None:
    code, err = refused(letter(tmp_path, replace={"Associate Development": "£5,000", "Total": "£79,250"}))
    assert code == 1
    assert err == (
        "error: R-31: associate_development budget 5,000 is above its maximum of 2,000 for 12 months "
        "(R-12); lower it (cell C15)\n"
    )


def test_every_missing_parameter_is_listed_with_its_option(tmp_path: Path) -> None:
    file = letter(tmp_path, terms=[])
    code, err = refused(file)
    assert code == 2
    assert err == (
        f"error: {file} does not give the project's reference (--project); the title (--title); the "
        "knowledge base (--knowledge-base); the business partner (--business); the start date (--start); "
        "the duration in months (--months); the methodology (fec or non_fec) (--methodology); the "
        "business type (--business-type): give them as options\n"
    )
    options = ["--project", "KTP-1", "--title", "T", "--knowledge-base", "K", "--business", "B"]
    options += ["--start", "2024-06-01", "--months", "12", "--methodology", "fec", "--business-type", "sme"]
    options += ["--supervisor-cost", "80000"]
    assert json.loads(offer(file, *options))["data"]["budget"] == FEC_BUDGET


def test_a_missing_sheet_is_refused_listing_the_sheets() -> None:
    code, err = refused(FEC_XLSX, "--sheet", "Budget")
    assert code == 2
    assert err == f"error: {FEC_XLSX} has no sheet 'Budget'; its sheets are 'Offer', 'Notes'\n"


def test_a_sheet_without_a_budget_table_is_refused() -> None:
    code, err = refused(FEC_XLSX, "--sheet", "Notes")
    assert code == 1
    assert err.startswith('error: R-31: sheet "Notes" has no budget table: no cell names a cost line')


def test_an_empty_sheet_is_refused(tmp_path: Path) -> None:
    book = Workbook()
    book.save(tmp_path / "empty.xlsx")
    code, err = refused(tmp_path / "empty.xlsx")
    assert code == 2
    assert err == f"error: sheet 'Sheet' of {tmp_path / 'empty.xlsx'} is empty: it holds no offer letter\n"


@pytest.mark.parametrize(
    ("name", "body"),
    [("offer.csv", b"Associate Employment Costs,45000\n"), ("offer.json", b"{}"), ("offer", b"")],
)
def test_a_file_that_is_neither_xlsx_nor_toml_is_refused(tmp_path: Path, name: str, body: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(body)
    code, err = refused(path)
    assert code == 2
    assert err.startswith(f"error: {path} is neither an XLSX workbook nor a TOML file (.toml)")


def test_a_damaged_workbook_and_a_missing_file_are_refused(tmp_path: Path) -> None:
    damaged = tmp_path / "offer.xlsx"
    damaged.write_bytes(b"PK\x03\x04 not really a workbook")
    code, err = refused(damaged)
    assert code == 2 and err.startswith(f"error: {damaged} cannot be read as an XLSX workbook: ")
    code, err = refused(tmp_path / "absent.toml")
    assert code == 2 and err.startswith(f"error: cannot read {tmp_path / 'absent.toml'}: ")


def test_bad_toml_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "offer.toml"
    path.write_text('[project]\nreference = "KTP-1"\nmonths = \n', encoding="utf-8")
    code, err = refused(path)
    assert code == 2
    assert err.startswith(f"error: {path} is not valid TOML: ") and "line 3" in err


def test_an_unknown_toml_key_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "offer.toml"
    path.write_text(
        FEC_TOML.read_text(encoding="utf-8").replace("months = 12", "duration = 12"), encoding="utf-8"
    )
    code, err = refused(path)
    assert code == 1
    assert err.startswith('error: R-30: [project] has no key "duration"; its keys are reference, title,')


def test_a_formula_without_a_saved_value_is_refused_naming_its_cell(tmp_path: Path) -> None:
    code, err = refused(letter(tmp_path, replace={"Consumables": "=1000*2"}))
    assert code == 1
    assert err == (
        "error: R-30: row 17, cell C17 holds a formula with no saved value: open the file in a spreadsheet "
        "and save it (so the value is kept with the formula), or type the value\n"
    )


def test_a_line_of_the_other_methodology_is_refused_naming_its_cell(tmp_path: Path) -> None:
    lines = [*FEC_LINES[:-1], ("Academic and Secretarial Support", "£1,000"), ("Total", "£77,250")]
    code, err = refused(letter(tmp_path, lines=lines))
    assert code == 1
    assert err.startswith(
        "error: R-31: Academic and Secretarial Support (cell C21) is no line of a fec project; its lines are "
    )


def test_sheet_is_refused_for_a_toml_file() -> None:
    code, err = refused(FEC_TOML, "--sheet", "Offer")
    assert (code, err) == (2, f"error: --sheet is for an XLSX workbook; {FEC_TOML} is TOML\n")


def test_a_parameter_whose_label_is_also_a_line_name_is_no_cost_line(tmp_path: Path) -> None:
    # "Supervisor" names the supervisor line, but a name beside it is no amount: the table starts
    # at its first cost line with an amount, below.
    # Here the parameters and the table share column A.
    terms = [*FEC_TERMS[:3], ("Supervisor", "Dr A. Lee"), *FEC_TERMS[3:]]
    file = write_letter(tmp_path / "letter.xlsx", terms, FEC_LINES, label_column=1)
    assert offer(file) == offer(FEC_XLSX)


def test_a_parameter_may_be_written_label_colon_value_in_one_cell(tmp_path: Path) -> None:
    terms = [(f"{label}: {value}", None) for label, value in FEC_TERMS if isinstance(value, str)]
    terms += [(label, value) for label, value in FEC_TERMS if not isinstance(value, str)]
    assert offer(letter(tmp_path, terms=terms)) == offer(FEC_XLSX)


@pytest.mark.parametrize(
    ("option", "value", "rule"),
    [
        ("--months", "two years", "R-02"),
        ("--start", "2024-13-01", "R-01"),
        ("--business-type", "huge", "R-03"),
    ],
)
def test_a_bad_option_is_refused_naming_it(option: str, value: str, rule: str) -> None:
    code, err = refused(FEC_TOML, option, value)
    assert code == 1
    assert err.startswith(f"error: {rule}: ") and f"({option})" in err
