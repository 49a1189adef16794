"""The dashboard's forms, by slug. To add a form: write a module of this package defining a
`FormDefinition` (see `spend_claim.py`), and add it to `FORMS` below."""

from __future__ import annotations

from ktpledger.api.forms import spend_claim
from ktpledger.api.forms.base import FormDefinition
from ktpledger.service.access import Principal

FORMS: tuple[FormDefinition, ...] = (spend_claim.FORM,)

REGISTRY: dict[str, FormDefinition] = {form.slug: form for form in FORMS}


def forms_for(who: Principal) -> list[FormDefinition]:
    """The forms `who`'s role may use (none for a viewer)."""
    return [form for form in FORMS if who.can_record(form.event_type)]


__all__ = ["FORMS", "REGISTRY", "FormDefinition", "forms_for"]
