"""What the worker tests share."""

from __future__ import annotations

import pytest

from tests.conftest import REDIS_URL, unavailable


@pytest.fixture
def redis_url() -> str:
    """The test database of the local Redis, emptied; unavailable (a failure under CI) without it."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.flushdb()  # the test database index only (15 down to 4), never the default one
        client.close()
    except Exception as error:  # noqa: BLE001 - any failure to connect means Redis is missing
        unavailable("Redis on 127.0.0.1:6379", error)
    return REDIS_URL
