"""The HTTP server's limits (`ktpledger serve`), from the environment or the command line.

    KTPLEDGER_MAX_CONNECTIONS     open connections at once (default 1000); at the cap a new
                                  connection takes the place of the oldest one that is waiting
                                  for a request head, or is answered 503 and closed
    KTPLEDGER_HEAD_TIMEOUT        seconds a connection has to send a whole request head (10)
    KTPLEDGER_KEEP_ALIVE_TIMEOUT  seconds an idle connection is kept between requests (5)
    KTPLEDGER_MAX_HEAD_BYTES      bytes of a request head: request line and headers (16384)
    KTPLEDGER_MAX_BODY_BYTES      bytes of a request body (4 MiB: 10,000 events of ~420 bytes)
    KTPLEDGER_BODY_TIMEOUT        seconds a request body has to arrive, once it is read (60)
    KTPLEDGER_BODY_BUDGET_BYTES   bytes of POST /events bodies read and parsed at once (twice
                                  the body limit: 8 MiB)
    KTPLEDGER_BODY_WAIT           seconds a body waits for its share of that budget before 503 (5)
    KTPLEDGER_TOKEN_CACHE_SECONDS seconds a server process trusts a token it found active for
                                  POST /events without looking it up again (1; 0: every request
                                  looks it up): a token revoked meanwhile still records for at most
                                  that long in a process that used it just before

A value that cannot work is a `ValueError` naming the variable (or the option) and what it takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True)
class ServeLimits:
    max_connections: int = 1000
    head_timeout: float = 10.0
    keep_alive_timeout: float = 5.0
    max_head_bytes: int = 16 * 1024
    # A realistic event is ~220 bytes as JSON (the demo's and the example file's average), so
    # 10,000 of them (MAX_EVENTS, a request's most) take ~2.2 MB: 4 MiB leaves twice that room.
    max_body_bytes: int = 4 * MIB
    body_timeout: float = 60.0
    # Parsing and appending a body costs several times its size in memory (~5x for the parse
    # alone): the budget, not the number of requests, bounds what bodies can take at once.
    # None: twice max_body_bytes (`body_budget`), so two bodies of the largest size fit.
    body_budget_bytes: int | None = None
    body_wait: float = 5.0
    # POST /events trusts a token found active for this long (api/security.py, `VerifiedTokens`):
    # the bound on how long a revoked token may still record. 0: looked up on every request.
    token_cache_seconds: float = 1.0

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            if item.name in MAY_BE_ZERO and value < 0:
                raise ValueError(f"{describe(item.name)} must be 0 or above, got {value}")
            if item.name not in MAY_BE_ZERO and value <= 0:
                raise ValueError(f"{describe(item.name)} must be above 0, got {value}")
        if self.body_budget < self.max_body_bytes:
            raise ValueError(
                f"{describe('body_budget_bytes')} ({self.body_budget}) must be at least "
                f"{describe('max_body_bytes')} ({self.max_body_bytes}), or no body of the largest size could be read"
            )

    @property
    def body_budget(self) -> int:
        return self.body_budget_bytes if self.body_budget_bytes is not None else 2 * self.max_body_bytes

    def with_values(self, **values: Any) -> ServeLimits:
        """These limits with the given ones (None: unchanged), e.g. from `serve`'s options."""
        given = {name: value for name, value in values.items() if value is not None}
        return replace(self, **given) if given else self


WHOLE = {"max_connections", "max_head_bytes", "max_body_bytes", "body_budget_bytes"}
MAY_BE_ZERO = {"token_cache_seconds"}  # 0 turns the cache off
UPPER = {
    "max_connections": 1_000_000,
    "head_timeout": 3600.0,
    "keep_alive_timeout": 3600.0,
    "max_head_bytes": 1 * MIB,
    "max_body_bytes": 1024 * MIB,
    "body_timeout": 3600.0,
    "body_budget_bytes": 16 * 1024 * MIB,
    "body_wait": 3600.0,
    "token_cache_seconds": 60.0,
}


def variable(name: str) -> str:
    return "KTPLEDGER_" + name.upper()


def option(name: str) -> str:
    return "--" + name.replace("_", "-")


def describe(name: str) -> str:
    return f"{variable(name)} ({option(name)})"


def parse_limit(name: str, text: str) -> int | float:
    """One limit's value as typed: whole numbers for counts and bytes, seconds may have decimals."""
    kind = "a whole number" if name in WHOLE else "a number of seconds"
    least = "0 or above" if name in MAY_BE_ZERO else "above 0"
    try:
        value: int | float = int(text.strip()) if name in WHOLE else float(text.strip())
    except ValueError:
        raise ValueError(f"{variable(name)} must be {kind} {least}, got {text!r}") from None
    lowest_ok = value >= 0 if name in MAY_BE_ZERO else value > 0
    if not lowest_ok or value > UPPER[name]:
        raise ValueError(f"{variable(name)} must be {kind} {least} and at most {UPPER[name]:g}, got {text!r}")
    return value


def serve_limits(environ: Mapping[str, str]) -> ServeLimits:
    """The limits the environment sets, the defaults for the rest."""
    given = {
        item.name: parse_limit(item.name, environ[variable(item.name)])
        for item in fields(ServeLimits)
        if (environ.get(variable(item.name)) or "").strip()
    }
    # `with_values`: each value has its field's type (parse_limit reads counts and bytes as whole
    # numbers), which a dict of them cannot say field by field.
    return ServeLimits().with_values(**given)
