"""The days, quarters and months a reader types are bounded as the events' dates are (issue 11,
item 1): outside 1990-01-01..2099-12-31, or in digits other than ASCII, a clear refusal naming the
field, never a traceback nor a 500, on the command line and over HTTP alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ktpledger.bootstrap import App
from ktpledger.cli import app as cli
from ktpledger.settings import Settings
from tests.api.conftest import bearer
from tests.ledger.factory import PROJECT, claim, offer

FAR_DAYS = ["9999-12-31", "2100-01-01", "1989-12-31", "0001-01-01"]


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/ledger.db"
    source = tmp_path / "events.jsonl"
    source.write_text(json.dumps(offer()) + "\n" + json.dumps(claim("c1")) + "\n", encoding="utf-8")
    assert CliRunner().invoke(cli, ["--db", url, "record", str(source)]).exit_code == 0
    return url


def refused(url: str, *args: str, rule: str, words: str) -> None:
    result = CliRunner().invoke(cli, ["--db", url, *args])
    assert result.exit_code == 1, (args, result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit), result.exception
    assert f"{rule}: " in result.stderr and words in result.stderr, result.stderr


@pytest.mark.parametrize("day", FAR_DAYS)
def test_a_far_day_on_the_command_line_is_refused_r40(ledger_url: str, day: str) -> None:
    refused(ledger_url, "allowances", PROJECT, "--as-of", day, rule="R-40", words="as_of")
    refused(ledger_url, "alerts", "--today", day, rule="R-40", words="1990-01-01 to 2099-12-31")


def test_days_at_the_bounds_are_read(ledger_url: str) -> None:
    result = CliRunner().invoke(cli, ["--db", ledger_url, "alerts", "--today", "2099-12-31"])
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("day", ["9999-12-31", "\u0662\u0660\u0662\u0665-01-01"])
def test_a_far_today_setting_is_a_usage_error(day: str) -> None:
    with pytest.raises(ValueError, match="KTPLEDGER_TODAY"):
        Settings.from_env({"KTPLEDGER_TODAY": day})
    result = CliRunner().invoke(cli, ["alerts"], env={"KTPLEDGER_TODAY": day})
    assert result.exit_code == 2 and "KTPLEDGER_TODAY" in result.stderr


@pytest.mark.parametrize(
    ("quarter", "words"),
    [
        ("9999Q4", "outside the years"),
        ("1900Q1", "outside the years"),
        ("\u0662\u0660\u0662\u0665Q1", "2025Q2"),
    ],
)
def test_a_far_or_foreign_quarter_is_refused_r42(ledger_url: str, quarter: str, words: str) -> None:
    refused(ledger_url, "claim-pack", PROJECT, "--quarter", quarter, rule="R-42", words=words)


@pytest.mark.parametrize("months", ["\u0661\u0662", "1_2", "+12", "12.0"])
def test_costing_months_are_ascii_digits_r02(months: str) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "costing",
            "--methodology",
            "fec",
            "--business-type",
            "sme",
            "--months",
            months,
            "--salary",
            "45000",
        ],
    )
    assert result.exit_code == 1 and "R-02" in result.stderr, (result.stdout, result.stderr)


def test_a_project_that_is_no_reference_is_unknown_not_a_traceback(ledger_url: str) -> None:
    for project in ["KTP-0042\n", "KTP\udcff", "KTP\x00"]:
        refused(ledger_url, "events", project, rule="R-31", words="unknown project")
        refused(ledger_url, "allowances", project, rule="R-31", words="unknown project")
        refused(ledger_url, "reconcile", project, rule="R-31", words="unknown project")


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("/projects?today=9999-12-31", "R-40"),
        ("/alerts?today=1989-12-31", "R-40"),
        (f"/projects/{PROJECT}/summary?today=2100-01-01", "R-40"),
        (f"/projects/{PROJECT}/allowances?as_of=9999-12-31", "R-40"),
        (f"/projects/{PROJECT}/allowances?as_of=%D9%A2%D9%A0%D9%A2%D9%A5-01-01", "R-40"),
        (f"/projects/{PROJECT}/claim-pack?quarter=9999Q4", "R-42"),
        (f"/projects/{PROJECT}/claim-pack?quarter=%D9%A2%D9%A0%D9%A2%D9%A5Q1", "R-42"),
        ("/costing?methodology=fec&business_type=sme&months=%D9%A1%D9%A2&salary=45000", "R-02"),
        ("/costing?methodology=fec&business_type=sme&months=12&salary=45000&supervisor_fte=1e-1", "R-16"),
    ],
)
def test_far_days_and_foreign_digits_over_http_are_422(
    app: App, client: TestClient, tokens: dict[str, str], path: str, rule: str
) -> None:
    assert all(result.status == "recorded" for result in app.ledger.append([offer(), claim("c1")]))
    response = client.get(path, headers=bearer(tokens["admin"]))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["rule"] == rule
    assert client.get(f"/?today={path.rsplit('=', 1)[-1]}", headers=bearer(tokens["admin"])).status_code < 500
