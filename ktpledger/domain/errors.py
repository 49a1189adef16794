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
    """Input breaks rule `rule` (an R-nn id of docs/rules.md); `message` says what to fix."""

    def __init__(self, rule: str, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of docs/cli.md: `{"rule": ..., "message": ...}`."""
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


class UnreadableEvent(RuleViolation):
    """A recorded event that cannot be turned back into a domain event, or folded into its project
    (R-30): written by an older version, recorded under a rule that has since changed, or edited
    by hand. It names the row (`project`, `version`, `position`, its `event_type`) and the `cause`.
    The ledger keeps the row as it is; readers of the project are refused naming it, and its
    projection is quarantined (README, "Quarantine") while every other project carries on.

    `position` is None when the fold that failed was handed the event without its row; the reader
    that holds the row fills it in (`recorded.located`)."""

    def __init__(self, project: str, version: int, position: int | None, event_type: str, cause: str) -> None:
        where = f"position {position}, {event_type}" if position is not None else event_type
        super().__init__(
            "R-30",
            f"recorded event {version} of project {project} ({where}) cannot be read: {cause}. "
            "The ledger keeps it as recorded; the project's projection stops at the events before it "
            "until ktpledger can read it and an administrator runs "
            f"`ktpledger projection retry {project}`",
            field="event",
        )
        self.project = project
        self.version = version
        self.position = position
        self.event_type = event_type
        self.cause = cause

    def __reduce__(self) -> tuple[object, ...]:
        # Picklable with its own arguments (the parallel replay hands errors between processes).
        return (type(self), (self.project, self.version, self.position, self.event_type, self.cause))

    def row(self) -> dict[str, object]:
        """The row it is about, for JSON."""
        return {
            "project": self.project,
            "version": self.version,
            "position": self.position,
            "type": self.event_type,
        }

    def as_dict(self) -> dict[str, object]:
        """The documented error shape with the row added (`event`)."""
        return {"rule": self.rule, "message": self.message, "event": self.row()}


def cause_of(error: BaseException) -> str:
    """What went wrong, in a few words, for an `UnreadableEvent`'s `cause`."""
    if isinstance(error, RuleViolation):
        return f"{error.rule}: {error.message}"
    text = str(error)
    if isinstance(error, KeyError):
        return f"no {text} where the event needs one"
    if isinstance(error, (ValueError, ArithmeticError)) and text and not text.startswith("["):
        return text
    return f"{type(error).__name__}{': ' + text if text else ''}"


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
