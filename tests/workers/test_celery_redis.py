"""Real Redis, real PostgreSQL, real `ktpledger worker` processes (issue 4, item 8)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ktpledger.bootstrap import App, bootstrap
from ktpledger.service.projections import comparable
from ktpledger.service.schema import upgrade
from ktpledger.settings import Settings
from tests.ledger.factory import claim, offer, reversal
from tests.workers.worker_process import KTPLEDGER, Worker

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def services(postgres_url: str, redis_url: str) -> Iterator[App]:
    """An app whose appends go to Redis, on a migrated PostgreSQL schema."""
    application = bootstrap(Settings(database_url=postgres_url, broker_url=redis_url))
    upgrade(application.database)
    yield application
    application.close()


@pytest.fixture
def worker(services: App, tmp_path: Path) -> Iterator[Worker]:
    running = Worker(
        services.settings.database_url,
        str(services.settings.broker_url),
        tmp_path / "worker.log",
        options=("-c", "2"),
    )
    yield running
    running.stop()


def converge(app: App, *, timeout: float = 60.0, sweep: bool = False) -> None:
    """Wait until every projection has reached the ledger's head."""
    deadline = time.monotonic() + timeout
    next_sweep = 0.0
    while app.projector.behind() > 0:
        assert time.monotonic() < deadline, f"projections still {app.projector.behind()} events behind"
        if sweep and time.monotonic() > next_sweep:
            app.wakeup.app.send_task("ktpledger.sweep")  # type: ignore[attr-defined]
            next_sweep = time.monotonic() + 2.0
        time.sleep(0.05)


def snapshot(app: App, projects: list[str]) -> tuple[Any, ...]:
    lines = {p: app.projector.allowances(p).to_json()["lines"] for p in projects}
    return json.dumps(lines, sort_keys=True), comparable(app.projector.alerts(include_resolved=True))


def story(project: str) -> list[dict[str, Any]]:
    items = [offer(project)]
    items += [claim(f"c{i}", "450.00", project=project, date=f"2025-{1 + i % 9:02d}-15") for i in range(12)]
    items += [reversal("r1", "c1", "100.00", project=project, date="2025-11-01")]
    return items


def test_workers_project_what_the_api_appends(services: App, worker: Worker) -> None:
    worker.start()
    projects = [f"KTP-{n}" for n in range(5)]
    for project in projects:
        results = services.ledger.append(story(project))
        assert {r.status for r in results} == {"recorded"}
    converge(services)
    incremental = snapshot(services, projects)
    assert any(a["kind"] == "over_budget" for a in services.projector.alerts())
    services.projector.replay()
    assert snapshot(services, projects) == incremental


def test_a_worker_killed_mid_stream_converges_after_restart(services: App, worker: Worker) -> None:
    worker.start()
    projects = [f"KTP-{n}" for n in range(20)]
    for project in projects[:10]:
        services.ledger.append(story(project))
    worker.kill()  # SIGKILL, pool and all, while messages are in flight
    for project in projects[10:]:
        services.ledger.append(story(project))
    worker.start()
    converge(services, sweep=True)  # messages lost with the worker are found by the sweeper
    incremental = snapshot(services, projects)
    services.projector.replay()
    assert snapshot(services, projects) == incremental


def test_record_wait_returns_once_workers_have_caught_up(
    services: App, worker: Worker, tmp_path: Path
) -> None:
    worker.start()
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(item) for item in story("KTP-W")))
    environment = {**os.environ, "KTPLEDGER_BROKER_URL": str(services.settings.broker_url)}
    url = services.settings.database_url
    done = subprocess.run(
        [KTPLEDGER, "--db", url, "record", str(events), "--wait"],
        env=environment,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    shown = subprocess.run(
        [KTPLEDGER, "--db", url, "allowances", "KTP-W", "--format", "json"],
        env=environment,
        capture_output=True,
        timeout=60,
        check=True,
    )
    lines = {line["category"]: line for line in json.loads(shown.stdout)["lines"]}
    assert lines["consumables"]["spent"] == "5300.00"  # 12 x 450 - 100


def test_worker_without_a_broker_is_a_usage_error(sqlite_url: str) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "KTPLEDGER_BROKER_URL"}
    done = subprocess.run(
        [KTPLEDGER, "--db", sqlite_url, "worker"],
        env=environment,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and b"KTPLEDGER_BROKER_URL" in done.stderr


def test_a_worker_delivers_what_its_catch_ups_raise(services: App, worker: Worker) -> None:
    """The alerts a worker's catch-up raises are delivered by that worker, on a thread of its own
    (workers/tasks.py `RaisedDeliveries`), not by a task queued behind the catch-ups: every
    notification of the over-budget alert is delivered without a `deliver_due` run."""
    from sqlalchemy import select

    from ktpledger.adapters.tables import notifications

    worker.start()
    results = services.ledger.append(story("KTP-7"))
    assert {r.status for r in results} == {"recorded"}
    converge(services)
    [over] = [a for a in services.projector.alerts() if a["kind"] == "over_budget"]
    deadline = time.monotonic() + 30
    while True:  # bounded: 30 s
        with services.database.read() as connection:
            statuses = (
                connection.execute(
                    select(notifications.c.status).where(notifications.c.alert_id == over["id"])
                )
                .scalars()
                .all()
            )
        if statuses and set(statuses) == {"delivered"}:
            break
        assert time.monotonic() < deadline, f"notifications of alert {over['id']}: {statuses}"
        time.sleep(0.1)
