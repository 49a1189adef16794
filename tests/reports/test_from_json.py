"""The statements' read models read back from their JSON (`from_json`): the demo's statements
round-trip, render the same either way, and a malformed document is refused naming its field."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from typer.testing import CliRunner

from ktpledger.bootstrap import bootstrap
from ktpledger.cli import app as cli
from ktpledger.demo_story import PROJECT
from ktpledger.reports import FORMATS, render
from ktpledger.service.pack_models import ClaimPack
from ktpledger.service.statement_models import ReconciliationStatement
from ktpledger.service.statements import quarter_pack, reconciliation_statement
from ktpledger.settings import Settings
from tests.reports.conftest import Documents

DemoStatements = tuple[ReconciliationStatement, list[ClaimPack]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStatements]:
    """The demo's reconciliation and the claim pack of every quarter of its project."""
    folder = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{folder}/ktpledger.db"
    result = CliRunner().invoke(cli, ["--db", url, "demo", "--reports", str(folder / "reports")])
    assert result.exit_code == 0, result.output
    app = bootstrap(Settings(database_url=url))
    try:
        statement = reconciliation_statement(app.database, PROJECT, checkpoints=app.checkpoints)
        terms = statement.terms
        quarters = sorted({_quarter(year, month) for year, month in _months(terms.start, terms.end)})
        packs = [quarter_pack(app.database, PROJECT, q, checkpoints=app.checkpoints) for q in quarters]
        yield statement, packs
    finally:
        app.close()


def _months(start: date, end: date) -> Iterator[tuple[int, int]]:
    """(year, month) of every month from `start` to `end`."""
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _quarter(year: int, month: int) -> str:
    return f"{year}Q{(month - 1) // 3 + 1}"


def test_the_demo_statements_round_trip(demo: DemoStatements) -> None:
    statement, packs = demo
    assert statement.final and statement.findings and statement.lines
    assert ReconciliationStatement.from_json(statement.to_json()) == statement
    assert ReconciliationStatement.from_json(json.loads(json.dumps(statement.to_json()))) == statement
    assert len(packs) >= 8
    assert any(pack.alerts_open_at_quarter_end for pack in packs)
    assert any(pack.eligible_added for pack in packs)
    for pack in packs:
        assert ClaimPack.from_json(pack.to_json()) == pack, pack.quarter
        assert ClaimPack.from_json(json.loads(json.dumps(pack.to_json()))) == pack, pack.quarter


def test_a_statement_read_back_renders_as_the_one_made(demo: DemoStatements) -> None:
    statement, packs = demo
    for made in (statement, packs[0], packs[-1]):
        again = type(made).from_json(made.to_json())
        for fmt in FORMATS:
            assert render(again, fmt) == render(made, fmt), fmt


def test_a_json_document_is_not_a_statement(lifecycle: Documents) -> None:
    with pytest.raises(ValueError, match="ReconciliationStatement or a ClaimPack"):
        render(lifecycle[0], "csv")  # type: ignore[arg-type]


def broken(document: dict[str, Any], path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    """A copy of `document` with the field at `path` set to `value` (or removed, for `...`)."""
    copied = copy.deepcopy(document)
    holder: Any = copied
    for step in path[:-1]:
        holder = holder[step]
    if value is ...:
        del holder[path[-1]]
    else:
        holder[path[-1]] = value
    return copied


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("lines", 1, "claimed"), "abc", r"lines\[1\]\.claimed: 'abc' is not a decimal number"),
        (("grant_paid",), 12.5, r"grant_paid: expected a decimal string, got 12\.5"),
        (("balance_due",), "NaN", r"balance_due: 'NaN' is not a finite number"),
        (("totals", "grant"), ..., r"totals\.grant: missing"),
        (("ledger", "position"), "7", r"ledger\.position: expected a whole number, got '7'"),
        (("closed_on",), "2027-13-01", r"closed_on: '2027-13-01' is not an ISO date"),
        (("lines", 0, "category"), "nope", r"lines\[0\]\.category: 'nope' is not one of"),
        (("lines", 0, "changes", 0, "amount"), None, r"lines\[0\]\.changes\[0\]\.amount: expected a decimal"),
        (("final",), "yes", r"final: expected true or false"),
        (("checkpoint", "chain_head"), "x", r"checkpoint: `chain_head` must be"),
        (("grant_rate",), ..., "not a reconciliation document: it has no grant_rate"),
    ],
)
def test_a_malformed_reconciliation_names_its_field(
    lifecycle: Documents, path: tuple[str | int, ...], value: object, message: str
) -> None:
    document = lifecycle[0]
    assert document["lines"][0]["changes"], "the first line has an LMC change to break"
    with pytest.raises(ValueError, match=message):
        ReconciliationStatement.from_json(broken(document, path, value))


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("claim", "grant"), "1,000.00", r"claim\.grant: '1,000\.00' is not a decimal number"),
        (("from",), None, r"from: expected an ISO date, got None"),
        (("lines", 2, "forecast"), ..., r"lines\[2\]\.forecast: missing"),
        (
            ("alerts_open_at_quarter_end", 0, "detail"),
            "x",
            r"alerts_open_at_quarter_end\[0\]\.detail: expected",
        ),
        (
            ("claim", "grant_added"),
            {},
            r"claim\.grant_added: expected the categories of claim\.eligible_added",
        ),
        (
            ("claim", "eligible_added"),
            {"bread": "1.00"},
            r"claim\.eligible_added\.bread: 'bread' is not one of",
        ),
    ],
)
def test_a_malformed_claim_pack_names_its_field(
    lifecycle: Documents, path: tuple[str | int, ...], value: object, message: str
) -> None:
    pack = lifecycle[1]
    assert pack["alerts_open_at_quarter_end"] and pack["claim"]["eligible_added"]
    with pytest.raises(ValueError, match=message):
        ClaimPack.from_json(broken(pack, path, value))


def test_a_document_that_is_no_object_is_refused() -> None:
    with pytest.raises(ValueError, match="a claim_pack document must be a JSON object, got list"):
        ClaimPack.from_json([])
