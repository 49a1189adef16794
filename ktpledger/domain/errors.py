"""The one error the rule core raises: a rule was broken, and which; and how a refusal quotes input."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from json import dumps

SHOWN_LENGTH = 80  # characters of a refused value quoted back; the rest is cut
SHOWN_ITEMS = 8  # items of a list or object quoted back


class RuleViolation(ValueError):
    """Input breaks rule `rule` (an R-nn id of RULES.md); `message` says what to fix."""

    def __init__(self, rule: str, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str]:
        """The JSON shape of CONTRACT.md: `{"rule": ..., "message": ...}`."""
        return {"rule": self.rule, "message": self.message}


class UnknownProject(RuleViolation):
    """A read of a project that has no events (R-31, on the `project` field): made by
    `unknown_project`, which keeps what it was told so an entry point can say it again to a caller
    who may see less (the HTTP API: only the projects a token may read, never the database)."""

    def __init__(self, project: str, known: tuple[str, ...], where: str | None, message: str) -> None:
        super().__init__("R-31", message, field="project")
        self.project = project
        self.known = known
        self.where = where


NEAREST_PROJECTS = 3  # suggestions after an unknown project
LISTED_PROJECTS = 10  # a ledger with no more projects than this lists them when none is near


def unknown_project(project: str, known: Iterable[str], where: str | None) -> UnknownProject:
    """The refusal of a read of `project`, which has no events: it names the project, `where` the
    ledger was read (a database URL with its password hidden; None when the reader must not be
    told), and the nearest of the `known` project references; or says plainly that there are none.
    `known` is every project the reader may see: over the HTTP API, only those its token may read."""
    names = tuple(sorted(set(known)))
    opening = f"unknown project {shown(project)}: " + (
        f"the ledger at {where} has no events for it" if where else "it has no events"
    )
    near = difflib.get_close_matches(project, names, n=NEAREST_PROJECTS, cutoff=0.6)
    if near:
        also = ", ".join(near[:-1])
        advice = f"did you mean {f'{also} or ' if also else ''}{near[-1]}?"
    elif not names and where:
        advice = (
            "that ledger has no projects at all: record the project's events there first "
            "(`ktpledger record FILE`), or read another with --db or KTPLEDGER_DATABASE_URL"
        )
    elif not names:
        advice = "there are no projects you may read"
    elif len(names) <= LISTED_PROJECTS:
        advice = f"no project has a similar name; the projects are {', '.join(names)}"
    else:
        advice = f"none of the {len(names)} projects has a similar name"
    return UnknownProject(project, names, where, f"{opening}; {advice}")


def shown(value: object) -> str:
    """A value of the user's input quoted back as they would have written it in JSON: 1.5, "abc",
    true, null, ["a", 2]; never Python's spelling (`Decimal('1.5')`, `'abc'`, `True`, `None`).
    A long value is cut to `SHOWN_LENGTH` characters."""
    text = _UNPRINTED.sub(_escaped, _as_json(value))
    return text if len(text) <= SHOWN_LENGTH else text[: SHOWN_LENGTH - 3] + "..."


# What JSON leaves as itself but a refusal must not: DEL, the C1 controls, the line and paragraph
# separators, and lone surrogates, which no UTF-8 output (a terminal, an HTTP body) can carry.
_UNPRINTED = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _escaped(found: re.Match[str]) -> str:
    return f"\\u{ord(found.group()):04x}"


def _as_json(value: object, depth: int = 0) -> str:
    if value is None or isinstance(value, (bool, float)):
        return dumps(value)
    if isinstance(value, (int, Decimal)):
        return str(value)  # a Decimal as it was typed: 1.5, 1E+2, NaN
    if isinstance(value, str):
        return dumps(value[: SHOWN_LENGTH + 1], ensure_ascii=False)
    if isinstance(value, date):
        return dumps(value.isoformat())
    if isinstance(value, (Mapping, list, tuple)):
        # Only as much as can be shown, and never deep: a refused input may be large or nested.
        if depth >= 3:
            return "..."
        items = list(value.items())[:SHOWN_ITEMS] if isinstance(value, Mapping) else list(value)[:SHOWN_ITEMS]
        more = len(value) > SHOWN_ITEMS
        if isinstance(value, Mapping):
            parts = [f"{_as_json(str(k), depth + 1)}: {_as_json(v, depth + 1)}" for k, v in items]
            return "{" + ", ".join(parts + ["..."] * more) + "}"
        parts = [_as_json(item, depth + 1) for item in items]
        return "[" + ", ".join(parts + ["..."] * more) + "]"
    return dumps(str(value)[: SHOWN_LENGTH + 1], ensure_ascii=False)
