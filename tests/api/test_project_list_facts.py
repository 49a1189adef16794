"""The project list (`GET /projects`, `ktpledger projects`) read from the projector's stored facts
of each project's head (issue 18, item 3) is the list folded from the ledger, on both databases:
tests/api/demo.py's three projects (one part-way through with alerts open, a non-fec one and a
closed one), with an invoice to the business, judged on days before, during and after their
periods, when deadlines fall due and pass."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import pytest
from typer.testing import CliRunner

import ktpledger.service.project_summary as summary
from ktpledger.bootstrap import App
from ktpledger.cli import app as cli
from ktpledger.domain.health_facts import FACTS_FORMAT, HealthFacts, ListedFacts
from ktpledger.service.access import COMMAND_LINE
from ktpledger.service.stored_facts import (
    FactsCache,
    ListedFactsCache,
    current_facts,
    listed_facts_of,
)
from tests.api import demo

DAYS = ["2024-09-15", "2025-04-10", "2025-07-05", "2025-07-25", "2026-06-01", "2026-12-01"]


@pytest.fixture
def ledger(app: App, database_url: str, monkeypatch: pytest.MonkeyPatch) -> App:
    monkeypatch.delenv("KTPLEDGER_BROKER_URL", raising=False)
    results = app.ledger.append(demo.all_events())
    assert all(result.status == "recorded" for result in results), [r.to_json() for r in results]
    invoiced = CliRunner().invoke(
        cli,
        [
            "--db",
            database_url,
            "invoice",
            demo.MAIN,
            "--quarter",
            "2024Q4",
            "--date",
            "2025-01-10",
            "--number",
            "INV-1",
        ],
    )
    assert invoiced.exit_code == 0, invoiced.stderr
    app.projector.catch_up(demo.MAIN)
    return app


def listed(app: App, today: str) -> list[dict[str, object]]:
    return [row.to_json() for row in summary.project_list(app, COMMAND_LINE, today=date.fromisoformat(today))]


@pytest.mark.parametrize("today", DAYS)
def test_the_list_from_stored_facts_is_the_list_folded(
    ledger: App, today: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [demo.CLOSED, demo.MAIN, demo.SECOND]
    assert sorted(current_facts(ledger.database, names, FactsCache())) == names  # all read from facts
    assert sorted(listed_facts_of(ledger.database, heads(ledger, names), ListedFactsCache())) == names
    summary.LISTINGS.of(ledger.database).clear()
    from_facts = listed(ledger, today)
    monkeypatch.setattr(summary, "listed_facts_of", lambda *_, **__: {})
    summary.LISTINGS.of(ledger.database).clear()
    folded = listed(ledger, today)
    assert from_facts == folded
    assert [row["project"] for row in folded] == names


def test_facts_behind_the_head_or_of_a_quarantined_project_are_not_used(ledger: App) -> None:
    from ktpledger.adapters.projection_sql import projection_store

    names = [demo.CLOSED, demo.MAIN, demo.SECOND]
    expected = listed(ledger, "2025-07-25")
    with projection_store(ledger.database).write() as unit:
        [row] = unit.facts.of_projects([demo.MAIN])
        unit.facts.upsert([{**row, "version": row["version"] - 1}])
        [row] = unit.facts.of_projects([demo.SECOND])
        unit.facts.upsert([{**row, "facts": row["facts"].replace(f'"format":{FACTS_FORMAT}', '"format":1')}])
        unit.commit()
    assert sorted(current_facts(ledger.database, names, FactsCache())) == [demo.CLOSED]
    listed_now = listed_facts_of(ledger.database, heads(ledger, names), ListedFactsCache())
    assert sorted(listed_now) == [demo.CLOSED]
    summary.LISTINGS.of(ledger.database).clear()  # nothing kept: the facts are read again
    assert listed(ledger, "2025-07-25") == expected  # the other two folded, the same rows


def heads(app: App, names: list[str]) -> dict[str, int]:
    return {name: app.ledger.stream(name)[-1].version for name in names}


def test_parsed_facts_are_kept_by_project_and_version(ledger: App) -> None:
    cache = FactsCache(size=2)
    names = [demo.CLOSED, demo.MAIN, demo.SECOND]
    first = current_facts(ledger.database, names, cache)
    again = current_facts(ledger.database, names, cache)
    assert [again[name] is first[name] for name in names] == [False, True, True]  # two kept; one read
    assert again == first


def test_allowances_from_the_projection_alone_are_the_folded_ones(
    ledger: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`allowances` (current figures) reads the lines and the stored facts' end date and grant
    rate, not the stream; the same report as folding the stream (issue 18, item 3)."""
    import ktpledger.service.projection_queries as queries

    names = [demo.CLOSED, demo.MAIN, demo.SECOND]
    store = ledger.projector.projections.store
    assert all(queries.current_report(store, name) is not None for name in names)
    from_facts = [ledger.projector.allowances(name).to_json() for name in names]
    monkeypatch.setattr(queries, "current_report", lambda *_: None)
    assert [ledger.projector.allowances(name).to_json() for name in names] == from_facts


def test_allowances_fold_when_the_facts_are_not_of_the_head(ledger: App) -> None:
    from ktpledger.adapters.projection_sql import projection_store
    from ktpledger.service.projection_queries import current_report

    store = ledger.projector.projections.store
    with projection_store(ledger.database).write() as unit:
        [row] = unit.facts.of_projects([demo.MAIN])
        unit.facts.upsert([{**row, "version": row["version"] - 1}])
        unit.commit()
    assert current_report(store, demo.MAIN) is None
    assert ledger.projector.allowances(demo.MAIN).version == ledger.ledger.state(demo.MAIN).version


def test_the_listed_facts_are_the_stored_facts_fields(ledger: App) -> None:
    """`ListedFacts` reads its fields of the stored facts as `HealthFacts` reads them (a claimed
    quarter added: the demo submits no grant claim)."""
    from ktpledger.adapters.projection_sql import projection_store

    with projection_store(ledger.database).read() as unit:
        rows = unit.facts.of_projects([demo.CLOSED, demo.MAIN, demo.SECOND])
    assert len(rows) == 3
    invoiced = 0
    for row in rows:
        document = json.loads(row["facts"])
        document["claimed"] = [*document["claimed"], "2024Q4"]
        whole, listed_only = HealthFacts.from_json(document), ListedFacts.from_json(document)
        for field in dataclasses.fields(ListedFacts):
            assert getattr(listed_only, field.name) == getattr(whole, field.name), field.name
        assert listed_only.claimed_quarters() == whole.claimed_quarters() != frozenset()
        invoiced += len(listed_only.invoices)
    assert invoiced == 1  # INV-1 of the main project
