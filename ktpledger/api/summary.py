"""The dashboard's summaries over HTTP: the JSON of the project list and of one project's summary.

The read models and how they are made live in `service/project_summary.py`; this module only
writes them, as `GET /projects` and `GET /projects/{project}/summary` answer.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ktpledger.bootstrap import App
from ktpledger.service.access import Principal
from ktpledger.service.project_summary import project_list_json, project_summary


def projects_json(application: App, who: Principal, *, today: date) -> bytes:
    """`GET /projects`: the project list's rows (`project_summary.project_list`) as the JSON array
    `JSONResponse` would write, written once per change and kept (`project_summary.ListCache`)."""
    return project_list_json(application, who, today=today)


def summary_json(application: App, project: str, *, today: date) -> dict[str, Any]:
    """`GET /projects/{project}/summary` (`project_summary.project_summary`)."""
    return project_summary(application, project, today=today).to_json()
