"""What one request may take, whoever serves the app (`ktpledger serve`, a test client, another
ASGI server): its head's size, its body's size and the time its body has to arrive; and, for the
bodies the API parses (POST /events), how many bytes of them are read and parsed at once.

The connection-level limits (how many connections, how long a head may take, keep-alive) need the
server itself: they are in `ktpledger.api.server`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ktpledger.api.errors import ApiError, error_body
from ktpledger.serve_settings import ServeLimits, variable

CAPACITY = "capacity"  # the rule an error names when the server is full, not the request wrong
CLOSE = {"Connection": "close"}


def head_size(scope: Scope) -> int:
    """The bytes of a request head as sent, near enough: request line and header lines."""
    line = len(scope.get("method", "")) + len(scope.get("raw_path") or b"") + len(scope["query_string"]) + 12
    return line + sum(len(name) + len(value) + 4 for name, value in scope["headers"]) + 2


def declared_length(scope: Scope) -> int | None:
    """The Content-Length the request declares, or None (none, or chunked)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


class LimitExceeded(HTTPException):
    """A request past a limit, raised while its body is read. An HTTPException, so that FastAPI
    passes it on from the form and body parsing it wraps (errors.install renders it, with `rule`);
    it closes the connection, so what is left of the body is never read."""

    def __init__(self, status: int, rule: str, message: str) -> None:
        super().__init__(status, message, headers=dict(CLOSE))
        self.rule = rule


def too_large(limits: ServeLimits) -> LimitExceeded:
    return LimitExceeded(413, "R-30", f"a request body is at most {limits.max_body_bytes} bytes")


class RequestLimits:
    """Pure ASGI middleware: 431 for a head over `max_head_bytes`, 413 for a body declared or found
    over `max_body_bytes`, 408 for a body still arriving `body_timeout` seconds after the app
    first asked for it. Each refusal closes the connection (what is left of the body is not read).

    A head is judged as the server parsed it (the server itself refuses one that grows past the
    limit before it ends); a body is judged as the app reads it, so a route that never reads its
    body never waits for one."""

    def __init__(self, app: ASGIApp, limits: ServeLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = self.limits
        if head_size(scope) > limits.max_head_bytes:
            message = f"a request head (request line and headers) is at most {limits.max_head_bytes} bytes"
            await JSONResponse(error_body("http", message), 431, headers=CLOSE)(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared is not None and declared > limits.max_body_bytes:
            error = too_large(limits)
            await JSONResponse(error_body(error.rule, error.detail), 413, headers=CLOSE)(scope, receive, send)
            return
        await self.app(scope, BodyReader(receive, limits).receive, send)


class BodyReader:
    """A request's `receive`, counting the body's bytes against the limit and its time against
    `body_timeout` (from the first read)."""

    def __init__(self, receive: Receive, limits: ServeLimits) -> None:
        self._receive = receive
        self._limits = limits
        self._size = 0
        self._deadline: float | None = None  # the event loop's clock

    async def receive(self) -> Message:
        limits = self._limits
        if self._deadline is None:
            self._deadline = asyncio.get_running_loop().time() + limits.body_timeout
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            raise LimitExceeded(
                408,
                "http",
                f"the request body did not arrive within {limits.body_timeout:g} s "
                f"({variable('body_timeout')}); send it again",
            ) from None
        if message["type"] == "http.request":
            self._size += len(message.get("body", b""))
            if self._size > limits.max_body_bytes:
                raise too_large(limits)
        return message


class Busy(Exception):
    """No share of the body budget came free in time."""


class BodyBudget:
    """Bytes of request bodies read and parsed at once, at most `capacity`: a body takes its size
    (its Content-Length, or the largest body's size when it has none) before it is read and gives it
    back once its request is answered. Bodies wait in arrival order (a large one is not passed over
    for ever by small ones), each at most `wait` seconds; then `Busy`.

    Used from the event loop only (no locks): every change is between two awaits."""

    def __init__(self, capacity: int, wait: float) -> None:
        self.capacity = capacity
        self.wait = wait
        self.used = 0
        self._queue: deque[tuple[int, asyncio.Future[None]]] = deque()

    @asynccontextmanager
    async def share(self, size: int) -> AsyncIterator[None]:
        size = min(max(size, 0), self.capacity)
        await self._take(size)
        try:
            yield
        finally:
            self._give(size)

    async def _take(self, size: int) -> None:
        if not self._queue and self.used + size <= self.capacity:
            self.used += size
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (size, turn)
        self._queue.append(entry)
        try:
            async with asyncio.timeout(self.wait):
                await turn
        except BaseException as error:
            if turn.done() and not turn.cancelled():
                self._give(size)  # granted just as the wait ran out: hand the share on
            else:
                turn.cancel()
                self._queue.remove(entry)
                self._grant()  # those queued behind this one may fit now
            if isinstance(error, TimeoutError):
                raise Busy from None
            raise

    def _give(self, size: int) -> None:
        self.used -= size
        self._grant()

    def _grant(self) -> None:
        while self._queue and self.used + self._queue[0][0] <= self.capacity:
            size, turn = self._queue.popleft()
            self.used += size
            turn.set_result(None)


def busy(limits: ServeLimits) -> ApiError:
    retry = max(1, round(limits.body_wait))
    return ApiError(
        503,
        CAPACITY,
        f"the server is reading as many request bodies as it may ({variable('body_budget_bytes')}, "
        f"{limits.body_budget} bytes at once); send this one again in {retry} s",
        headers={"Retry-After": str(retry), **CLOSE},
    )


def budget_share(scope: Scope, limits: ServeLimits) -> int:
    """What a request's body takes of the budget: its declared length, else the largest body."""
    declared = declared_length(scope)
    return declared if declared is not None else limits.max_body_bytes


@asynccontextmanager
async def body_share(scope: Scope, app_state: Any) -> AsyncIterator[None]:
    """Read and handle a request's body within its share of the app's body budget (the routes
    that parse a body: `POST /events`, `POST /imports`); 503 `capacity` when none comes in time."""
    limits: ServeLimits = app_state.limits
    bodies: BodyBudget = app_state.bodies
    try:
        async with bodies.share(budget_share(scope, limits)):
            yield
    except Busy:
        raise busy(limits) from None


def install(app: Any, limits: ServeLimits) -> None:
    """Add the request limits to a FastAPI app and give it its body budget (`app.state.bodies`)."""
    app.add_middleware(RequestLimits, limits=limits)
    app.state.bodies = BodyBudget(limits.body_budget, limits.body_wait)
    app.state.limits = limits
