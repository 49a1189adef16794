"""What a dashboard form is: its fields, who may use it (the event type it records) and how the
values a person typed become events (dicts as `POST /events` takes them).

A form is data: the shared templates (`record_form.html`, `record_preview.html`) render any form
from its `FormDefinition`, and the routes of `api/dashboard_forms.py` run every form the same way
(CSRF, signing, the effect preview, the append). A form module defines one `FormDefinition`; the
registry (`api/forms/__init__.py`) lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from ktpledger.domain.project import ProjectState

FieldKind = Literal["date", "money", "text", "textarea", "select", "checkboxes"]
Values = Mapping[str, str | tuple[str, ...]]
"""What the person typed, by field name: a text, or the chosen options of a `checkboxes` field."""


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Field:
    """One input. `choices` (for `select` and `checkboxes`) reads the project's state, so a form
    offers only what the project has (its budget lines, its claims). `aliases` are the names the
    domain gives the field in its `RuleViolation.field` when they differ from `name`."""

    name: str
    label: str
    kind: FieldKind
    hint: str = ""
    required: bool = True
    choices: Callable[[ProjectState], list[Choice]] | None = None
    aliases: tuple[str, ...] = ()
    blank: str = "none"  # what the preview shows for an optional field left blank

    @property
    def multiple(self) -> bool:
        return self.kind == "checkboxes"


Build = Callable[[str, Values], list[dict[str, object]]]
"""(project, values) -> the events, without their `key`: the framework gives each one its key from
the form's nonce (`dashboard:NONCE`, or `dashboard:NONCE:N` when a form records several)."""

BuildOn = Callable[[ProjectState, str, Values], list[dict[str, object]]]
"""(state, project, values) -> the events: a `build` that reads the project's state, such as a budget
revision that names only the lines whose figure was changed."""


@dataclass(frozen=True)
class FormDefinition:
    """A dashboard form. `slug` is its URL part (`/dashboard/projects/{project}/record/{slug}`);
    `event_type` decides who may use it (`Principal.can_record`); `build` turns the typed values
    into events. `build` must not judge them: the domain does (`parse_event`, `ProjectState.check`),
    and its `RuleViolation` is shown by the field it names."""

    slug: str
    title: str
    event_type: str
    description: str
    fields: tuple[Field, ...]
    build: Build
    defaults: Callable[[ProjectState], dict[str, str]] = field(default=lambda _state: {})
    more_fields: Callable[[ProjectState], tuple[Field, ...]] = field(default=lambda _state: ())
    """Fields that depend on the project, after `fields` (a budget revision's input per line)."""
    build_on: BuildOn | None = None
    """When set, used instead of `build`, with the project's state."""

    def fields_of(self, state: ProjectState) -> tuple[Field, ...]:
        """Every input of the form on this project: `fields`, then `more_fields(state)`."""
        return self.fields + self.more_fields(state)

    def events(self, state: ProjectState, project: str, values: Values) -> list[dict[str, object]]:
        """The events the values make (`build_on` when set, else `build`)."""
        return self.build_on(state, project, values) if self.build_on else self.build(project, values)

    def field_named(self, name: str | None, state: ProjectState | None = None) -> Field | None:
        """The field a domain error names (by its name or an alias), or None."""
        for each in self.fields if state is None else self.fields_of(state):
            if name is not None and (name == each.name or name in each.aliases):
                return each
        return None


def text(values: Values, name: str) -> str:
    """A single-valued field's text ("" when missing)."""
    value = values.get(name, "")
    return value if isinstance(value, str) else (value[0] if value else "")


def chosen(values: Values, name: str) -> list[str]:
    """A `checkboxes` field's chosen options."""
    value = values.get(name, ())
    return [value] if isinstance(value, str) else list(value)
