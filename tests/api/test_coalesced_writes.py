"""`server.ClosedThrough`: what uvicorn writes in one turn of the event loop goes out in one write
(a response's head and body apart cost a system call each), and nothing pending is lost or sent
out of order when the connection closes."""

from __future__ import annotations

import asyncio
from typing import Any

from ktpledger.api.server import COALESCE_BYTES, ClosedThrough


class Recorded(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.calls.append(("write", bytes(data)))

    def write_eof(self) -> None:
        self.calls.append(("eof", None))

    def close(self) -> None:
        self.closing = True
        self.calls.append(("close", None))

    def abort(self) -> None:
        self.closing = True
        self.calls.append(("abort", None))

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0


def test_writes_of_one_turn_go_out_as_one_at_its_end() -> None:
    async def scenario() -> tuple[list[Any], list[Any], int]:
        inner = Recorded()
        outer = ClosedThrough(inner, inner.close, asyncio.get_running_loop())
        outer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        outer.write(b"")
        outer.write(b"{}")
        during = list(inner.calls)
        pending = outer.get_write_buffer_size()
        await asyncio.sleep(0)
        return during, inner.calls, pending

    during, after, pending = asyncio.run(scenario())
    assert during == []  # nothing yet: more may come in this turn
    assert pending == 40  # counted for uvicorn's flow control meanwhile
    assert after == [("write", b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")]


def test_what_is_pending_goes_out_before_the_connection_closes_or_half_closes() -> None:
    async def scenario() -> tuple[list[Any], list[Any]]:
        loop = asyncio.get_running_loop()
        inner = Recorded()
        outer = ClosedThrough(inner, inner.close, loop)
        outer.write(b"answer")
        outer.close()
        half = Recorded()
        lingering = ClosedThrough(half, half.write_eof, loop)
        lingering.write(b"refused")
        lingering.write_eof()
        await asyncio.sleep(0)
        return inner.calls, half.calls

    closed, half_closed = asyncio.run(scenario())
    assert closed == [("write", b"answer"), ("close", None)]
    assert half_closed == [("write", b"refused"), ("eof", None)]


def test_a_large_write_goes_at_once_and_an_abort_drops_what_is_pending() -> None:
    async def scenario() -> tuple[list[Any], list[Any]]:
        loop = asyncio.get_running_loop()
        inner = Recorded()
        outer = ClosedThrough(inner, inner.close, loop)
        outer.write(b"h")
        outer.write(b"x" * COALESCE_BYTES)
        at_once = list(inner.calls)
        aborted = Recorded()
        evicted = ClosedThrough(aborted, aborted.close, loop)
        evicted.write(b"never")
        evicted.abort()
        await asyncio.sleep(0)
        return at_once, aborted.calls

    at_once, aborted = asyncio.run(scenario())
    assert at_once == [("write", b"h" + b"x" * COALESCE_BYTES)]
    assert aborted == [("abort", None)]
