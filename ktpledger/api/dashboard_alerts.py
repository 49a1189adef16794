"""The alerts across projects page (`GET /dashboard/alerts`, issue 16 item 4): the open alerts of
every project the signed-in token may read, as `GET /alerts/groups` gives them
(`service/alert_reader.py`), one group per kind, most pressing first, so twenty alerts of one kind
read as one line; each group opens on its alerts, each linked to its project. Filtered by kind and
project with a plain GET form (works without script); the page formats, it works nothing out."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ktpledger.api.dashboard import prefix, reading_day, render, to_login, viewer
from ktpledger.api.security import application
from ktpledger.bootstrap import App
from ktpledger.domain.alert_groups import group_alerts
from ktpledger.domain.alerts import AlertKind
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.labels import kind_label
from ktpledger.service.access import Principal
from ktpledger.service.alert_reader import of_kinds, parse_kinds, shown_alerts

router = APIRouter(include_in_schema=False)


@router.get("/dashboard/alerts")
def alerts_page(
    request: Request, who: Principal | None = Depends(viewer), app: App = Depends(application)
) -> Response:
    if who is None:
        return to_login(request)
    query = request.query_params
    kinds_given = query.getlist("kind")
    project = query.get("project", "").strip()
    today_text = query.get("today", "").strip()
    readable = who.visible(app.ledger.projects())
    context: dict[str, Any] = {
        "who": who,
        "nav": "alerts",
        "kinds": [(kind.value, kind_label(kind.value), kind.value in kinds_given) for kind in AlertKind],
        "projects": readable,
        "project": project,
        "today": today_text,
        "day_query": f"?today={quote(today_text, safe='')}" if today_text else "",
        "clear": f"{prefix(request)}/dashboard/alerts"
        + (f"?today={quote(today_text, safe='')}" if today_text else ""),
    }
    try:
        kinds = parse_kinds(kinds_given)
        day = reading_day(request, app)
        if project and project not in readable:
            raise RuleViolation("R-31", f"no project {project!r} that this sign-in may read", field="project")
        found = shown_alerts(
            app.database, project or None, today=day, projects=readable if who.projects is not None else None
        )
    except RuleViolation as error:
        context.update(
            error={"field": error.field or "", "message": f"{error.rule}: {error.message}"}, groups=None
        )
        return render(request, "alerts.html", context, status_code=422)
    shown = of_kinds(found, kinds)
    context.update(
        error=None,
        as_of=day,
        groups=group_alerts(shown),
        count=len(shown),
        project_count=len({alert.project for alert in shown}),
    )
    return render(request, "alerts.html", context)
