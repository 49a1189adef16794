"""The app factory: the HTTP API, the dashboard and their static files, on one composition root;
and `serve`, which `ktpledger serve` runs (registered as the `http` server in pyproject.toml)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

import ktpledger
from ktpledger.api import (
    acknowledgements,
    admin,
    costing,
    dashboard,
    dashboard_acknowledge,
    dashboard_alerts,
    dashboard_forms,
    dashboard_import,
    dashboard_new_project,
    dashboard_portfolio,
    errors,
    imports,
    limits,
    openapi,
    portfolio,
    profile,
    quarantine,
    reads,
    routes,
    security,
    server,
    statements,
    transactions,
)
from ktpledger.api.wakeups import SentAfterResponse
from ktpledger.bootstrap import App, bootstrap
from ktpledger.serve_settings import ServeLimits
from ktpledger.service.collector import SurvivorsFrozen
from ktpledger.service.wakeup import Asleep, InProcess
from ktpledger.settings import Settings

DESCRIPTION = """\
The append-only ledger of UK Knowledge Transfer Partnership grant budgets, over HTTP. The shapes are
those of the `ktpledger` command line (`--format json`); money is a string with two decimals.

**Access.** Every route but `/health`, `/docs` and `/openapi.json` needs
`Authorization: Bearer TOKEN`, a token from `ktpledger token create --role ROLE [--project P ...]`.
Roles: **admin** records every event type and is the only role that records `GrantOffered`,
`OfferAmended`, `ProjectClosed` and `ProjectReopened`; **finance** records `SpendClaimed`, `ClaimReversed`, `ParentalLeaveCost`,
`GrantPayment`, `AlertAcknowledged`, `BusinessInvoiced`, `BusinessPaymentReceived`, `ClaimSubmitted` and `ClaimApproved`; **lmc** records `LMCDecision`, `AlertAcknowledged` and `SpendProfileSet`
(admin, finance and lmc acknowledge alerts: `POST /alerts/{id}/acknowledgement`, R-39); **viewer**
records nothing. Every role reads. A token
granted some projects cannot read or write any other. No token or a bad one: 401; forbidden: 403,
and nothing is recorded.

**Errors.** Bad input is a 4xx with `{"error": {"rule": "R-nn", "message": "..."}}` naming the rule of
docs/rules.md; an unknown project is 404 (R-31).

**Administrators.** `GET /notifications`, `POST /notifications/resend` and `GET /system-alerts` are for
admin tokens only (403 for the others): failed and pending alert notifications, resending them, and
the service's own troubles (`channel_down`, `projection_failed`).

**Dashboard.** The LMC dashboard is at [/dashboard](/dashboard).
"""

DASHBOARD_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# Documents of the API (statements rendered as HTML carry their own inline styles): no script at all.
DOCUMENT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """Pure ASGI middleware: the security headers of every response but FastAPI's documentation
    pages (each only where the route did not set its own), and `Cache-Control: no-store` but on
    static files. Added after `limits.install`, so that its refusals (431, 413) carry them too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(("/docs", "/redoc")):
            # FastAPI's documentation pages load Swagger UI with inline scripts.
            await self.app(scope, receive, send)
            return
        added = headers_for(path)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in added:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SettledHeap:
    """Pure ASGI middleware of `ktpledger serve`: after each response, what the process holds for
    good (its ledger's cached project states above all) is frozen out of the cyclic collector's
    walks, at most every second (`SurvivorsFrozen`, as a worker does between catch-ups): a full
    collection otherwise stops every request the process is serving for as long as it takes to walk
    them all, longer as the cache fills."""

    def __init__(self, app: ASGIApp, survivors: SurvivorsFrozen) -> None:
        self.app = app
        self.survivors = survivors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http":
                self.survivors.settle()


def headers_for(path: str) -> list[tuple[str, str]]:
    """The headers a response to `path` gets unless it has them already, in the order they are set."""
    dashboard_page = path == "/" or path.startswith("/dashboard")
    added: list[tuple[str, str]] = []
    if dashboard_page:
        # Not no-referrer: with it a browser sends `Origin: null` on the dashboard's own
        # sign-in and sign-out forms, which the cross-site check (api/csrf.py) must refuse.
        added.append(("Referrer-Policy", "same-origin"))
    added += SECURITY_HEADERS.items()
    added.append(("Content-Security-Policy", DASHBOARD_POLICY if dashboard_page else DOCUMENT_POLICY))
    if not path.startswith("/dashboard/static"):
        added.append(("Cache-Control", "no-store"))
    return added


def create_app(
    application: App | None = None,
    *,
    settings: Settings | None = None,
    wakeups_after_response: bool = False,
    survivors: SurvivorsFrozen | None = None,
) -> FastAPI:
    """The FastAPI app over `application` (built from `settings` and closed with the app when
    not given). The schema must already be at head (`ktpledger serve` makes sure of it).

    `wakeups_after_response` (`ktpledger serve`): with a broker, the appends' wake-ups are sent
    from a thread of their own (`api/wakeups.py`), the last of them when the app shuts down.
    `survivors` (`ktpledger serve`): settled after each response (`SettledHeap`)."""
    owned = application is None
    app_objects = application if application is not None else bootstrap(settings)
    after_response = None
    if (
        wakeups_after_response
        and not isinstance(app_objects.wakeup, (InProcess, Asleep))  # a broker's dispatcher
        and app_objects.ledger.on_appended is not None
    ):
        after_response = SentAfterResponse(app_objects.ledger.on_appended)
        app_objects.ledger.on_appended = after_response.projects_changed

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if after_response is not None:
                after_response.close()
            if owned:
                app_objects.close()

    api = FastAPI(
        title="ktpledger",
        version=ktpledger.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below from the app's own copy of Swagger UI: no CDN
        redoc_url=None,
        openapi_tags=[
            {"name": "ledger", "description": "Recording events"},
            {"name": "projects", "description": "A project's stream and figures"},
            {"name": "alerts", "description": "Alerts (R-41)"},
            {"name": "statements", "description": "Reconciliation and claim packs"},
            {"name": "costing", "description": "The guidance's costing tables"},
            {
                "name": "admin",
                "description": "Notification deliveries, system alerts and quarantined projections (admin tokens only)",
            },
            {"name": "service", "description": "Health"},
        ],
    )
    api.state.ktpledger = app_objects
    # POST /events looks a token up once per KTPLEDGER_TOKEN_CACHE_SECONDS (api/security.py).
    api.state.verified_tokens = security.VerifiedTokens(app_objects.settings.limits.token_cache_seconds)
    fastapi_openapi = api.openapi
    made: list[dict[str, Any]] = []

    def strict_openapi() -> dict[str, Any]:
        """FastAPI's document, made as strict as the server (api/openapi.py), once."""
        if not made:
            made.append(openapi.strict(fastapi_openapi()))
        return made[0]

    # FastAPI's documented way to change its schema is to replace the `openapi` method.
    api.openapi = strict_openapi  # type: ignore[method-assign]
    errors.install(api)
    # Installed before the security headers below, so its own refusals (431, 413) carry them too.
    limits.install(api, app_objects.settings.limits)
    api.include_router(routes.router)
    api.include_router(imports.router)
    api.include_router(reads.router)
    api.include_router(acknowledgements.router)
    api.include_router(statements.router)
    api.include_router(costing.router)
    api.include_router(admin.router)
    api.include_router(quarantine.router)
    api.include_router(transactions.router)  # before the dashboard's {project:path} page
    api.include_router(profile.router)  # spend profiles
    api.include_router(portfolio.router)  # the KTP office's portfolio
    api.include_router(dashboard_alerts.router)  # alerts across projects (issue 16), before {project:path}
    api.include_router(dashboard_import.router)  # before the forms' {slug} routes
    api.include_router(dashboard_acknowledge.router)  # before the dashboard's {project:path} page
    api.include_router(dashboard_forms.router)  # before the dashboard's {project:path} page too
    api.include_router(dashboard_new_project.router)
    api.include_router(dashboard_portfolio.router)  # before the dashboard's {project:path} page
    api.include_router(dashboard.router)
    api.mount("/dashboard/static", StaticFiles(directory=str(dashboard.STATIC)), name="static")
    api.mount("/docs/static", StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @api.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="ktpledger API",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/dashboard/static/favicon.svg",
        )

    api.add_middleware(SecurityHeaders)
    if survivors is not None:
        api.add_middleware(SettledHeap, survivors=survivors)

    return api


def serve(application: App, *, host: str, port: int, limits: ServeLimits, workers: int = 1) -> None:
    """Serve the API and the dashboard over `application` on `host`:`port` with the bounded server
    (api/server.py) until it is stopped, in `workers` processes. The `http` entry point of the
    `ktpledger.servers` group: the command line finds it there, so that it never imports this
    package."""

    def in_each_worker() -> None:
        # A forked worker must not use the connections its parent opened: it opens its own.
        application.database.engine.dispose(close=False)

    survivors = SurvivorsFrozen()
    served = create_app(application, wakeups_after_response=True, survivors=survivors)
    survivors.settle()  # start-up's objects, before any fork: each worker process starts frozen
    server.run(
        served,
        host=host,
        port=port,
        limits=limits,
        workers=workers,
        in_each_worker=in_each_worker,
    )
