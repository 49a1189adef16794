"""The embedded default pools its SQLite connections, and none of them crosses a fork."""

from __future__ import annotations

import os
import sys

import pytest

from ktpledger.adapters.database import Database, build_engine
from ktpledger.service.ledger import Ledger
from ktpledger.service.schema import upgrade
from tests.ledger.factory import claim, offer


def test_connections_are_reused_between_appends(sqlite_url: str) -> None:
    database = Database(build_engine(sqlite_url))
    try:
        upgrade(database)
        ledger = Ledger(database)
        ledger.append([offer()])
        with database.engine.connect() as connection:
            first = connection.connection.dbapi_connection
        ledger.append([claim("c1")])
        with database.engine.connect() as connection:
            assert connection.connection.dbapi_connection is first
    finally:
        database.dispose()


def test_the_connection_given_back_last_is_taken_first(sqlite_url: str) -> None:
    """A lone writer keeps using one connection, whose page cache its own writes leave good (one
    taken in turn has dropped its cache: another connection wrote since)."""
    database = Database(build_engine(sqlite_url))
    try:
        upgrade(database)
        with database.engine.connect() as first, database.engine.connect() as second:
            given_back_last = first.connection.dbapi_connection  # closed after `second`
            assert second.connection.dbapi_connection is not given_back_last
        taken = []
        for _ in range(3):  # given out in turn, these would alternate between the two
            with database.engine.connect() as connection:
                taken.append(connection.connection.dbapi_connection)
        assert taken == [given_back_last] * 3
        Ledger(database).append([offer()])
        with database.engine.connect() as connection:
            assert connection.connection.dbapi_connection is given_back_last
    finally:
        database.dispose()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_opens_its_own_connections_and_the_parent_keeps_its_own(sqlite_url: str) -> None:
    database = Database(build_engine(sqlite_url))
    try:
        upgrade(database)
        ledger = Ledger(database)
        ledger.append([offer(), claim("c1")])
        with database.engine.connect() as connection:
            inherited = connection.connection.dbapi_connection
        pid = os.fork()
        if pid == 0:  # the child: append through the inherited engine, then leave at once
            code = 1
            try:
                with database.engine.connect() as connection:
                    fresh = connection.connection.dbapi_connection
                [result] = Ledger(database).append([claim("child")])
                code = 0 if fresh is not inherited and result.status == "recorded" else 2
            except BaseException as error:  # noqa: BLE001 - the forked child reports anything, then exits
                print(f"child failed: {error!r}", file=sys.stderr)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # the parent's pooled connection is intact and sees the child's event
        with database.engine.connect() as connection:
            assert connection.connection.dbapi_connection is inherited
        [result] = ledger.append([claim("parent")])
        assert (result.status, result.version) == ("recorded", 4)
        assert ledger.verify() == (4, None)
    finally:
        database.dispose()
