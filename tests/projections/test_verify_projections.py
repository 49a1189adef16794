"""`ktpledger verify --projections` (issue 11, item 5): projection tables edited unseen are named,
each row that differs from a replay of the ledger with its table, project, key, and the value
stored beside the value recomputed."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from ktpledger.bootstrap import App
from ktpledger.cli import app as cli
from tests.ledger.factory import PROJECT, claim, offer

# A budget of £4,000 for consumables: £3,300 crosses 80% and a forecast overspend (version 2),
# £900 more crosses 90% and the budget (version 3).
HISTORY = [
    offer(),
    claim("c1", "3300.00", date="2025-01-15"),
    claim("c2", "900.00", date="2025-02-15"),
    offer("KTP-0043"),
]


@pytest.fixture
def recorded(app: App) -> App:
    assert [r.status for r in app.ledger.append(HISTORY)] == ["recorded"] * 4
    return app


def verify(app: App, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, ["--db", app.settings.database_url, "verify", "--projections", *args], env={}
    )
    return result.exit_code, result.stdout, result.stderr


def edit(app: App, statement: str) -> None:
    with app.database.engine.begin() as connection:
        connection.execute(text(statement))


def test_intact_projections_pass(recorded: App) -> None:
    code, out, err = verify(recorded)
    assert code == 0, err
    assert "ok: projections of 2 projects equal a replay of the ledger" in out


def test_an_edited_allowance_line_is_named(recorded: App) -> None:
    edit(
        recorded,
        f"UPDATE allowance_lines SET spent_pence = 100 WHERE project = '{PROJECT}' AND category = 'consumables'",
    )
    code, out, err = verify(recorded)
    assert code == 1
    assert (
        f"error: allowance_lines, project {PROJECT}, category consumables: spent_pence is 100 stored, 420000 "
        "recomputed from the ledger"
    ) in err
    assert "1 projection row(s) differ" in out


def test_a_deleted_alert_is_named(recorded: App) -> None:
    edit(recorded, f"DELETE FROM alerts WHERE project = '{PROJECT}' AND kind = 'over_budget'")
    code, out, _ = verify(recorded, "--format", "json")
    assert code == 1
    document = json.loads(out)
    assert document["ok"] is False and document["problem"] is None
    [difference] = document["projections"]["differences"]
    assert difference["table"] == "alerts" and difference["project"] == PROJECT
    assert difference["key"] == {
        "category": "consumables",
        "kind": "over_budget",
        "subject": "",
        "raised_at_version": 3,
    }
    assert difference["column"] is None and difference["stored"] is None
    assert difference["recomputed"]["status"] == "open"
    assert json.loads(difference["recomputed"]["detail"])["excess"] == "200.00"
    assert difference["message"].startswith(
        f"alerts, project {PROJECT}, category consumables, kind over_budget, subject , raised_at_version 3: "
        "no row is stored; the ledger gives"
    )


def test_an_edited_alert_and_an_edited_head_are_named(recorded: App) -> None:
    edit(
        recorded,
        f"UPDATE alerts SET status = 'resolved', resolved_reason = 'closed' WHERE project = '{PROJECT}' AND kind = 'threshold' AND subject = '0.90'",
    )
    edit(recorded, f"UPDATE projection_heads SET version = 2, position = 2 WHERE project = '{PROJECT}'")
    code, _, err = verify(recorded)
    assert code == 1
    where = (
        f"alerts, project {PROJECT}, category consumables, kind threshold, subject 0.90, raised_at_version 3"
    )
    assert f'{where}: status is "resolved" stored, "open" recomputed from the ledger' in err
    assert f'{where}: resolved_reason is "closed" stored, null recomputed from the ledger' in err
    assert (
        f"projection_heads, project {PROJECT}: version is 2 stored, 3 recomputed from the ledger (the projection "
        "is behind the ledger" in err
    )
    assert f"projection_heads, project {PROJECT}: position is 2 stored, 3 recomputed from the ledger" in err


def test_rows_the_ledger_does_not_give_are_named(recorded: App) -> None:
    edit(
        recorded,
        "INSERT INTO allowance_lines (project, category, ordinal, budget_pence, limit_pence, limit_kind, "
        "spent_pence, eligible_pence) VALUES ('KTP-NONE', 'consumables', 0, 1, NULL, 'budget', 0, 0)",
    )
    edit(recorded, "DELETE FROM projection_heads WHERE project = 'KTP-0043'")
    code, _, err = verify(recorded)
    assert code == 1
    assert "allowance_lines, project KTP-NONE, category consumables: a row is stored (" in err
    assert "that the ledger does not give" in err
    assert "projection_heads, project KTP-0043: no row is stored; the ledger gives" in err


def test_edited_project_facts_are_named_and_missing_ones_are_not_drift(recorded: App) -> None:
    """The portfolio's health facts (`project_facts`, issue 16) are compared as JSON: an edited
    figure is named; a project with no facts yet (the upgrade that added them, before `replay`) is
    no drift, since readers fold it."""
    with recorded.database.engine.connect() as connection:
        stored = connection.execute(
            text(f"SELECT facts FROM project_facts WHERE project = '{PROJECT}'")
        ).scalar_one()
    facts = json.loads(stored)
    assert facts["grant_claimed"] == "0" and facts["latest_spend"] == "2025-02-15"
    facts["latest_spend"] = "2025-01-15"
    edited = json.dumps(facts).replace("'", "''")
    edit(recorded, f"UPDATE project_facts SET facts = '{edited}' WHERE project = '{PROJECT}'")
    code, out, err = verify(recorded)
    assert code == 1
    assert f"error: project_facts, project {PROJECT}: facts is" in err
    assert "1 projection row(s) differ" in out
    edit(recorded, "DELETE FROM project_facts")
    code, out, err = verify(recorded)
    assert code == 0, err
