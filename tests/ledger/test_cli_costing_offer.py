"""`ktpledger costing --offer` (issue 13, item 5): the GrantOffered event of a costing, which
`record` accepts as it is printed, on both databases; `allowances` then shows the costing's budget.

The figures are worked by hand from docs/rules.md's worked examples (12 months, a 45,000 salary;
fec: a supervisor at 80,000 a year, support costs of 36,000 at a 0.5 rate)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ktpledger.cli import app, reports

TERMS = [
    "--offer",
    "--project",
    "KTP-OFFER-1",
    "--start",
    "2024-06-01",
    "--title",
    "Predictive maintenance",
    "--knowledge-base",
    "University of Northshire",
    "--business",
    "Acme Packaging Ltd",
]
FEC = ["--methodology", "fec", "--months", "12", "--salary", "45000", "--supervisor-cost", "80000"]
FEC += ["--support-costs", "36000", "--support-rate", "0.5"]
NON_FEC = ["--methodology", "non_fec", "--months", "12", "--salary", "45000"]

# By hand: 45,000 x 12/12; 0.1 x 80,000; 0.5 x 36,000; the guidance's 2,000, 1,250, 2,000 a year;
# non_fec's academic support 15,000 a year; estates none.
FEC_BUDGET = {
    "associate_employment": "45000.00",
    "associate_development": "2000.00",
    "travel_subsistence": "1250.00",
    "consumables": "2000.00",
    "knowledge_base_supervisor": "8000.00",
    "associate_estates": "0.00",
    "additional_associate_support": "18000.00",
}
NON_FEC_BUDGET = {
    "associate_employment": "45000.00",
    "academic_secretarial_support": "15000.00",
    "associate_development": "2000.00",
    "travel_subsistence": "1250.00",
    "consumables": "2000.00",
}
# Non-fec overheads, derived by the ledger: 46% of the grant share of employment + academic support
# (60,000): sme 0.46 x 36,000 = 16,560; large 0.46 x 30,000 = 13,800.
OVERHEADS = {"sme": "16560.00", "large": "13800.00"}
CASES = [
    ("fec", "sme", FEC, FEC_BUDGET),
    ("fec", "large", FEC, FEC_BUDGET),
    ("non_fec", "sme", NON_FEC, NON_FEC_BUDGET),
    ("non_fec", "large", NON_FEC, NON_FEC_BUDGET),
]


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def ledger_url(database_url: str) -> str:
    """A database at head (record makes a SQLite file's schema; a PostgreSQL one needs it made)."""
    code, _, err = run("--db", database_url, "db", "upgrade")
    assert code == 0, err
    return database_url


def offer(*args: str) -> str:
    code, out, err = run("costing", *args)
    assert (code, err) == (0, ""), err
    assert out.count("\n") == 1 and out.endswith("\n")
    return out


@pytest.mark.parametrize(("methodology", "business_type", "costing", "budget"), CASES)
def test_the_offer_of_each_worked_case_is_recorded_and_its_budget_shown(
    ledger_url: str, methodology: str, business_type: str, costing: list[str], budget: dict[str, str]
) -> None:
    line = offer(*costing, "--business-type", business_type, *TERMS)
    event = json.loads(line)
    assert list(event) == ["type", "project", "key", "date", "data"]
    assert (event["type"], event["project"], event["key"], event["date"]) == (
        "GrantOffered",
        "KTP-OFFER-1",
        "offer",
        "2024-06-01",
    )
    data = event["data"]
    assert data["budget"] == budget
    assert "knowledge_base_overheads" not in data["budget"]
    assert (data["methodology"], data["business_type"], data["months"], data["start"]) == (
        methodology,
        business_type,
        12,
        "2024-06-01",
    )
    assert (data["london"], data["virtual"]) == (False, False)
    assert "grant_rate" not in data and "justifications" not in data
    if methodology == "fec":
        assert data["supervisor_cost"] == "80000.00"
    else:
        assert "supervisor_cost" not in data

    code, out, err = run("--db", ledger_url, "record", "-", stdin=line)
    assert (code, err) == (0, ""), out
    assert json.loads(out)["status"] == "recorded"
    code, out, err = run("--db", ledger_url, "allowances", "KTP-OFFER-1", "--format", "json")
    assert code == 0, err
    shown = {row["category"]: row["budget"] for row in json.loads(out)["lines"]}
    expected = dict(budget)
    if methodology == "non_fec":
        expected["knowledge_base_overheads"] = OVERHEADS[business_type]
    assert shown == expected
    # The same offer again is a duplicate, not a second offer.
    code, out, _ = run("--db", ledger_url, "record", "-", stdin=line)
    assert (code, json.loads(out)["status"]) == (0, "duplicate")


def test_the_offer_pipes_into_record_through_a_shell(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    cli = [sys.executable, "-m", "ktpledger.cli"]
    costing = subprocess.run(
        [*cli, "costing", *FEC, "--business-type", "sme", *TERMS], capture_output=True, check=True, text=True
    )
    recorded = subprocess.run(
        [*cli, "--db", url, "record", "-"], input=costing.stdout, capture_output=True, text=True
    )
    assert recorded.returncode == 0, recorded.stderr
    assert json.loads(recorded.stdout)["status"] == "recorded"


def test_the_given_terms_and_a_justification_reach_the_event(ledger_url: str) -> None:
    # 0.2 FTE of 80,000 for 12 months: 16,000, above the 8,000 standard; London weighting;
    # the offer letter's rate; the event dated before the start.
    args = [*FEC, "--business-type", "sme", "--supervisor-fte", "0.2", "--london", "--grant-rate", "0.7"]
    args += [*TERMS, "--key", "offer-2024", "--date", "2024-05-15"]
    args += ["--justification", "knowledge_base_supervisor=A second supervisor for the trials"]
    event = json.loads(offer(*args))
    assert (event["key"], event["date"]) == ("offer-2024", "2024-05-15")
    data = event["data"]
    assert data["budget"]["knowledge_base_supervisor"] == "16000.00"
    assert data["justifications"] == {"knowledge_base_supervisor": "A second supervisor for the trials"}
    assert (data["london"], data["grant_rate"]) == (True, "0.7")
    code, out, err = run("--db", ledger_url, "record", "-", stdin=json.dumps(event) + "\n")
    assert code == 0, out + err
    code, out, _ = run("--db", ledger_url, "allowances", "KTP-OFFER-1", "--format", "json")
    rows = {row["category"]: row for row in json.loads(out)["lines"]}
    assert (rows["knowledge_base_supervisor"]["budget"], rows["knowledge_base_supervisor"]["limit"]) == (
        "16000.00",
        "16000.00",
    )
    assert json.loads(out)["grant_rate"] == "0.70"


def test_a_standard_line_above_its_standard_without_a_justification_is_refused_off_a_terminal() -> None:
    code, out, err = run("costing", *FEC, "--business-type", "sme", "--supervisor-fte", "0.2", *TERMS)
    assert (code, out) == (1, "")
    assert err == (
        "error: R-31: knowledge_base_supervisor budget 16,000 is above its standard of 8,000 for 12 "
        "months (R-16): give a justification for it (--justification knowledge_base_supervisor=TEXT) "
        "or lower it\n"
    )


def test_on_a_terminal_a_missing_justification_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reports, "stdin_is_terminal", lambda: True)
    args = ["costing", *FEC, "--business-type", "sme", "--supervisor-fte", "0.2", *TERMS]
    code, out, err = run(*args, stdin="Two sites need more supervision\n")
    assert code == 0, err
    assert "knowledge_base_supervisor budget 16,000 is above its standard of 8,000" in err
    # The prompt (and the runner's echo of the answer) on stderr: stdout is the event alone.
    assert out.count("\n") == 1
    event = json.loads(out)
    assert event["data"]["justifications"] == {"knowledge_base_supervisor": "Two sites need more supervision"}


@pytest.mark.parametrize("start", ["2024-13-01", "1 June 2024", "2024-6-1"])
def test_a_bad_start_is_refused(start: str) -> None:
    code, out, err = run("costing", *NON_FEC, "--business-type", "sme", *TERMS, "--start", start)
    assert (code, out) == (1, "")
    assert err.startswith("error: R-01: start ") and start in err


@pytest.mark.parametrize("option", ["--project", "--start", "--title", "--knowledge-base", "--business"])
def test_a_missing_term_is_a_usage_error_naming_it(option: str) -> None:
    index = TERMS.index(option)
    terms = TERMS[:index] + TERMS[index + 2 :]
    code, out, err = run("costing", *NON_FEC, "--business-type", "sme", *terms)
    assert (code, out, err) == (2, "", f"error: --offer needs {option}\n")


def test_an_offer_option_without_offer_is_a_usage_error() -> None:
    code, out, err = run("costing", *NON_FEC, "--business-type", "sme", "--project", "KTP-1")
    assert (code, out) == (2, "")
    assert err == "error: --project is an option of --offer: add --offer, or drop --project\n"


def test_a_non_fec_offer_refuses_a_supervisor_cost() -> None:
    code, out, err = run("costing", *NON_FEC, "--business-type", "sme", "--supervisor-cost", "80000", *TERMS)
    assert (code, out) == (1, "")
    assert "supervisor" in err and "non_fec" in err


def test_an_unknown_justification_line_is_refused_by_the_event_parser() -> None:
    args = ["costing", *NON_FEC, "--business-type", "sme", *TERMS, "--justification", "travel=Far"]
    code, out, err = run(*args)
    assert (code, out) == (1, "")
    assert err.startswith("error: R-") and "travel" in err


def test_a_date_before_the_first_rule_set_is_refused() -> None:
    code, out, err = run("costing", *NON_FEC, "--business-type", "sme", *TERMS, "--date", "2020-01-01")
    assert (code, out) == (1, "")
    assert err.startswith("error: R-")
