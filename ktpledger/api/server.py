"""`ktpledger serve`: uvicorn (httptools, on uvloop's event loop) with the connection limits it lacks.

uvicorn bounds the keep-alive idle time (and, with h11 only, the size of an unfinished request
head: `h11_max_incomplete_event_size`), but not the number of open connections (its
`limit_concurrency` answers 503 only once a request head has arrived, so connections that send
nothing pile up until the process runs out of file descriptors) nor the time a connection may take
to send its head (a connection that sends nothing, or a byte now and then, is kept for ever).
`GuardedConnection` adds these, over uvicorn's httptools protocol (`server_httptools.py`; h11's
where httptools cannot be imported), bounds an unfinished head itself, and closes a connection whose response went out before its body was read (uvicorn
would otherwise go on reading and discarding that body for as long as it keeps coming), closing
it lingering when its client may still be sending:

- at most `cap` open connections. At the cap a new connection takes the place of the one that has
  waited longest for a request head (nothing sent yet, part of a head, or idle between requests),
  which is closed; if every open connection is mid-request, the new one is answered 503 and closed.
  So a flood of idle connections never locks out a client that sends its request at once.
- a head must arrive whole within `head_timeout` seconds of the connection opening (or of the
  first byte of a next request on a kept-alive connection): else the connection is closed, with a
  408 if part of a head came.
- a head that grows past `max_head_bytes` before it ends is answered 431 (a whole head past the
  limit is refused by `limits.RequestLimits`): llhttp (httptools) has no such bound of its own.
- a lingering close: a connection closed while its client may still be sending (a response before
  its request's body was read, a 400 or 431 for its head) first shuts its write side (the response,
  then end of file), then reads and drops what still comes until the client ends, `LINGER_SECONDS`
  pass or `max_body_bytes` came, and only then closes. A socket closed with data unread, or with
  data still arriving, makes the kernel answer with a reset, and a client still sending fails on
  it: nginx, sending a body the API had refused with a 401 before reading it, answered 502. At the
  cap a lingering connection is the first closed to make room.

The soft RLIMIT_NOFILE is raised to the hard limit at start, and the cap lowered if the
descriptors left after `FD_HEADROOM` (database pool, SQLite files, the broker, logs, static files)
cannot hold it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import resource
import signal
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ktpledger.serve_settings import ServeLimits, variable

log = logging.getLogger("uvicorn.error")  # where uvicorn logs, as it configures it

# How many connections the event loop accepts in one go: asyncio accepts up to this many at each
# turn of the loop before any of them reaches `connection_made` (where the cap is applied), and a
# connection closed there lets go of its descriptor a few turns later.
BACKLOG = 64
# With several workers on one listening socket, each accepts one connection a turn of its loop:
# every worker is woken by a new connection, and one accepting a batch would take a whole burst
# (32 keep-alive clients connecting at once all went to one worker of two, the other idle). One at
# a time, a busy worker comes back to accept later than an idle one, which so takes more.
FORKED_ACCEPT_BATCH = 1
# The kernel's queue of connections not yet accepted (they hold no descriptor of this process):
# deep, so that a burst waits there rather than having its SYNs dropped (a 1 s retry each).
LISTEN_QUEUE = 2048
# Descriptors kept free of connections: those in transit (a few turns' worth of BACKLOG), the
# listening socket, the event loop's, stdio, the database pool (PostgreSQL: SQLAlchemy's 5 + 10
# overflow; SQLite: three files a connection, one connection per worker thread, 40 threads), the
# broker's connections, log and static files.
FD_HEADROOM = 4 * BACKLOG + 150
GRACEFUL_SHUTDOWN = 30  # seconds requests in progress get to finish at SIGTERM
# How long a lingering close reads and drops what its client still sends (Apache's is 2 s): long
# enough for a client on the same network, or the proxy in front, to read the response it was
# sent, and short, as the connection holds its place under the cap meanwhile.
LINGER_SECONDS = 2.0
REPORT_EVERY = 10.0  # seconds between two warnings that the connection cap is reached
# What uvicorn writes in one turn of the event loop is written at its end in one go (`ClosedThrough`)
# up to this many bytes: a larger write goes at once, under the transport's flow control.
COALESCE_BYTES = 65536


def raise_fd_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError) as error:
            log.warning("could not raise the open-files limit from %d to %d: %s", soft, wanted, error)
    return soft


def connection_cap(wanted: int, fd_limit: int) -> int:
    """The connections a process with `fd_limit` descriptors may hold: `wanted`, or fewer so that
    `FD_HEADROOM` stay free (at least one, to answer anything at all)."""
    return max(1, min(wanted, fd_limit - FD_HEADROOM))


def refusal(
    status: int, reason: str, rule: str, message: str, headers: dict[str, str] | None = None
) -> bytes:
    """A whole HTTP/1.1 response in the API's error shape that closes the connection."""
    body = json.dumps({"error": {"rule": rule, "message": message}}).encode()
    lines = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class ConnectionGuard:
    """The open connections of one server, and which of them linger after their response or wait
    for a request head (oldest first): those are the ones a new connection may take the place of,
    lingering ones first (they have had their answer)."""

    cap: int
    limits: ServeLimits

    def __post_init__(self) -> None:
        self.open: set[GuardedConnection] = set()
        self.waiting: OrderedDict[GuardedConnection, None] = OrderedDict()
        self.lingering: OrderedDict[GuardedConnection, None] = OrderedDict()
        self.evicted = 0  # since the last report
        self.refused = 0
        self.reported = -REPORT_EVERY
        self.full = refusal(
            503,
            "Service Unavailable",
            "capacity",
            f"the server holds as many connections as it may ({variable('max_connections')}, "
            f"{self.cap}), all of them busy; try again shortly",
            {"retry-after": "1"},
        )

    def admit(self, protocol: GuardedConnection) -> bool:
        if len(self.open) >= self.cap:
            evictable = self.lingering or self.waiting
            if not evictable:
                self.refused += 1
                self._report()
                return False
            oldest, _ = evictable.popitem(last=False)
            self.open.discard(oldest)
            self.evicted += 1
            self._report()
            oldest.evict()
        self.open.add(protocol)
        return True

    def _report(self) -> None:
        """A warning at most every REPORT_EVERY seconds while the cap is reached (a flood would
        otherwise write a line a connection)."""
        now = time.monotonic()
        if now - self.reported < REPORT_EVERY:
            return
        log.warning(
            "at the connection cap (%s, %d): %d connections lingering after their response or "
            "waiting for a request head closed and %d refused (503) to make room since the last "
            "report",
            variable("max_connections"),
            self.cap,
            self.evicted,
            self.refused,
        )
        self.reported, self.evicted, self.refused = now, 0, 0

    def await_head(self, protocol: GuardedConnection) -> None:
        self.waiting[protocol] = None
        self.waiting.move_to_end(protocol)

    def head_received(self, protocol: GuardedConnection) -> None:
        self.waiting.pop(protocol, None)

    def linger(self, protocol: GuardedConnection) -> None:
        self.waiting.pop(protocol, None)
        self.lingering[protocol] = None

    def release(self, protocol: GuardedConnection) -> None:
        self.open.discard(protocol)
        self.waiting.pop(protocol, None)
        self.lingering.pop(protocol, None)


class GuardedConnection(asyncio.Protocol):
    """What a uvicorn HTTP protocol does under a `ConnectionGuard` (see the module's docstring),
    whichever parser it runs: a subclass says, from its parser, whether the client is sending a
    request head (`_reading_head`), a body its request has not finished (`_reading_body`), or
    something the parser gave up on (`_failed`). A server gets its own subclass with its guard
    (`protocol_for`)."""

    guard: ClassVar[ConnectionGuard]
    if TYPE_CHECKING:  # uvicorn's protocol, after this class in the method resolution order
        transport: asyncio.Transport
        loop: asyncio.AbstractEventLoop

        def _unset_keepalive_if_required(self) -> None: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._admitted = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0  # bytes received since the request head began
        self._socket: asyncio.Transport | None = None  # the connection itself, not uvicorn's view of it
        self._linger_timer: asyncio.TimerHandle | None = None
        self._lingered: int | None = None  # bytes read and dropped since the lingering close began
        self._head_ended = False  # a request head ended in the data being read (set by a subclass)

    def _reading_head(self) -> bool:
        raise NotImplementedError

    def _reading_body(self) -> bool:
        raise NotImplementedError

    def _failed(self) -> bool:
        raise NotImplementedError

    # uvicorn's protocols narrow asyncio's BaseTransport to Transport here, and ignore it as we do.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if not self.guard.admit(self):
            self.transport = transport
            transport.write(self.guard.full)
            transport.close()
            return
        self._admitted = True
        self._socket = transport
        # uvicorn closes the transport itself in several places (after a response with `Connection:
        # close`, a 400, an error): it is given one whose close() comes here, to close lingering.
        super().connection_made(ClosedThrough(transport, self._close, self.loop))
        self._await_head()
        self._arm_head_timer()  # a new connection's clock runs from its opening, not its first byte

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._admitted:
            return
        self.guard.release(self)
        self._cancel_head_timer()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingered is not None:  # closing: what comes is dropped, up to a bound
            self._lingered += len(data)
            if self._lingered > self.guard.limits.max_body_bytes:
                self._close_now()
            return
        if self._reading_head():  # part of a request head
            self._head_bytes += len(data)
            if self._head_timer is None:  # a next request on a kept-alive connection begins
                self._arm_head_timer()
        self._head_ended = False
        super().data_received(data)
        # A head ended in this data (a whole request may come at once, and its parser be reading
        # the next head already), or the parser is past it.
        if self._head_ended or not self._reading_head():
            self._head_done()
        elif self._head_bytes > self.guard.limits.max_head_bytes and not self.transport.is_closing():
            self._head_too_large()

    def on_response_complete(self) -> None:
        if not self.transport.is_closing() and self._reading_body():
            # Answered before its body was read (a refusal, or a route that takes no body): the
            # rest of the body is not worth reading, so the connection is not kept.
            self.transport.close()
        super().on_response_complete()  # type: ignore[misc]  # uvicorn's, next in line
        if not self.transport.is_closing() and self._reading_head():
            self._await_head()  # kept alive: uvicorn's keep-alive timer runs until a byte comes

    def send_400_response(self, msg: str) -> None:
        if self._head_bytes > self.guard.limits.max_head_bytes:  # h11 gave up on a growing head
            self._head_too_large()
            return
        super().send_400_response(msg)  # type: ignore[misc]  # uvicorn's, next in line

    def _head_too_large(self) -> None:
        limit = self.guard.limits.max_head_bytes
        self._refuse(
            refusal(
                431,
                "Request Header Fields Too Large",
                "http",
                f"a request head (request line and headers) is at most {limit} bytes",
            )
        )

    def evict(self) -> None:
        """Make room for a new connection: this one is only waiting for a request head, or lingering."""
        self._cancel_head_timer()
        self.transport.abort()

    def _close(self) -> None:
        """Close the connection: lingering if its client may still be sending a request it was
        answered (see the module's docstring), at once if not: it sent all of it, or nothing of a
        next one, or a head too slowly (408: a client that cannot send a head in time gets no more
        time to read its answer, so a slow head holds a connection no longer than the head timeout)."""
        assert self._socket is not None  # connection_made came first
        may_be_sending = (
            self._reading_body()  # answered before the body was all read
            or self._failed()  # a request the parser gave up on (400, 431), perhaps still coming
        )
        if not may_be_sending or self._socket.is_closing():
            self._close_now()
            return
        self._lingered = 0
        self._cancel_head_timer()
        self._unset_keepalive_if_required()
        self.guard.linger(self)
        # The client reads an end of file after the response (asyncio sends the rest of it first),
        # and closes in turn, which closes this side too (uvicorn's eof_received asks asyncio to).
        # TLS has no half-close: its client knows where the response ends anyway.
        if self._socket.can_write_eof():
            self._socket.write_eof()
        # Reading paused by uvicorn's flow control (a body the app did not read) would stop the
        # client's sending, and the reset would only come later.
        self._socket.resume_reading()
        self._linger_timer = self.loop.call_later(LINGER_SECONDS, self._close_now)

    def _close_now(self) -> None:
        assert self._socket is not None
        self._socket.close()

    def _await_head(self) -> None:
        self._head_bytes = 0
        self.guard.await_head(self)

    def _head_done(self) -> None:
        self._cancel_head_timer()
        self._head_bytes = 0
        self.guard.head_received(self)

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.guard.limits.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_bytes == 0:  # nothing asked: nothing to answer
            self.transport.close()
            return
        limit = self.guard.limits.head_timeout
        self._refuse(
            refusal(
                408,
                "Request Timeout",
                "http",
                f"the request head did not arrive within {limit:g} s ({variable('head_timeout')})",
            )
        )

    def _refuse(self, response: bytes) -> None:
        self._unset_keepalive_if_required()
        self.transport.write(response)
        self.transport.close()


class GuardedH11Protocol(GuardedConnection, H11Protocol):
    """uvicorn's h11 protocol (pure Python) under a `ConnectionGuard`: h11 bounds an unfinished
    head itself (`h11_max_incomplete_event_size`), and answers 400 past it, which becomes the 431."""

    def _reading_head(self) -> bool:
        return self.conn.their_state is h11.IDLE

    def _reading_body(self) -> bool:
        return self.conn.their_state is h11.SEND_BODY

    def _failed(self) -> bool:
        return self.conn.their_state is h11.ERROR


class ClosedThrough(asyncio.Transport):
    """A transport as uvicorn is given it: every call passed on to `transport`, but close() calls
    `close` (once), which decides how to close it. It is closing from then on, to uvicorn.

    What uvicorn writes in one turn of the event loop goes out in one write at the end of that turn
    (`COALESCE_BYTES` at most): uvicorn writes a response's head and its body apart, and each write
    to a socket is a system call that also wakes the client, about a tenth of the server's CPU for
    a small response. Anything pending is written before the connection is closed or half-closed."""

    def __init__(
        self, transport: asyncio.Transport, close: Callable[[], None], loop: asyncio.AbstractEventLoop
    ) -> None:
        super().__init__()
        self._transport = transport
        self._close = close
        self._closing = False
        self._loop = loop
        self._pending: list[bytes | bytearray | memoryview] = []
        self._pending_bytes = 0

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self.flush()
            self._close()

    def is_closing(self) -> bool:
        return self._closing or self._transport.is_closing()

    def abort(self) -> None:
        self._closing = True
        self._pending, self._pending_bytes = [], 0
        self._transport.abort()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= COALESCE_BYTES:  # a large body: the transport's flow control applies
            self.flush()

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        """Write what is pending, in one write."""
        if not self._pending:
            return
        pending = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending, self._pending_bytes = [], 0
        if not self._transport.is_closing():
            self._transport.write(pending)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._pending_bytes

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()


class DeepQueueServer(uvicorn.Server):
    """uvicorn's server whose listening sockets get a `LISTEN_QUEUE`-deep kernel queue once they
    listen: asyncio uses one number for the queue and for its accept batch (`BACKLOG`)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        for server in getattr(self, "servers", []):
            for listening in server.sockets:
                with socket.socket(fileno=os.dup(listening.fileno())) as same:
                    same.listen(LISTEN_QUEUE)  # the same socket: listen() again sets its queue


def protocol_for(guard: ConnectionGuard) -> type[GuardedConnection]:
    """A protocol class bound to `guard` (uvicorn builds one protocol object per connection):
    httptools' (a dependency), h11's where httptools cannot be imported."""
    base: type[GuardedConnection]
    try:
        from ktpledger.api.server_httptools import GuardedHttpToolsProtocol
    except ImportError:
        log.warning("httptools cannot be imported: serving with h11 (pure Python, more CPU a request)")
        base = GuardedH11Protocol
    else:
        base = GuardedHttpToolsProtocol
    return type(base.__name__, (base,), {"guard": guard})


def event_loop() -> str:
    """uvicorn's name for the event loop `serve` runs: uvloop's (a dependency: about 5% less CPU a
    POST /events than asyncio's), asyncio's where uvloop cannot be imported (a platform without a
    wheel for it), which serves the same requests."""
    try:
        import uvloop  # noqa: F401  # only whether it imports
    except ImportError:
        log.warning("uvloop cannot be imported: serving on asyncio's event loop (more CPU a request)")
        return "asyncio"
    return "uvloop"


def run(
    app: Any,
    *,
    host: str,
    port: int,
    limits: ServeLimits,
    log_level: str = "info",
    workers: int = 1,
    in_each_worker: Callable[[], None] | None = None,
) -> None:
    """Serve `app` on host:port under `limits` until SIGINT or SIGTERM; with `workers` above 1, in
    that many processes forked from this one, sharing its listening socket (`serve_forked`), each
    running `in_each_worker` first."""
    fd_limit = raise_fd_limit()
    guard = ConnectionGuard(connection_cap(limits.max_connections, fd_limit), limits)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=False,
        loop=event_loop(),
        http=protocol_for(guard),
        timeout_keep_alive=limits.keep_alive_timeout,  # type: ignore[arg-type]  # seconds: a float works
        h11_max_incomplete_event_size=limits.max_head_bytes,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
        backlog=BACKLOG if workers <= 1 else FORKED_ACCEPT_BATCH,
    )
    announce(guard, fd_limit, logging.getLogger("uvicorn.error"))  # configured by uvicorn.Config
    if workers <= 1:
        DeepQueueServer(config).run()
        return
    serve_forked(config, listening_socket(host, port), workers, in_each_worker)


def listening_socket(host: str, port: int) -> socket.socket:
    """The socket every worker accepts on, bound here once (uvicorn's workers listen on it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # Listening already: a connection made while the workers start waits in the queue, never refused.
    sock.listen(LISTEN_QUEUE)
    sock.set_inheritable(True)
    return sock


def serve_forked(
    config: uvicorn.Config, sock: socket.socket, workers: int, in_each_worker: Callable[[], None] | None
) -> None:
    """`workers` processes forked from this one, each serving on `sock` (the kernel hands each new
    connection to one of them); this process waits for them. SIGTERM or SIGINT here is passed on
    to each, which finishes its requests in progress (`GRACEFUL_SHUTDOWN`); a worker that dies
    stops the others, so the service's supervisor (systemd, Docker) restarts the whole."""
    log = logging.getLogger("uvicorn.error")
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # a worker: serve until stopped, and never return into the parent's code
            code = 0
            try:
                if in_each_worker is not None:
                    in_each_worker()
                DeepQueueServer(config).run(sockets=[sock])
            except BaseException:
                log.exception("worker %d failed", os.getpid())
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    log.info("serving with %d worker processes: %s", workers, ", ".join(map(str, children)))
    # uvicorn says where it listens only when it binds the socket itself: said here, in its words.
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    log.info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", shown, port)
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    running = set(children)
    died = False
    while running:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        running.discard(pid)
        if not stopping:
            log.error("worker %d stopped (status %d): stopping the others", pid, status)
            died = True
            stop(signal.SIGTERM, None)
    sock.close()
    if died:
        raise SystemExit(1)  # a supervisor restarts the service


def announce(guard: ConnectionGuard, fd_limit: int, logger: logging.Logger) -> None:
    limits = guard.limits
    if guard.cap < limits.max_connections:
        logger.warning(
            "%s is %d but the open-files limit is %d: serving at most %d connections (%d descriptors "
            "kept for the database and files); raise the hard limit (ulimit -Hn) to allow more",
            variable("max_connections"),
            limits.max_connections,
            fd_limit,
            guard.cap,
            FD_HEADROOM,
        )
    logger.info(
        "limits: %d connections (open-files limit %d), head %d bytes in %g s, keep-alive %g s, "
        "body %d bytes in %g s, bodies in memory %d bytes (a body waits %g s for its turn)",
        guard.cap,
        fd_limit,
        limits.max_head_bytes,
        limits.head_timeout,
        limits.keep_alive_timeout,
        limits.max_body_bytes,
        limits.body_timeout,
        limits.body_budget,
        limits.body_wait,
    )
