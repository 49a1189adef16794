"""Who is asking: the bearer token of a request (or, for reading, the dashboard's cookie)."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ktpledger.api.errors import forbidden, unauthorised
from ktpledger.bootstrap import App
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import PROJECT_PATTERN
from ktpledger.service.access import Principal, authenticate

COOKIE = "ktpledger_token"
READING = frozenset({"GET", "HEAD"})

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


def check_read(who: Principal, project: str) -> None:
    """403 unless the token was granted `project`; then 404 (R-31) for a text that cannot be a
    project reference at all (it never reaches the database)."""
    if not who.can_read(project):
        raise forbidden(f"this token was not granted project {project!r}")
    if not is_reference(project):
        raise RuleViolation("R-31", f"unknown project {project!r}: not a project reference", field="project")


def is_reference(project: str) -> bool:
    return PROJECT_PATTERN.fullmatch(project) is not None
