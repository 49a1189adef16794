"""`ktpledger serve` under a loopback flood (issue 11, item 4): a real server process with small
limits, so each limit shows within a second or two.

The limits (README.md, "A bounded server"): at most 50 open connections, 1 s to send a request
head, 1 s of keep-alive, a 4 KiB head, a 64 KiB body taking at most 2 s to arrive, and 128 KiB of
POST /events bodies in memory at once (two of 60 KiB), a third waiting at most 0.5 s for its turn.
A connection closed while its client may still be sending lingers (server.LINGER_SECONDS, 2 s, and
at most the body limit read and dropped).
"""

from __future__ import annotations

import json
import resource
import select
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ktpledger.bootstrap import bootstrap
from ktpledger.service.access import create_token
from ktpledger.service.schema import upgrade
from ktpledger.settings import Settings
from tests.api.served import Served, closed_within, connect, head, read_reply, request

pytestmark = pytest.mark.slow

CAP = 50
LIMITS = {
    "KTPLEDGER_MAX_CONNECTIONS": str(CAP),
    "KTPLEDGER_HEAD_TIMEOUT": "1",
    "KTPLEDGER_KEEP_ALIVE_TIMEOUT": "1",
    "KTPLEDGER_MAX_HEAD_BYTES": "4096",
    "KTPLEDGER_MAX_BODY_BYTES": str(64 * 1024),
    "KTPLEDGER_BODY_TIMEOUT": "2",
    "KTPLEDGER_BODY_BUDGET_BYTES": str(128 * 1024),
    "KTPLEDGER_BODY_WAIT": "0.5",
}
SLACK = 1.5  # seconds on top of a timeout before a test calls the server late
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
FD_SLACK = 8  # sockets a busy moment may add (connections being accepted or closed)


class Server:
    def __init__(self, served: Served, token: str) -> None:
        self.served, self.token = served, token
        self.port = served.port
        self.idle_sockets = 0

    def health(self) -> int:
        return request(self.port, "GET", "/health", timeout=5).status

    def settle(self) -> int:
        """Wait until the server holds no more sockets than when idle (connections of an earlier
        test closed); returns the count. Sockets, not every descriptor: the database pool's own
        files grow and shrink with the load of earlier tests."""
        deadline = time.monotonic() + 10
        while self.served.sockets() > self.idle_sockets and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.served.sockets()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("served")
    url = f"sqlite:///{folder}/ledger.db"
    application = bootstrap(Settings(database_url=url))
    upgrade(application.database)
    token = create_token(application.database, "admin", None, "flood tests")
    application.close()
    served = Served(url, folder / "serve.log", environment=LIMITS).start()
    running = Server(served, token)
    try:
        assert running.health() == 200  # opens the database pool: count descriptors after it
        time.sleep(0.3)
        running.idle_sockets = served.sockets()
        yield running
    finally:
        served.stop()


def open_idle(port: int, count: int) -> list[socket.socket]:
    return [connect(port) for _ in range(count)]


def close_all(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


def test_health_answers_while_more_half_open_connections_than_the_cap_are_open(server: Server) -> None:
    idle = server.settle()
    flood = open_idle(server.port, 3 * CAP)
    try:
        time.sleep(0.3)
        assert server.served.sockets() <= idle + CAP + FD_SLACK
        started = time.monotonic()
        assert server.health() == 200
        assert time.monotonic() - started < 1.0
        assert server.served.sockets() <= idle + CAP + FD_SLACK
        assert "at the connection cap (KTPLEDGER_MAX_CONNECTIONS, 50)" in server.served.output()
    finally:
        close_all(flood)


def test_connections_that_send_nothing_are_closed_after_the_head_timeout(server: Server) -> None:
    server.settle()
    quiet = open_idle(server.port, 10)
    try:
        for sock in quiet:
            closed, sent = closed_within(sock, 1 + SLACK)
            assert closed and sent == b""  # nothing asked, nothing answered
    finally:
        close_all(quiet)


def test_a_partial_head_is_closed_after_the_head_timeout_with_408(server: Server) -> None:
    server.settle()
    with connect(server.port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no blank line: never ends
        closed, sent = closed_within(sock, 1 + SLACK)
        assert closed
        assert sent.startswith(b"HTTP/1.1 408 ")


def test_a_head_trickled_byte_by_byte_is_closed_after_the_head_timeout(server: Server) -> None:
    """Slowloris: each byte arrives well within any idle timeout, the head never ends in time."""
    server.settle()
    with connect(server.port) as sock:
        started = time.monotonic()
        for byte in b"GET /health HTTP/1.1\r\nX-Slow: " + b"a" * 100:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the server read a trickled head for 12 s")
        assert time.monotonic() - started < 1 + SLACK


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(server: Server) -> None:
    server.settle()
    with connect(server.port) as sock:
        sock.sendall(head("GET", "/health"))
        assert read_reply(sock).status == 200
        sock.sendall(head("GET", "/health"))  # the connection is reused ...
        assert read_reply(sock).status == 200
        closed, _ = closed_within(sock, 1 + SLACK)  # ... until it idles past the keep-alive timeout
        assert closed


def test_a_head_over_the_limit_is_431(server: Server) -> None:
    server.settle()
    for sent_whole in (True, False):
        with connect(server.port) as sock:
            big = head("GET", "/health", {"X-Padding": "p" * 5000})
            if sent_whole:
                sock.sendall(big)
            else:  # in pieces, so the server sees an incomplete head grow past the limit
                for start in range(0, len(big), 1000):
                    sock.sendall(big[start : start + 1000])
                    time.sleep(0.02)
            reply = read_reply(sock)
            assert reply.status == 431, reply
            assert closed_within(sock, SLACK)[0]


def test_a_body_declared_over_the_limit_is_413_before_it_is_sent(server: Server) -> None:
    server.settle()
    for path, headers in (
        ("/events", {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}),
        ("/dashboard/login", FORM),
        ("/health", {}),
    ):
        with connect(server.port) as sock:
            sock.sendall(head("POST", path, {**headers, "Content-Length": str(64 * 1024 + 1)}))
            reply = read_reply(sock)  # answered without a byte of the body
            assert reply.status == 413, (path, reply)
            assert json.loads(reply.body)["error"]["rule"] == "R-30"
            assert closed_within(sock, SLACK)[0]


def test_a_chunked_body_over_the_limit_is_413(server: Server) -> None:
    server.settle()
    with connect(server.port) as sock:
        sock.sendall(
            head(
                "POST",
                "/events",
                {"Authorization": f"Bearer {server.token}", "Transfer-Encoding": "chunked"},
            )
        )
        try:
            for _ in range(5):
                sock.sendall(b"4000\r\n" + b" " * 0x4000 + b"\r\n")  # 5 x 16 KiB: past 64 KiB
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert read_reply(sock).status == 413


def test_a_body_that_does_not_arrive_in_time_is_408(server: Server) -> None:
    server.settle()
    with connect(server.port) as sock:
        sock.sendall(head("POST", "/dashboard/login", {**FORM, "Content-Length": "1000"}) + b"token=")
        started = time.monotonic()
        reply = read_reply(sock)
        assert reply.status == 408
        assert 1.5 < time.monotonic() - started < 2 + SLACK
        assert closed_within(sock, SLACK)[0]


def test_a_body_left_unread_closes_the_connection(server: Server) -> None:
    """A route that answers without reading the body (GET with a body): the connection is not kept
    alive for the rest of the body (the server ends its side; see the lingering tests below)."""
    server.settle()
    with connect(server.port) as sock:
        sock.sendall(head("GET", "/health", {"Content-Length": "60000"}) + b"x" * 100)
        assert read_reply(sock).status == 200
        closed, _ = closed_within(sock, SLACK)
        assert closed


def answered(sock: socket.socket) -> None:
    """Wait until the server's response has reached `sock` (left unread)."""
    readable, _, _ = select.select([sock], [], [], 10)
    assert readable, "no response within 10 s"


def sent_until_cut(sock: socket.socket, piece: bytes, most: int, pause: float) -> int | None:
    """Send `piece` up to `most` times, `pause` seconds apart: how many went before the server cut
    the connection (a reset, or a broken pipe after one), or None if all of them went."""
    for sent in range(most):
        try:
            sock.sendall(piece)
        except (ConnectionResetError, BrokenPipeError):
            return sent
        time.sleep(pause)
    return None


def test_a_body_still_coming_after_its_refusal_is_read_and_dropped_not_reset(server: Server) -> None:
    """POST /events without a token is answered 401 after its head, before its body is read. A
    client that goes on sending the body (nginx sends the whole of it) must be able to, then read
    the 401: a server that closes at once with the body still arriving has the kernel reset the
    connection, and a send fails (nginx answered 502 instead of the 401)."""
    server.settle()
    size, piece = 60 * 1024, b" " * 4096
    with connect(server.port) as sock:
        sock.sendall(
            head("POST", "/events", {"Content-Type": "application/json", "Content-Length": str(size)})
        )
        answered(sock)  # the server is done with the request: the body is yet to come
        assert sent_until_cut(sock, piece, size // len(piece), 0.01) is None  # sent whole, slowly
        reply = read_reply(sock)
        assert reply.status == 401
        assert json.loads(reply.body)["error"]["rule"]
        assert sock.recv(1) == b""  # then the server's end of file, not a reset


def test_a_lingering_close_reads_no_more_than_the_body_limit(server: Server) -> None:
    """A client that sends for ever after its answer is cut off once past the body limit (64 KiB):
    16 KiB every 5 ms, well within the 2 s a lingering close lasts."""
    server.settle()
    with connect(server.port) as sock:
        sock.sendall(head("POST", "/events", {"Transfer-Encoding": "chunked"}))
        answered(sock)
        piece = b"4000\r\n" + b" " * 0x4000 + b"\r\n"
        cut = sent_until_cut(sock, piece, 64, 0.005)  # 1 MiB at most
        assert cut is not None, "1 MiB was read after the response"
        assert cut >= 4  # the first 64 KiB were read (a close at once cuts the second piece)
        assert read_reply(sock).status == 401  # what came before the reset is still read


def test_a_lingering_close_lasts_no_longer_than_its_time(server: Server) -> None:
    """A client that trickles a body after its answer (1 KiB every 0.1 s: never past the body
    limit) is cut off once the lingering close's 2 s are over, well before 5 s of it."""
    server.settle()
    with connect(server.port) as sock:
        sock.sendall(head("POST", "/events", {"Transfer-Encoding": "chunked"}))
        answered(sock)
        piece = b"400\r\n" + b" " * 0x400 + b"\r\n"
        cut = sent_until_cut(sock, piece, 50, 0.1)
        assert cut is not None, "still read after 5 s"
        assert cut >= 3  # it was read a while (a close at once cuts the second piece)


def events_head(token: str, size: int) -> bytes:
    return head(
        "POST",
        "/events",
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Content-Length": str(size)},
    )


def test_parallel_large_bodies_past_the_budget_get_503_with_retry_after(server: Server) -> None:
    server.settle()
    size = 60 * 1024
    body = b"[" + b" " * (size - 2) + b"]"  # an empty list: records nothing
    holding = [connect(server.port) for _ in range(2)]
    try:
        for sock in holding:  # two bodies of 60 KiB: the 128 KiB budget is taken ...
            sock.sendall(events_head(server.token, size) + body[:1000])
        time.sleep(0.3)
        started = time.monotonic()
        third = request(server.port, "POST", "/events", body, {"Authorization": f"Bearer {server.token}"})
        waited = time.monotonic() - started
        assert third.status == 503, third  # ... the third waited its 0.5 s and was turned away
        assert third.headers["retry-after"].isdigit()
        assert json.loads(third.body)["error"]["rule"] == "capacity"
        assert 0.4 < waited < 0.5 + SLACK
        small = request(server.port, "POST", "/events", b"[]", {"Authorization": f"Bearer {server.token}"})
        assert small.status == 200  # a small body still fits in what is left of the budget
        for sock in holding:  # the two held bodies finish and are answered
            sock.sendall(body[1000:])
            assert read_reply(sock).status == 200
    finally:
        close_all(holding)
    after = request(server.port, "POST", "/events", body, {"Authorization": f"Bearer {server.token}"})
    assert after.status == 200  # their share of the budget came back


def test_at_the_cap_with_every_connection_busy_a_new_one_gets_503(server: Server) -> None:
    """Connections mid-request are never evicted: at the cap with all of them busy (bodies still
    arriving), a new connection is answered 503 at once and closed."""
    idle = server.settle()
    busy = [connect(server.port) for _ in range(CAP)]
    try:
        for sock in busy:
            sock.sendall(head("POST", "/dashboard/login", {**FORM, "Content-Length": "100"}) + b"token=")
        time.sleep(0.5)
        reply = request(server.port, "GET", "/health")
        assert reply.status == 503
        assert json.loads(reply.body)["error"]["rule"] == "capacity"
        assert server.served.sockets() <= idle + CAP + FD_SLACK
    finally:
        close_all(busy)
    deadline = time.monotonic() + 5
    while server.health() != 200:  # the closed connections are gone within a moment
        assert time.monotonic() < deadline
    assert server.settle() <= server.idle_sockets  # and so are their descriptors


def file_limit(soft: int, hard: int) -> Callable[[], None]:
    def lower() -> None:  # in the child, before exec
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return lower


def open_files_limit(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no Max open files line")


def test_serve_raises_its_soft_open_files_limit_to_the_hard_limit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    served = Served(url, tmp_path / "serve.log", preexec=file_limit(256, 4096)).start()
    try:
        assert open_files_limit(served.pid) == (4096, 4096)
        assert "1000 connections (open-files limit 4096)" in served.output()
    finally:
        served.stop()


def test_a_flood_past_the_open_files_limit_leaves_health_answering(tmp_path: Path) -> None:
    """The campaign's failure, small: a process allowed 600 descriptors and a flood of 800 idle
    connections. The cap (1000 by default) comes down to 600 - 406 = 194, so the descriptors never
    run out and /health is still answered."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    served = Served(url, tmp_path / "serve.log", preexec=file_limit(600, 600)).start()
    flood: list[socket.socket] = []
    try:
        assert request(served.port, "GET", "/health").status == 200
        for _ in range(800):
            try:
                flood.append(connect(served.port, timeout=2))
            except OSError:
                break
        time.sleep(0.5)
        assert served.fds() <= 194 + 20
        assert request(served.port, "GET", "/health", timeout=3).status == 200
        assert "Too many open files" not in served.output()
        assert "serving at most 194 connections" in served.output()
    finally:
        close_all(flood)
        served.stop()
