"""The dashboard's forms, by slug (docs/http-api.md, "Recording from the dashboard").

To add a form (no shared template or route changes):

1. Write a module of this package, say `reversal.py`, defining `FORM = FormDefinition(...)`:
   - `slug`: its URL part (`/dashboard/projects/{project}/record/{slug}`);
   - `title`, `description`: what the page says;
   - `event_type`: the event it records: who may use the form is `Principal.can_record(event_type)`
     (the project page lists it for those roles only; the routes refuse the others with 403);
   - `fields`: `Field(name, label, kind, hint=..., required=..., choices=..., aliases=...)`, with
     `kind` one of `date`, `money`, `text`, `textarea`, `select`, `checkboxes`; `choices` reads the
     project's `ProjectState` (its lines, its claims); `aliases` are the names the domain's
     `RuleViolation.field` uses for this field when they differ from `name`;
   - `build(project, values)`: the events as `POST /events` takes them, without `key` (the
     framework sets `dashboard:NONCE`, or `dashboard:NONCE:N` for several), and without judging the
     values: the domain does, and its refusal is shown beside the field it names;
   - optionally `defaults(state)`: the values a new form starts with.
   - optionally `more_fields(state)`: inputs that depend on the project (one per budget line, as
     the budget revision and the amendment have), after `fields`; and `build_on(state, project,
     values)` instead of `build` when the events depend on the project's state (only the lines
     whose figure was changed). A confirm whose key is already recorded is answered "already
     recorded" before building again, so such a form stays idempotent.
2. Add `reversal.FORM` to `FORMS` below.
3. Test it as `tests/api/test_dashboard_forms.py` tests the spend claim; document it in
   docs/http-api.md ("Recording from the dashboard").
"""

from __future__ import annotations

from ktpledger.api.forms import (
    admin,
    export_upload,
    grant_payment,
    lmc,
    parental_leave,
    reversal,
    spend_claim,
)
from ktpledger.api.forms.base import FormDefinition
from ktpledger.service.access import Principal

FORMS: tuple[FormDefinition, ...] = (
    spend_claim.FORM,
    reversal.FORM,
    parental_leave.FORM,
    grant_payment.FORM,
    export_upload.FORM,
    *lmc.FORMS,
    *admin.FORMS,
)

REGISTRY: dict[str, FormDefinition] = {form.slug: form for form in FORMS}


def forms_for(who: Principal) -> list[FormDefinition]:
    """The forms `who`'s role may use (none for a viewer)."""
    return [form for form in FORMS if who.can_record(form.event_type)]


__all__ = ["FORMS", "REGISTRY", "FormDefinition", "forms_for"]
