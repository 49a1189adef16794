"""`ktpledger serve`'s HTTP protocol: uvicorn's httptools one under the connection guard
(`server.GuardedConnection`). A module of its own, so that the server falls back to h11 where
httptools cannot be imported (`server.protocol_for`)."""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ktpledger.api.server import GuardedConnection


class GuardedHttpToolsProtocol(GuardedConnection, HttpToolsProtocol):
    """uvicorn's httptools protocol (llhttp, in C) under a `ConnectionGuard`, the one `serve` runs:
    about a tenth less CPU a request than h11. llhttp has no bound on an unfinished head: the guard's
    431 past `max_head_bytes` is the bound (`GuardedConnection.data_received`). Where the client is
    comes from the parser's callbacks: a head until its headers are complete, then a body until
    the message is."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase = "head"  # "head", "body" or "failed"

    def _reading_head(self) -> bool:
        return self._phase == "head"

    def _reading_body(self) -> bool:
        return self._phase == "body"

    def _failed(self) -> bool:
        return self._phase == "failed"

    def on_headers_complete(self) -> None:
        self._phase = "body"
        self._head_ended = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._phase = "head"
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        self._phase = "failed"  # llhttp gave up on the request: it may still be coming
        super().send_400_response(msg)

    def _head_too_large(self) -> None:
        self._phase = "failed"  # refused with what is left of it still coming
        super()._head_too_large()
