"""`ktpledger serve --workers N` (issue 18, item 3): N processes forked from one, sharing its port
and the one ledger; SIGTERM to the parent stops them all, and a worker that dies stops the others
(exit 1, for the service's supervisor to restart it). Real processes on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.api.served import KTPLEDGER, Served
from tests.ledger.factory import offer


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def request(port: int, method: str, path: str, token: str, body: object = None) -> tuple[int, object]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # a new connection each time
    try:
        payload = None if body is None else json.dumps(body)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def token(url: str) -> str:
    made = subprocess.run(
        [KTPLEDGER, "--db", url, "token", "create", "--role", "admin", "--format", "json"],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return str(json.loads(made.stdout)["token"])


def wait_gone(pids: list[int], timeout: float = 40.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # bounded
        if not any(Path(f"/proc/{pid}").exists() for pid in pids):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def url(tmp_path: Path) -> str:
    database = f"sqlite:///{tmp_path / 'ledger.db'}"
    subprocess.run(
        [KTPLEDGER, "--db", database, "db", "upgrade"], capture_output=True, check=True, timeout=120
    )
    return database


def test_two_workers_serve_one_ledger_and_stop_with_their_parent(url: str, tmp_path: Path) -> None:
    key = token(url)
    served = Served(url, tmp_path / "serve.log", arguments=("--workers", "2")).start()
    try:
        workers = children_of(served.pid)
        assert len(workers) == 2, served.output()
        assert f"serving with 2 worker processes: {workers[0]}, {workers[1]}" in served.output()
        status, body = request(served.port, "POST", "/events", key, [offer("KTP-W")])
        assert status == 200, body
        # Each request on a connection of its own: whichever worker takes it reads the same ledger.
        for _ in range(12):  # bounded
            status, listed = request(served.port, "GET", "/projects", key)
            assert status == 200 and [row["project"] for row in listed] == ["KTP-W"]  # type: ignore[union-attr]
        os.kill(served.pid, signal.SIGTERM)  # the parent only: it passes the signal on
        assert served.process is not None and served.process.wait(40) == 0
        assert wait_gone(workers), served.output()
    finally:
        served.stop()


def test_a_worker_that_dies_stops_the_others_and_the_parent_says_so(url: str, tmp_path: Path) -> None:
    served = Served(url, tmp_path / "serve.log", arguments=("--workers", "2")).start()
    try:
        workers = children_of(served.pid)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        assert served.process is not None and served.process.wait(40) == 1
        assert wait_gone(workers)
        assert f"worker {workers[0]} stopped" in served.output()
    finally:
        served.stop()


def test_workers_out_of_range_are_a_usage_error(url: str) -> None:
    for bad in ("0", "65", "two"):
        done = subprocess.run(
            [KTPLEDGER, "--db", url, "serve", "--workers", bad], capture_output=True, timeout=120, check=False
        )
        assert done.returncode == 2 and b"--workers" in done.stderr
