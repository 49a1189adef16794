"""A bounded fault test (issue 11, "Done when"): a writer appends a fixed stream of events across a
few projects while one of two `ktpledger worker` processes is killed with SIGKILL and Redis is
killed and started again (and killed once more for the stream's end); then the killed worker comes
back, Redis too, the sweeper runs until the projections have caught up, and

- every submitted key is in the ledger exactly once (0 lost, 0 doubled), with the figures worked
  out by hand (40 claims of 75.00 a project: 3,000.00 spent, over the 2,500.00 travel budget);
- no append failed because Redis was down (a wake-up is told to no one, never raised);
- the projection rows equal a replay from the ledger alone.

Redis is a `redis-server` of the test's own on a free loopback port, so it can be killed: once
without persistence (every queued wake-up is lost with it) and once with `--appendonly yes`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ktpledger.bootstrap import App, bootstrap
from ktpledger.service.projections import comparable
from ktpledger.service.schema import upgrade
from ktpledger.settings import Settings
from tests.conftest import free_port, unavailable
from tests.ledger.factory import claim, offer
from tests.workers.worker_process import Worker

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]
KTPLEDGER = str(Path(sys.executable).parent / "ktpledger")
PROJECTS = [f"KTP-F{n}" for n in range(4)]
CLAIMS = 40  # a project; 160 appends in all, one event each
AMOUNT = Decimal("75.00")
# The stream's faults, by the number of claims appended when each happens. Redis goes down a
# second time for the stream's last ten appends: their wake-ups are never sent, and no later append
# repeats them, so only the sweeper can find that work.
KILL_WORKER, KILL_REDIS, START_REDIS, RESTART_WORKER, KILL_REDIS_AGAIN = 40, 70, 76, 110, 150


@dataclass
class Redis:
    """A redis-server of the test's own, killed and started again on the same port and folder."""

    folder: Path
    appendonly: bool
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always"]
        command += ["--dir", str(self.folder), "--logfile", str(self.folder / "redis.log")]
        self.process = subprocess.Popen(command, start_new_session=True)
        deadline = time.monotonic() + 20
        while not self.answers():
            assert self.process.poll() is None, (self.folder / "redis.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "redis-server did not start in 20 s"
            time.sleep(0.05)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@dataclass
class Stream:
    """What the writer submitted and what each append said, and how long appends took."""

    submitted: list[tuple[str, str]] = field(default_factory=list)  # (project, key)
    failures: list[str] = field(default_factory=list)
    slowest_while_down: float = 0.0

    def append(self, app: App, event: dict[str, Any], *, redis_down: bool) -> None:
        self.submitted.append((event["project"], event["key"]))
        started = time.monotonic()
        try:
            [result] = app.ledger.append([event])
        except Exception as error:  # noqa: BLE001 - an append that raised is exactly what must not happen
            self.failures.append(f"{event['key']}: {type(error).__name__}: {error}")
            return
        if redis_down:
            self.slowest_while_down = max(self.slowest_while_down, time.monotonic() - started)
        if result.status != "recorded":
            self.failures.append(f"{event['key']}: {result.status} {result.to_json().get('error')}")


@pytest.fixture(params=[False, True], ids=["redis-without-persistence", "redis-appendonly"])
def redis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Redis]:
    if shutil.which("redis-server") is None:
        unavailable("redis-server (to run one that can be killed)", FileNotFoundError("redis-server"))
    folder = tmp_path / "redis"
    folder.mkdir()
    server = Redis(folder, appendonly=request.param)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def services(postgres_url: str, redis: Redis) -> Iterator[App]:
    application = bootstrap(Settings(database_url=postgres_url, broker_url=redis.url))
    upgrade(application.database)
    yield application
    application.close()


@pytest.fixture
def workers(services: App, redis: Redis, tmp_path: Path) -> Iterator[list[Worker]]:
    running = [
        Worker(services.settings.database_url, redis.url, tmp_path / f"worker-{n}.log") for n in range(2)
    ]
    yield running
    for worker in running:
        worker.stop()


def catch_up(app: App, timeout: float = 90.0) -> None:
    """Run the sweeper (the `ktpledger.sweep` task, as beat would) until no projection is behind."""
    deadline = time.monotonic() + timeout
    next_sweep = 0.0
    while app.projector.behind() > 0:
        assert time.monotonic() < deadline, f"projections still {app.projector.behind()} events behind"
        if time.monotonic() >= next_sweep:
            app.wakeup.app.send_task("ktpledger.sweep")  # type: ignore[attr-defined]
            next_sweep = time.monotonic() + 2.0
        time.sleep(0.1)


def projections(app: App) -> tuple[Any, ...]:
    lines = {project: app.projector.allowances(project).to_json()["lines"] for project in PROJECTS}
    return lines, comparable(app.projector.alerts(include_resolved=True))


def test_a_killed_worker_and_a_restarted_redis_lose_and_double_nothing(
    services: App, redis: Redis, workers: list[Worker]
) -> None:
    for worker in workers:
        worker.start()
    stream = Stream()
    for project in PROJECTS:
        stream.append(services, offer(project), redis_down=False)
    redis_down, appended = False, 0
    for number in range(CLAIMS):
        for project in PROJECTS:
            if appended == KILL_WORKER:
                workers[0].kill()  # SIGKILL, whatever it was doing
            elif appended == KILL_REDIS:
                redis.kill()  # queued and unacknowledged wake-ups go with it (kept with appendonly)
                redis_down = True
            elif appended == START_REDIS:
                redis.start()
                redis_down = False
            elif appended == RESTART_WORKER:
                workers[0].start()
            elif appended == KILL_REDIS_AGAIN:
                redis.kill()
                redis_down = True
            event = claim(f"claim-{number:03d}", str(AMOUNT), project=project, category="travel_subsistence")
            stream.append(services, event, redis_down=redis_down)
            appended += 1

    assert stream.failures == []  # no append failed, Redis down or not
    assert stream.slowest_while_down < 5.0  # a wake-up that cannot be sent costs time, bounded
    assert services.projector.behind() > 0  # the last appends' wake-ups were never sent
    redis.start()
    catch_up(services)

    # Every key exactly once: 0 lost, 0 doubled.
    recorded = Counter(
        (project, item.key) for project in PROJECTS for item in services.ledger.stream(project)
    )
    assert recorded == Counter(stream.submitted)
    assert set(recorded.values()) == {1} and len(recorded) == len(PROJECTS) * (CLAIMS + 1)

    live = projections(services)
    for project in PROJECTS:  # by hand: 40 x 75.00 = 3,000.00 on a 2,500.00 budget
        line = {item["category"]: item for item in live[0][project]}["travel_subsistence"]
        assert Decimal(line["spent"]) == CLAIMS * AMOUNT == Decimal("3000.00")
        assert Decimal(line["budget"]) == Decimal("2500.00")
    kinds = Counter(alert[2] for alert in live[1])
    assert kinds["over_budget"] == len(PROJECTS)  # raised once a project, not once a wake-up

    services.projector.replay()
    assert projections(services) == live
