"""Documents made from real ledgers (SQLite), once per module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ktpledger.bootstrap import bootstrap
from ktpledger.reports import Statement
from ktpledger.service.pack_models import ClaimPack
from ktpledger.service.schema import upgrade
from ktpledger.service.statement_models import ReconciliationStatement
from ktpledger.settings import Settings
from tests.reports import scenarios

Documents = tuple[dict[str, Any], dict[str, Any]]


def statement(kind: str, document: dict[str, Any]) -> Statement:
    """The `kind` document ("reconciliation" or "claim_pack") read back into its read model."""
    if kind == "claim_pack":
        return ClaimPack.from_json(document)
    return ReconciliationStatement.from_json(document)


def _documents(
    directory: Path, events: Callable[[], list[dict[str, Any]]], quarter: str
) -> Iterator[Documents]:
    app = bootstrap(Settings(database_url=f"sqlite:///{directory}/r.db"))
    upgrade(app.database)
    try:
        scenarios.record(app, events())
        yield scenarios.documents(app, "KTP-0042", quarter)
    finally:
        app.close()


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Documents]:
    """(reconciliation, claim pack 2025Q1) of the example project's whole life."""
    yield from _documents(tmp_path_factory.mktemp("lifecycle"), scenarios.lifecycle, "2025Q1")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Documents]:
    """(reconciliation, claim pack 2025Q1) of a project whose texts try to break the reports."""
    yield from _documents(tmp_path_factory.mktemp("hostile"), scenarios.hostile, "2025Q1")


@pytest.fixture(scope="module")
def open_non_fec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Documents]:
    """(statement so far, claim pack 2024Q4) of an open non-fec project."""
    yield from _documents(tmp_path_factory.mktemp("open"), scenarios.open_non_fec, "2024Q4")


@pytest.fixture(scope="module")
def many_scripts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Documents]:
    """(statement so far, claim pack 2025Q1) of a project whose texts are in many scripts."""
    yield from _documents(tmp_path_factory.mktemp("scripts"), scenarios.many_scripts, "2025Q1")
