"""`ktpledger serve` parses HTTP with httptools (llhttp, in C) under the connection guard, and with
h11 where httptools cannot be imported (and on asyncio's event loop where uvloop cannot); either way a request head is bounded (llhttp has no bound of
its own: the guard's 431 is it), and a whole request arriving at once is served."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from ktpledger.api.server import ConnectionGuard, GuardedH11Protocol, event_loop, protocol_for
from ktpledger.api.server_httptools import GuardedHttpToolsProtocol
from ktpledger.bootstrap import bootstrap
from ktpledger.serve_settings import ServeLimits
from ktpledger.service.access import create_token
from ktpledger.service.schema import upgrade
from ktpledger.settings import Settings
from tests.api.served import Served, closed_within, connect, head, read_reply, request

LIMIT = 4096


def test_the_server_parses_with_httptools() -> None:
    made = protocol_for(ConnectionGuard(10, ServeLimits()))
    assert issubclass(made, GuardedHttpToolsProtocol)


def served(folder: Path, environment: dict[str, str]) -> tuple[Served, str]:
    url = f"sqlite:///{folder}/ledger.db"
    application = bootstrap(Settings(database_url=url))
    upgrade(application.database)
    token = create_token(application.database, "admin", None, "parser tests")
    application.close()
    environment = {"KTPLEDGER_MAX_HEAD_BYTES": str(LIMIT), **environment}
    return Served(url, folder / "serve.log", environment=environment).start(), token


def check_heads_are_bounded_and_requests_served(server: Served, token: str) -> None:
    with connect(server.port) as sock:  # a head that never ends, in pieces: 431 once past the limit
        for _ in range(3 * LIMIT // 500):
            try:
                sock.sendall(b"GET /health HTTP/1.1\r\nX-Padding: " if _ == 0 else b"p" * 500)
            except OSError:
                break  # refused and closed already
            time.sleep(0.01)
        reply = read_reply(sock)
        assert reply.status == 431, reply
        assert closed_within(sock, 3.0)[0]
    body = b"[" + b" " * 60_000 + b"]"  # head and body sent at once: the head ends within the data
    posted = request(server.port, "POST", "/events", body, {"Authorization": f"Bearer {token}"})
    assert posted.status == 200, posted
    with connect(server.port) as sock:  # two requests on one kept-alive connection
        for _ in range(2):
            sock.sendall(head("GET", "/health", {}))
            assert read_reply(sock).status == 200


def test_httptools_bounds_an_unfinished_head_and_serves_whole_requests(tmp_path: Path) -> None:
    server, token = served(tmp_path, {})
    try:
        check_heads_are_bounded_and_requests_served(server, token)
    finally:
        server.stop()
    assert "serving with h11" not in server.output()


def test_the_server_runs_on_uvloop_when_it_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    assert event_loop() == "uvloop"
    monkeypatch.setitem(sys.modules, "uvloop", None)  # an import of it raises ImportError
    assert event_loop() == "asyncio"


def test_without_httptools_and_uvloop_the_server_falls_back_to_h11_on_asyncio(tmp_path: Path) -> None:
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    for module in ("httptools", "uvloop"):
        (hidden / f"{module}.py").write_text('raise ImportError("hidden by the test")\n')
    server, token = served(tmp_path, {"PYTHONPATH": str(hidden)})
    try:
        check_heads_are_bounded_and_requests_served(server, token)
    finally:
        server.stop()
    assert "httptools cannot be imported: serving with h11" in server.output()
    assert "uvloop cannot be imported: serving on asyncio's event loop" in server.output()
    assert GuardedH11Protocol.__mro__[1].__name__ == "GuardedConnection"
