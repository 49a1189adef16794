"""The LMC dashboard: server-rendered pages of the same app, over the same summary as the API.

The user pastes a token once on the login page; the server keeps it in a `Secure`, `HttpOnly`,
`SameSite=Strict` cookie, which only reading routes accept (never `POST /events`). Pages poll
`/projects/{project}/summary` every few seconds and, when its revision changes, swap in the
re-rendered figures from `/dashboard/projects/{project}/panel`: no reload, no chart library (the
charts are inline SVG drawn here), no CDN. Jinja escapes every user text.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.templating import Jinja2Templates

from ktpledger.api import charts, csrf
from ktpledger.api.admin import is_administrator
from ktpledger.api.errors import ApiError, for_caller, status_of
from ktpledger.api.formatting import label, pounds
from ktpledger.api.forms import forms_for
from ktpledger.api.security import COOKIE, application, bearer, check_read, principal
from ktpledger.bootstrap import App
from ktpledger.domain.alert_views import ShownAlert, long_date
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import AlertAcknowledged, parse_day
from ktpledger.domain.labels import kind_label
from ktpledger.reports.transactions_csv import recorder_text
from ktpledger.service.access import Principal, authenticate
from ktpledger.service.deliveries import list_deliveries
from ktpledger.service.project_summary import project_list, project_summary
from ktpledger.service.system_alerts import read_system_alerts

HERE = Path(__file__).parent
STATIC = HERE / "static"
COOKIE_MAX_AGE = 12 * 3600  # a dashboard session lasts a working day
POLL_MS = 4000

templates = Jinja2Templates(directory=str(HERE / "templates"))

SEVERITY = (
    "invoice_overdue",
    "ended_not_closed",
    "over_cap",
    "over_budget",
    "ineligible_claim",
    "forecast_overspend",
    "sub_limit",
    "forecast_underspend",
    "behind_profile",
    "ahead_of_profile",
    "threshold",
    "invoice_due",
    "claim_due",
    "claim_overdue",
)


def alert_text(alert: ShownAlert) -> str:
    """An alert in a sentence for the committee (escaped by the template): the same message as
    `ktpledger alerts` and `GET /alerts` give, from its current figures."""
    return alert.message


def severity(alert: ShownAlert) -> tuple[int, int]:
    """The most serious first (ended and not closed, over a maximum, over budget ...), newest first
    within a kind."""
    kind = alert.kind
    return (SEVERITY.index(kind) if kind in SEVERITY else len(SEVERITY), -(alert.id or 0))


def prefix(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """The page `name`. A full page with a form (the sign-in page; every page of a signed-in user,
    which has the sign-out button) carries the browser's form token and (re)sets its cookie."""
    base = prefix(request)
    with_form = not name.startswith("_") and (name == "login.html" or context.get("who") is not None)
    token = csrf.form_token(request) if with_form else ""
    context = {
        "csrf_field": csrf.CSRF_FIELD,
        "csrf_token": token,
        "base": base,
        "static": f"{base}/dashboard/static",
        "label": label,
        "pounds": pounds,
        "recorder": recorder_text,
        "alert_text": alert_text,
        "kind_label": kind_label,
        "long_date": long_date,
        "quote": lambda text: quote(text, safe=""),
        "path": lambda text: quote(text, safe="/"),
        **context,
    }
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    if with_form:
        csrf.keep_token(response, token)
    return response


def refused(request: Request, what: str, reason: str) -> HTMLResponse:
    """The 403 page of a sign-in or sign-out that did not come from this dashboard's own page:
    it says why, and sets and clears nothing."""
    message = (
        f"This {what} was refused because {reason}. Nothing was changed: no one was signed in or out. "
        "Sign-in and sign-out are accepted only from this dashboard's own pages, so that another site "
        "cannot sign your browser in or out."
    )
    warning = PLAIN_HTTP_WARNING if cookie_will_be_dropped(request) else None
    context = {"who": None, "heading": f"{what.capitalize()} refused", "message": message, "warning": warning}
    return render(request, "problem.html", context, status_code=403)


def viewer(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Principal | None:
    """The dashboard's user (cookie or bearer), or None: pages then redirect to the login page."""
    try:
        return principal(request, credentials)
    except ApiError:
        return None


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path
    return RedirectResponse(
        f"{prefix(request)}/dashboard/login?next={quote(target, safe='/')}", status_code=303
    )


router = APIRouter(include_in_schema=False)


@router.get("/")
def root(request: Request) -> RedirectResponse:
    return RedirectResponse(f"{prefix(request)}/dashboard", status_code=303)


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def cookie_will_be_dropped(request: Request) -> bool:
    """True when the sign-in cookie (Secure) cannot be kept: the page came over plain HTTP to a host
    other than this machine, and no proxy in front said the browser's side was HTTPS."""
    if request.url.scheme == "https":
        return False
    if request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower() == "https":
        return False
    return (request.url.hostname or "").lower() not in LOOPBACK_HOSTS


PLAIN_HTTP_WARNING = (
    "This page came over plain HTTP, so your browser will not keep the sign-in cookie (it is sent only "
    "over HTTPS, to protect your token) and signing in will bring you back here. Serve ktpledger behind "
    "HTTPS, or open it as http://127.0.0.1 on the machine that runs it."
)


def login_form(
    request: Request,
    next: str,  # noqa: A002 - the query parameter's name (?next=), as sign-in pages name it
    problem: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The sign-in page, with `problem` and, where the cookie would be dropped, a warning."""
    warning = PLAIN_HTTP_WARNING if cookie_will_be_dropped(request) else None
    context = {"who": None, "next": safe_next(next), "problem": problem, "warning": warning}
    return render(request, "login.html", context, status_code=status_code)


@router.get("/dashboard/login")
def login_page(request: Request, next: str = "/dashboard") -> HTMLResponse:  # noqa: A002 - ?next=
    return login_form(request, next)


def safe_next(target: str) -> str:
    """Only a path of this dashboard: never another site."""
    if not target.startswith("/dashboard") or "//" in target or "\\" in target:
        return "/dashboard"
    return target


@router.post("/dashboard/login")
def login(
    request: Request,
    token: str = Form(""),
    next: str = Form("/dashboard"),  # noqa: A002 - the form field's name, as the page posts it
    csrf_token: str = Form("", alias=csrf.CSRF_FIELD),
    app: App = Depends(application),
) -> Response:
    reason = csrf.refusal(request, csrf_token)
    if reason is not None:
        return refused(request, "sign-in", reason)
    token = token.strip()
    found = authenticate(app.database, token) if token else None
    if found is None:
        return login_form(request, next, "That token is unknown or has been revoked.", status_code=401)
    response = RedirectResponse(f"{prefix(request)}{safe_next(next)}", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_MAX_AGE,
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/dashboard/logout")
def logout(request: Request, csrf_token: str = Form("", alias=csrf.CSRF_FIELD)) -> Response:
    reason = csrf.refusal(request, csrf_token)
    if reason is not None:
        return refused(request, "sign-out", reason)
    response = RedirectResponse(f"{prefix(request)}/dashboard/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


def reading_day(request: Request, app: App) -> date:
    """The day the page judges time on: `?today=YYYY-MM-DD` (reports, tests) or today."""
    text = request.query_params.get("today")
    return app.settings.reading_day(parse_day(text, field="today"))


def day_query(request: Request) -> str:
    """`?today=...` to pass on to the page's polls, when the page was asked for a day."""
    text = request.query_params.get("today")
    return "" if text is None else f"?today={quote(text, safe='')}"


@router.get("/dashboard")
def projects_page(
    request: Request, who: Principal | None = Depends(viewer), app: App = Depends(application)
) -> Response:
    if who is None:
        return to_login(request)
    try:
        rows = project_list(app, who, today=reading_day(request, app))
    except RuleViolation as error:
        return render(request, "problem.html", {"who": who, "message": f"{error.rule}: {error.message}"}, 422)
    context = {
        "who": who,
        "projects": rows,
        "poll_ms": POLL_MS,
        "day_query": day_query(request),
        "admin": admin_section(app) if is_administrator(who) else None,
        "can_make_projects": who.can_record("GrantOffered") and who.projects is None,
    }
    return render(request, "projects.html", context)


ADMIN_ROWS = 200  # deliveries listed on the page; `ktpledger notifications` lists them all


def admin_section(app: App) -> dict[str, Any]:
    """For an admin token only: open system alerts, and deliveries failed or pending for long."""
    now = datetime.now(UTC)
    rows = list_deliveries(
        app.database, status=None, now=now, long_after=app.settings.channel_down_after, limit=10_000
    )
    stuck = [row for row in rows if row["status"] == "failed" or row["long_pending"]]
    return {
        "as_of": now.isoformat()[:19].replace("T", " "),
        "system_alerts": read_system_alerts(app.database),
        "deliveries": stuck[:ADMIN_ROWS],
    }


@router.get("/dashboard/panel")
def projects_panel(
    request: Request, who: Principal | None = Depends(viewer), app: App = Depends(application)
) -> Response:
    if who is None:
        return Response(status_code=401)
    try:
        rows = project_list(app, who, today=reading_day(request, app))
    except RuleViolation:
        return Response(status_code=422)
    return render(
        request, "_projects_panel.html", {"who": who, "projects": rows, "day_query": day_query(request)}
    )


def project_context(app: App, who: Principal, project: str, today: date) -> dict[str, Any]:
    check_read(who, project)
    summary = project_summary(app, project, today=today)
    elapsed = summary.period.elapsed
    return {
        "who": who,
        "summary": summary,
        # Each chart twice, drawn for a desktop and for a phone: the stylesheet shows one.
        "bars": charts.budget_bars(summary.lines, elapsed=elapsed)
        + charts.budget_bars(summary.lines, elapsed=elapsed, narrow=True),
        "spend_chart": charts.spend_over_time(summary) + charts.spend_over_time(summary, narrow=True),
        "elapsed": elapsed,
        # Open alerts nobody has acknowledged first; the acknowledged ones apart.
        "alerts": sorted((a for a in summary.open_alerts if a.acknowledged is None), key=severity),
        "acknowledged": sorted((a for a in summary.open_alerts if a.acknowledged is not None), key=severity),
        "has_derived": any(line.derived for line in summary.lines),
        "poll_ms": POLL_MS,
        "forms": forms_for(who),  # the "Record" links: the forms this role may use
        # The "Acknowledge" links of open alerts (api/dashboard_acknowledge.py): lmc, finance, admin.
        "can_acknowledge": who.can_record(AlertAcknowledged.TYPE),
    }


def project_response(request: Request, who: Principal, app: App, project: str, template: str) -> Response:
    try:
        context = project_context(app, who, project, reading_day(request, app))
        context["day_query"] = day_query(request)
    except ApiError as error:
        return render(request, "problem.html", {"who": who, "message": error.message}, error.status)
    except RuleViolation as error:
        error = for_caller(error, who)
        status = status_of(error)
        return render(
            request, "problem.html", {"who": who, "message": f"{error.rule}: {error.message}"}, status
        )
    return render(request, template, context)


# The panel route first: `{project:path}` would otherwise take ".../panel" as part of the name.
@router.get("/dashboard/projects/{project:path}/panel")
def project_panel(
    request: Request, project: str, who: Principal | None = Depends(viewer), app: App = Depends(application)
) -> Response:
    if who is None:
        return Response(status_code=401)
    return project_response(request, who, app, project, "_project_panel.html")


@router.get("/dashboard/projects/{project:path}")
def project_page(
    request: Request, project: str, who: Principal | None = Depends(viewer), app: App = Depends(application)
) -> Response:
    if who is None:
        return to_login(request)
    return project_response(request, who, app, project, "project.html")
