"""The server's ConnectionGuard (ktpledger/api/server.py) at its cap: which open connection makes
room for a new one."""

from __future__ import annotations

from typing import cast

from ktpledger.api.server import ConnectionGuard, GuardedH11Protocol
from ktpledger.serve_settings import ServeLimits


class Connection:
    """What the guard asks of a connection: to be closed to make room."""

    def __init__(self) -> None:
        self.evicted = False

    def evict(self) -> None:
        self.evicted = True


def connection() -> tuple[Connection, GuardedH11Protocol]:
    made = Connection()
    return made, cast(GuardedH11Protocol, made)


def test_at_the_cap_a_lingering_connection_makes_room_before_one_waiting_for_a_head() -> None:
    """A lingering connection has had its response; one waiting for a head may be a client about
    to send its request."""
    guard = ConnectionGuard(2, ServeLimits())
    (waiting, as_waiting), (lingering, as_lingering) = connection(), connection()
    assert guard.admit(as_lingering)
    guard.await_head(as_lingering)  # the older of the two waiting for a head ...
    assert guard.admit(as_waiting)
    guard.await_head(as_waiting)
    guard.linger(as_lingering)  # ... answered, closing lingering
    assert guard.admit(connection()[1])
    assert lingering.evicted and not waiting.evicted
    assert guard.admit(connection()[1])  # then the one waiting for a head
    assert waiting.evicted


def test_at_the_cap_with_none_lingering_or_waiting_a_new_connection_is_refused() -> None:
    guard = ConnectionGuard(1, ServeLimits())
    busy, as_busy = connection()
    assert guard.admit(as_busy)
    guard.head_received(as_busy)
    assert not guard.admit(connection()[1])
    assert not busy.evicted
