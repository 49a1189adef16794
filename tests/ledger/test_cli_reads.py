"""Read commands never create, migrate or deliver (issue 10, A and B).

Only `db upgrade`, `record`, `demo`, `serve`, `token create|revoke` and `replay` may create or
migrate a database; a read builds its App with `bootstrap(read_only=True)`: no notifiers, no
delivery thread, no wake-up, and a ledger that refuses appends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from ktpledger.adapters.tables import notifications
from ktpledger.bootstrap import App, bootstrap
from ktpledger.cli import root as cli
from ktpledger.service.ledger import ReadOnlyLedger
from ktpledger.service.schema import current_revision, head_revision, migrate
from ktpledger.service.wakeup import Asleep
from ktpledger.settings import Settings
from tests.ledger.factory import PROJECT, claim, offer

READS = [
    ["allowances", PROJECT],
    ["alerts"],
    ["alerts", PROJECT],
    ["events", PROJECT],
    ["reconcile", PROJECT],
    ["claim-pack", PROJECT, "--quarter", "2025Q1"],
    ["profile", PROJECT],
    ["verify"],
    ["token", "list"],
    ["notifications"],
    ["notifications", "--status", "failed"],
    ["system-alerts"],
    ["projection", "status"],
    ["checkpoint"],
    ["projects"],
    ["projects", "--format", "json"],
]
READ_IDS = [" ".join(read) for read in READS]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.app, list(args))
    return result.exit_code, result.stdout, result.stderr


# --- A: no database is created or migrated by a read -----------------------------------------------


@pytest.mark.parametrize("read", READS, ids=READ_IDS)
def test_a_read_of_a_missing_sqlite_file_is_an_error_and_leaves_no_file(
    tmp_path: Path, read: list[str]
) -> None:
    path = tmp_path / "nothing-here.db"
    url = f"sqlite:///{path}"
    code, out, err = run("--db", url, *read)
    assert (code, out) == (1, "")
    assert err == (
        f"error: there is no ledger at {path} ({url}): record events there first "
        "(`ktpledger record FILE`) or run `ktpledger db upgrade`; or read another with --db or "
        "KTPLEDGER_DATABASE_URL\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("read", READS, ids=READ_IDS)
def test_a_read_in_an_empty_folder_does_not_make_the_default_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KTPLEDGER_DATABASE_URL", raising=False)
    code, _, err = run(*read)
    assert code == 1
    assert f"there is no ledger at {tmp_path / 'ktpledger.db'} (sqlite:///ktpledger.db)" in err
    assert list(tmp_path.iterdir()) == []


def test_a_write_still_makes_the_embedded_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    code, _, _ = run("--db", url, "record", "-")
    assert code == 0 and (tmp_path / "new.db").exists()
    assert run("--db", url, "alerts") == (0, "no open alerts\n", "")


@pytest.mark.parametrize("read", READS, ids=READ_IDS)
def test_a_read_never_migrates_an_old_schema(database_url: str, read: list[str]) -> None:
    application = bootstrap(Settings(database_url=database_url))
    try:
        migrate(application.database, "upgrade", "head")
        migrate(application.database, "downgrade", "-1")  # one migration short of head
        before = current_revision(application.database)
        assert before is not None and before != head_revision()
        code, _, err = run("--db", database_url, *read)
        assert code == 1
        assert err == (
            f"error: the database at {database_url} is not at the current ktpledger schema: run "
            "`ktpledger db upgrade` first\n"
        )
        assert current_revision(application.database) == before
    finally:
        application.close()


# --- B: a read delivers nothing --------------------------------------------------------------------


def test_a_read_only_app_has_no_delivery_no_wakeup_and_cannot_append(sqlite_url: str) -> None:
    run("--db", sqlite_url, "db", "upgrade")
    application = bootstrap(Settings(database_url=sqlite_url), read_only=True)
    try:
        assert application.read_only
        assert application.delivery is None
        assert application.notifiers == {}
        assert isinstance(application.wakeup, Asleep)
        with pytest.raises(ReadOnlyLedger):
            application.ledger.append([offer()])
        assert application.ledger.projects() == []
    finally:
        application.close()


@pytest.mark.parametrize("read", READS, ids=READ_IDS)
def test_every_read_command_builds_a_read_only_app(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, read: list[str]
) -> None:
    assert run("--db", sqlite_url, "record", "-")[0] == 0
    built: list[bool] = []

    def recording_bootstrap(settings: Settings, **options: Any) -> App:
        built.append(bool(options.get("read_only")))
        return bootstrap(settings, **options)

    monkeypatch.setattr(cli, "bootstrap", recording_bootstrap)
    run("--db", sqlite_url, *read)
    assert built == [True]
    run("--db", sqlite_url, "record", "-")
    assert built == [True, False]


def pending_outbox(url: str) -> list[tuple[int, str, str]]:
    application = bootstrap(Settings(database_url=url), read_only=True)
    try:
        with application.database.read() as connection:
            rows = connection.execute(
                select(notifications.c.alert_id, notifications.c.channel, notifications.c.status)
            )
            return [tuple(row) for row in rows]
    finally:
        application.close()


class Unwoken:
    """A wake-up that does nothing: the events are recorded, the projection is caught up by hand."""

    def projects_changed(self, projects: set[str]) -> None:
        return None


def test_a_read_leaves_pending_notifications_pending_and_prints_no_alert(sqlite_url: str) -> None:
    run("--db", sqlite_url, "db", "upgrade")
    writer = bootstrap(Settings(database_url=sqlite_url, notify_channels=("log",)), wakeup=Unwoken())
    try:
        # consumables has a budget of 4,000: 3,500 of spend is 87.5% of it, over the 80% threshold;
        # with the default even profile (166.67 a month) the plan after January is 4,000 x 20/24 =
        # 3,333.33, so 3,500 + 3,333.33 = 6,833.33 by the end: a forecast overspend. The
        # claim is dated 2025-01-15, so the ledger's clock has passed 2024Q4's end, when 0.00 was spent
        # against 4,000 x 3/24 = 500.00 planned: more than 10% (and 100.00) behind, behind_profile.
        results = writer.ledger.append([offer(), claim("c1", "3500.00")])
        assert [result.status for result in results] == ["recorded", "recorded"]
        [caught_up] = writer.projector.catch_up_many([PROJECT])
        raised = sorted(caught_up.raised)
        assert len(raised) == 3  # raised, not yet delivered: no delivery ran
    finally:
        writer.close()
    pending = [(alert_id, "log", "pending") for alert_id in raised]
    assert pending_outbox(sqlite_url) == pending
    environment = {name: value for name, value in os.environ.items() if not name.startswith("KTPLEDGER_")}
    environment["KTPLEDGER_NOTIFY"] = "log"
    for read in (
        ["allowances", PROJECT],
        ["alerts"],
        ["alerts", PROJECT, "--format", "json"],
        ["reconcile", PROJECT],
        ["claim-pack", PROJECT, "--quarter", "2025Q1"],
        ["profile", PROJECT],
        ["notifications"],
        ["system-alerts", "--all"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "ktpledger.cli", "--db", sqlite_url, *read],
            capture_output=True,
            text=True,
            env=environment,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr == "", done.stderr  # the log channel would print "alert 1 project=..."
        assert pending_outbox(sqlite_url) == pending
    alerts = json.loads(
        subprocess.run(
            [sys.executable, "-m", "ktpledger.cli", "--db", sqlite_url, "alerts", "--format", "json"],
            capture_output=True,
            text=True,
            env=environment,
            check=True,
        ).stdout
    )
    recorded = [alert for alert in alerts if alert["id"] is not None]  # the recorded alerts, by id
    assert sorted(alert["id"] for alert in recorded) == raised
    assert sorted(alert["kind"] for alert in recorded) == [
        "behind_profile",
        "forecast_overspend",
        "threshold",
    ]
