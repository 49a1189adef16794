"""The finance form that uploads a finance system's export (CSV or XLSX) with its import profile,
previews it as `ktpledger import --dry-run` plans it, and records it on confirmation.

A file does not fit the framework's typed fields: its pages and routes are
`api/dashboard_import.py` (matched before the framework's `{slug}` routes), and this definition only
lists it on the project page. Its `event_type` is the claim: who may use it is a role that may
record every type an import makes (`IMPORTED_TYPES`, checked by its routes too).
"""

from __future__ import annotations

from ktpledger.api.forms.base import FormDefinition, Values

SLUG = "export-upload"


def build(_project: str, _values: Values) -> list[dict[str, object]]:
    return []  # its events are the import's plan's (api/dashboard_import.py)


FORM = FormDefinition(
    slug=SLUG,
    title="Export upload",
    event_type="SpendClaimed",
    description=(
        "Upload the finance system's export (CSV or XLSX) and its import profile: each row's fate "
        "and the lines' effect are shown before anything is recorded."
    ),
    fields=(),
    build=build,
)
