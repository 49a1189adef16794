"""Who is asking: the bearer token of a request (or, for reading, the dashboard's cookie)."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ktpledger.api.errors import forbidden, unauthorised
from ktpledger.bootstrap import App
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import PROJECT_PATTERN
from ktpledger.service.access import Principal, authenticate

COOKIE = "ktpledger_token"
READING = frozenset({"GET", "HEAD"})
# Tokens a process keeps as found active (`VerifiedTokens`), the least recently used dropped.
VERIFIED_TOKENS = 1024

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="`Authorization: Bearer TOKEN`, a token from `ktpledger token create`.",
)


def application(request: Request) -> App:
    """The composition root's objects the app was built with."""
    found: App = request.app.state.ktpledger
    return found


def request_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    """The bearer token; for a read (GET, HEAD) without one, the dashboard's cookie. A write never
    takes the cookie, so a page elsewhere cannot make a browser record events."""
    if credentials is not None:
        return credentials.credentials
    if request.headers.get("authorization"):
        return ""  # some other scheme, or a malformed header: a bad token
    if request.method in READING:
        return request.cookies.get(COOKIE)
    return None


def principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Principal:
    """The caller, or 401. A plain `def`: the token look-up runs in the threadpool."""
    token = request_token(request, credentials)
    if token is None:
        raise unauthorised("this needs a token: send Authorization: Bearer TOKEN")
    found = authenticate(application(request).database, token)
    if found is None:
        raise unauthorised("the token is unknown or has been revoked")
    request.state.principal = found  # for the error handlers (errors.for_caller)
    return found


class VerifiedTokens:
    """The principals of tokens found active in the database within the last `seconds`, so that a
    burst of `POST /events` with one token looks it up once a `seconds`, not once a request.

    Keyed by the token's SHA-256 digest (the token itself is never kept), at most `size` of them
    (the least recently used dropped). Only tokens found active are kept: a missing, unknown or
    revoked one is looked up on every request, and one revoked after it was kept is refused at the
    latest `seconds` after it was looked up (KTPLEDGER_TOKEN_CACHE_SECONDS; 0 keeps none). Used from
    the event loop only (no locks)."""

    def __init__(
        self, seconds: float, size: int = VERIFIED_TOKENS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.size = size
        self.clock = clock
        self._kept: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()

    @staticmethod
    def key(token: str) -> bytes:
        return hashlib.sha256(token.encode("utf-8")).digest()

    def get(self, token: str) -> Principal | None:
        """The principal of `token` if it was found active less than `seconds` ago."""
        key = self.key(token)
        kept = self._kept.get(key)
        if kept is None:
            return None
        until, found = kept
        if self.clock() >= until:
            del self._kept[key]
            return None
        self._kept.move_to_end(key)
        return found

    def put(self, token: str, found: Principal) -> None:
        """Keep `found`, the principal `token` was just found active as."""
        if self.seconds <= 0:
            return
        key = self.key(token)
        self._kept[key] = (self.clock() + self.seconds, found)
        self._kept.move_to_end(key)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)


async def recording_principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Principal:
    """`principal` for `POST /events`: the same token and the same refusals, but a token found
    active within the last KTPLEDGER_TOKEN_CACHE_SECONDS is not looked up again (`VerifiedTokens`,
    `app.state.verified_tokens`), and a look-up runs in the threadpool only when one is needed."""
    token = request_token(request, credentials)
    if token is None:
        raise unauthorised("this needs a token: send Authorization: Bearer TOKEN")
    verified: VerifiedTokens = request.app.state.verified_tokens
    found = verified.get(token)
    if found is None:
        found = await run_in_threadpool(authenticate, application(request).database, token)
        if found is None:
            raise unauthorised("the token is unknown or has been revoked")
        verified.put(token, found)
    request.state.principal = found  # for the error handlers (errors.for_caller)
    return found


def check_read(who: Principal, project: str) -> None:
    """403 unless the token was granted `project`; then 404 (R-31) for a text that cannot be a
    project reference at all (it never reaches the database)."""
    if not who.can_read(project):
        raise forbidden(f"this token was not granted project {project!r}")
    if not is_reference(project):
        raise RuleViolation("R-31", f"unknown project {project!r}: not a project reference", field="project")


def is_reference(project: str) -> bool:
    return PROJECT_PATTERN.fullmatch(project) is not None
