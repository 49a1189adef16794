"""PostgreSQL restarted mid-stream (`pg_ctl restart -m immediate`, a crash as far as clients can tell),
on a private cluster of the test's own so the shared server is never touched.

While the database is down an append fails as a whole and says so (the API with 503, the command line
with exit 1 and no traceback); the writer retries with the same idempotency keys, so after the restart
every event is in the ledger exactly once, every chain verifies and the projections, caught up, equal a
replay of the ledger alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ktpledger.adapters.errors import DatabaseUnavailable
from ktpledger.api.app import create_app
from ktpledger.bootstrap import App, bootstrap
from ktpledger.service.access import create_token
from ktpledger.service.projections import comparable
from ktpledger.service.schema import upgrade
from ktpledger.settings import Settings
from tests.conftest import free_port, unavailable
from tests.ledger.factory import claim, offer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
KTPLEDGER = str(Path(sys.executable).parent / "ktpledger")
PROJECTS = [f"KTP-R{n}" for n in range(4)]
CLAIMS_PER_PROJECT = 30


def postgres_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


class Cluster:
    """A throwaway PostgreSQL cluster on a loopback port, run as the `postgres` user when we are root
    (initdb refuses root)."""

    def __init__(self, bindir: Path, folder: Path, port: int) -> None:
        self.bindir, self.folder, self.port = bindir, folder, port
        self.data = folder / "data"

    def _run(self, *command: str) -> None:
        argv = list(command)
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust")

    def pg_ctl(self, *arguments: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "server.log"),
            "-w",
            *arguments,
        )

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    bindir = postgres_bin()
    if bindir is None:
        unavailable("PostgreSQL's server programs (initdb, pg_ctl)", FileNotFoundError("pg_ctl"))
    assert bindir is not None
    folder = Path(tempfile.mkdtemp(prefix="ktpledger-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    running = Cluster(bindir, folder, free_port())
    try:
        running.init()
        running.pg_ctl("start")
    except (subprocess.CalledProcessError, OSError) as error:
        shutil.rmtree(folder, ignore_errors=True)
        unavailable("a private PostgreSQL cluster", error)
    try:
        yield running
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            running.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def app(cluster: Cluster) -> Iterator[App]:
    application = bootstrap(Settings(database_url=cluster.url))
    upgrade(application.database)
    yield application
    application.close()


def submissions() -> list[list[dict[str, Any]]]:
    """The stream a writer sends, in appends of a few events, interleaving the projects."""
    batches: list[list[dict[str, Any]]] = [[offer(project) for project in PROJECTS]]
    for n in range(CLAIMS_PER_PROJECT):
        batches.append(
            [
                claim(f"c{n}", "150.00", project=project, date=f"2025-{1 + n % 12:02d}-10")
                for project in PROJECTS
            ]
        )
    return batches


def append_until_done(app: App, batch: list[dict[str, Any]], failures: list[str]) -> None:
    """Append `batch`, retrying (same keys) while the database is away; a retry after a lost
    acknowledgement finds its events as duplicates, never records them twice."""
    deadline = time.monotonic() + 60
    while True:
        try:
            results = app.ledger.append(batch)
        except DatabaseUnavailable as error:
            failures.append(type(error).__name__)
            assert time.monotonic() < deadline, "the database did not come back in 60 s"
            time.sleep(0.1)
            continue
        assert {result.status for result in results} <= {"recorded", "duplicate"}, results
        return


def test_a_restart_mid_stream_loses_and_doubles_nothing(app: App, cluster: Cluster) -> None:
    batches = submissions()
    failures: list[str] = []
    restart_at = {len(batches) // 3, 2 * len(batches) // 3}
    for number, batch in enumerate(batches):
        if number in restart_at:
            cluster.pg_ctl("stop", "-m", "immediate")
            # Down: an append is refused as a whole (the writer sees it and retries) ...
            with pytest.raises(DatabaseUnavailable):
                app.ledger.append(batch)
            failures.append("down")
            cluster.pg_ctl("start")
        append_until_done(app, batch, failures)
    assert failures, "the restarts were never seen by the writer"

    stream = {project: app.ledger.stream(project) for project in PROJECTS}
    for project, events in stream.items():
        keys = [item.key for item in events]
        assert len(keys) == len(set(keys)) == 1 + CLAIMS_PER_PROJECT, project  # 0 lost, 0 doubled
        assert [item.version for item in events] == list(range(1, len(events) + 1))
    assert app.ledger.verify() == (len(PROJECTS) * (1 + CLAIMS_PER_PROJECT), None)

    # A catch-up that met the restart is redone by the next wake-up (the sweeper's job with workers).
    for project in app.projector.lagging():
        app.projector.catch_up(project)
    assert app.projector.behind() == 0
    incremental = (
        {project: app.projector.allowances(project).to_json()["lines"] for project in PROJECTS},
        comparable(app.projector.alerts(include_resolved=True)),
    )
    consumables = {line["category"]: line for line in incremental[0][PROJECTS[0]]}["consumables"]
    assert consumables["spent"] == "4500.00"  # 30 claims of 150.00
    app.projector.replay()
    replayed = (
        {project: app.projector.allowances(project).to_json()["lines"] for project in PROJECTS},
        comparable(app.projector.alerts(include_resolved=True)),
    )
    assert replayed == incremental


def test_while_the_database_is_down_the_api_says_503_and_the_cli_exits_1(
    app: App, cluster: Cluster, tmp_path: Path
) -> None:
    token = create_token(app.database, "admin", None, "restart test")
    headers = {"Authorization": f"Bearer {token}"}
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"type": "GrantOffered", "project": "KTP-X", "key": "o", "date": "2024-09-02", "data": {}}\n'
    )
    with TestClient(create_app(app)) as client:
        assert client.get("/health").status_code == 200
        cluster.pg_ctl("stop", "-m", "immediate")
        try:
            health = client.get("/health")
            assert health.status_code == 503, health.text
            assert health.json()["error"]["rule"] == "database"
            posted = client.post("/events", json=offer("KTP-X"), headers=headers)
            # The token cannot even be looked up: the whole request is a clean 503, nothing recorded.
            assert posted.status_code == 503, posted.text
            done = subprocess.run(
                [KTPLEDGER, "--db", cluster.url, "record", str(events)],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 1, done.stderr
            assert "cannot use the database" in done.stderr
            assert "Traceback" not in done.stderr
        finally:
            cluster.pg_ctl("start")
        assert client.get("/health").status_code == 200
        again = client.post("/events", json=offer("KTP-X"), headers=headers)
        assert again.status_code == 200, again.text
        assert again.json()[0]["status"] == "recorded"
