"""Projects announced by wake-ups and perhaps not yet caught up: a Redis set beside the queue.

Each catch-up message names its projects and nothing else, and under load the queue holds many.
Caught up one message at a time, each costs a worker the same handful of statements for an event
or two, and at a few hundred events a second two workers spend most of their time on those
statements. So a wake-up also adds its projects to this set, and a worker's catch-up takes what
the set holds (up to `TAKE_AT_MOST`) beside the projects its message names
(`Projector.catch_up_many(..., also=...)`): the messages still queued then find their projects
caught up, and cost a worker a lock and a read each.

The set only saves work: each message still names its own projects, so a set lost, flushed or
never written (another broker, Redis away) costs nothing but the saving. With a broker that is not
Redis, nothing is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("ktpledger.workers")

DUE_KEY = "ktpledger:due"
# Projects one catch-up takes beside its own: a few queued messages' worth. Few enough that a
# catch-up stays a short transaction: the events it holds wait for all of it, and so do the other
# workers' messages naming its projects (their locks). bench/lag.py, 500 events/s over 200 projects,
# alternately (2026-12-06): 30 gave p50 121-145 ms and p99 1.9-2.1 s, 100 gave 177-190 ms, 2.2-2.6 s.
TAKE_AT_MOST = 30


class DueProjects:
    """The set of projects announced and perhaps not yet caught up (the module docstring)."""

    def __init__(self, broker_url: str | None, *, key: str = DUE_KEY) -> None:
        self._url = broker_url if broker_url and broker_url.startswith(("redis://", "rediss://")) else None
        self._key = key
        self._client: Any = None

    def _redis(self, url: str) -> Any:
        if self._client is None:
            import redis  # only with a Redis broker, which brings it

            self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        return self._client

    def add(self, projects: Iterable[str]) -> None:
        """Announce `projects`. Raises the client's error: the caller's send is paused by it, as a
        failed message is."""
        names = list(projects)
        if self._url is None or not names:
            return
        self._redis(self._url).sadd(self._key, *names)

    def take(self, limit: int = TAKE_AT_MOST) -> list[str]:
        """Up to `limit` announced projects, removed from the set; none when Redis cannot be
        reached (the messages still name every project)."""
        if self._url is None:
            return []
        try:
            taken = self._redis(self._url).spop(self._key, limit)
        except Exception:  # only a saving is lost: each message names its projects
            log.warning("could not read the due projects; catching up the message's own", exc_info=True)
            return []
        return sorted(name.decode() if isinstance(name, bytes) else str(name) for name in taken or [])

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
