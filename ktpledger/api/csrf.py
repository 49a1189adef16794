"""No cross-site POST to the dashboard's sign-in and sign-out.

Without this, a page on any other site could sign a visitor's browser in with the attacker's token
(their figures then look like the visitor's own) or sign them out. `POST /dashboard/login` and
`POST /dashboard/logout` must pass both checks; a refusal sets and clears nothing.

1. **Where the request comes from** (`refusal_of_origin`). `Sec-Fetch-Site`, where the browser
   sends it, must be `same-origin`. `Origin` must be this site's origin (`null`, which browsers send
   for a sandboxed page or after a cross-site redirect, is refused); without `Origin`, `Referer`
   must be a page of this site; with neither, the request is refused. This site's origin is the
   scheme and host the request was sent to: what a proxy in front says in `X-Forwarded-Proto` and
   `X-Forwarded-Host` (first value of each), else the scheme uvicorn saw and `Host`. Those headers
   are trusted for this comparison only, and that is safe: a browser never lets a page set them on
   a cross-site request (a form cannot; a script's request with them needs a CORS preflight that
   this app never grants), so only a proxy or a non-browser client, which no other site can drive,
   can send them. Dashboard pages send `Referrer-Policy: same-origin`: with `no-referrer` a
   browser sends `Origin: null` on every POST, its own sign-in form's included.
2. **A token only this browser has** (`refusal_of_token`, a double-submit token). Every page with a
   form sets the cookie `__Host-ktpledger_csrf` (32 random bytes; Secure, HttpOnly,
   SameSite=Strict, Path=/, for a working day) and puts the same value in the form's hidden `csrf`
   field; the POST must carry both, equal. Another site can read neither, and the `__Host-` prefix
   stops a sibling subdomain from planting its own cookie.
"""

from __future__ import annotations

import hmac
import re
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response

CSRF_COOKIE = "__Host-ktpledger_csrf"
CSRF_FIELD = "csrf"
CSRF_MAX_AGE = 12 * 3600  # as long as a dashboard session: a page left open all day can still sign out
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
DEFAULT_PORTS = {"http": "80", "https": "443"}


def form_token(request: Request) -> str:
    """The token for the forms of the page being made: the browser's own, or a new one."""
    current = request.cookies.get(CSRF_COOKIE, "")
    return current if TOKEN_SHAPE.fullmatch(current) else secrets.token_urlsafe(32)


def keep_token(response: Response, token: str) -> None:
    """Set (or extend) the browser's token cookie on a page whose forms carry `token`."""
    response.set_cookie(
        CSRF_COOKIE, token, max_age=CSRF_MAX_AGE, path="/", secure=True, httponly=True, samesite="strict"
    )


def _first(value: str | None) -> str:
    return (value or "").split(",")[0].strip().lower()


def _origin(scheme: str, host: str) -> str:
    """`scheme://host[:port]`, lower case, without the scheme's default port."""
    name, colon, port = host.rpartition(":")
    if not (colon and port.isdigit()):  # no port ("[::1]" ends in "]", not in digits)
        name, port = host, ""
    if port == DEFAULT_PORTS.get(scheme):
        port = ""
    return f"{scheme}://{name}" + (f":{port}" if port else "")


def own_origin(request: Request) -> str:
    """The origin this request was sent to: as a proxy in front reports it (`X-Forwarded-Proto`,
    `X-Forwarded-Host`), else the scheme uvicorn saw and the `Host` header."""
    scheme = _first(request.headers.get("x-forwarded-proto")) or request.url.scheme.lower()
    host = _first(request.headers.get("x-forwarded-host")) or _first(request.headers.get("host"))
    return _origin(scheme, host)


def origin_of_url(url: str) -> str:
    """The origin of a `Referer`, or "" when it has none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if not parts.scheme or not parts.netloc:
        return ""
    return _origin(parts.scheme.lower(), parts.netloc.rpartition("@")[2].lower())


def refusal_of_origin(request: Request) -> str | None:
    """Why the request did not come from a page of this site, or None when it did."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.strip().lower() != "same-origin":
        return f"your browser says it was sent from another site (Sec-Fetch-Site: {fetch_site})"
    origin = request.headers.get("origin")
    if origin is not None:
        if origin.strip().lower() == "null":
            return "it came from a page with no origin (Origin: null), such as a sandboxed frame"
        if _origin_text(origin) != own_origin(request):
            return f"it came from another site (Origin: {origin})"
        return None
    referer = request.headers.get("referer")
    if referer is None:
        return "it said neither which site it came from (no Origin) nor which page (no Referer)"
    if origin_of_url(referer) != own_origin(request):
        return f"it came from a page of another site (Referer: {referer})"
    return None


def _origin_text(origin: str) -> str:
    parts = urlsplit(origin.strip())
    return _origin(parts.scheme.lower(), parts.netloc.lower()) if parts.scheme and parts.netloc else ""


def refusal_of_token(request: Request, submitted: str) -> str | None:
    """Why the form's token does not prove it came from this browser's page, or None."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie:
        return "this browser holds no form token (the page was not loaded here, or is more than a day old)"
    if not submitted:
        return "the form carried no token"
    if not hmac.compare_digest(cookie.encode(), submitted.encode("utf-8", "backslashreplace")):
        return "the form's token is not this browser's"
    return None


def refusal(request: Request, submitted: str) -> str | None:
    """Why a sign-in or sign-out POST is refused, or None when it came from this site's own page."""
    return refusal_of_origin(request) or refusal_of_token(request, submitted)
