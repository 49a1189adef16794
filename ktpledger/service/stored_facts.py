"""The projector's stored health facts (`project_facts`, `domain/health_facts.py`) of the ledger's
head, for readers of many projects: parsed once per process and project version (`current_facts`),
and for the project list (`GET /projects`) only the fields it shows (`listed_facts_of`, whose caller
knows the heads already: one query for the facts not parsed yet).

Facts are used only when they are of the project's head and the project is not quarantined; the
caller folds any other project (the projector has not reached it yet, or it names its unreadable
row)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from ktpledger.adapters.database import Database
from ktpledger.adapters.projection_sql import projection_store
from ktpledger.domain.health_facts import HealthFacts, ListedFacts
from ktpledger.domain.statuses import FAILED
from ktpledger.service.caches import BoundedCache, PerDatabase

FACTS_CACHE_SIZE = 5_000  # parsed facts kept per process: a few kilobytes each


F = TypeVar("F", bound=ListedFacts)  # parsed of a facts row (`parsed_rows`): HealthFacts or ListedFacts


class FactsCache(BoundedCache[tuple[str, int], HealthFacts]):
    """Parsed facts by project and version (the facts of a version never change)."""

    def __init__(self, size: int = FACTS_CACHE_SIZE) -> None:
        super().__init__(size)


FACTS: PerDatabase[FactsCache] = PerDatabase(FactsCache)


def current_facts(
    database: Database,
    names: Sequence[str],
    cache: FactsCache | None = None,
    *,
    quarantined: Collection[str] | None = None,
) -> dict[str, HealthFacts]:
    """The stored facts of those of `names` whose facts are of the ledger's head and whose
    projection is not quarantined, in at most four queries: the heads, the projections' status
    (unless the caller read them: `quarantined`), the facts' versions, and the facts of the
    versions this process has not parsed yet."""
    cache = FACTS.of(database) if cache is None else cache
    if not names:
        return {}
    found: dict[str, HealthFacts] = {}
    with projection_store(database).read() as unit:
        heads = unit.events.heads(names)
        failed = (
            {row["project"] for row in unit.heads.of(names) if row.get("status") == FAILED}
            if quarantined is None
            else set(quarantined)
        )
        current = {
            name: version
            for name, version in unit.facts.versions(names).items()
            if name not in failed and version == heads.get(name)
        }
        missing = []
        for name, version in current.items():
            cached = cache.get((name, version))
            if cached is None:
                missing.append(name)
            else:
                found[name] = cached
        # A row of another version (the projector moved on between the two reads) is left out.
        rows = unit.facts.of_projects(missing) if missing else []
        found.update(parsed_rows(rows, current, HealthFacts.from_json, cache))
    return found


class ListedFactsCache(BoundedCache[tuple[str, int], ListedFacts]):
    """Listed facts by project and version (the facts of a version never change)."""

    def __init__(self, size: int = FACTS_CACHE_SIZE) -> None:
        super().__init__(size)


def listed_facts_of(
    database: Database,
    heads: Mapping[str, int],
    cache: ListedFactsCache,
    *,
    quarantined: Collection[str] = (),
) -> dict[str, ListedFacts]:
    """The listed facts of the projects of `heads` (each project's head version in the ledger,
    as the caller read it) whose stored facts are of that head and whose projection is not
    quarantined: those parsed before from `cache`, the rest in one query."""
    found: dict[str, ListedFacts] = {}
    missing = []
    for name, version in heads.items():
        if name in quarantined:
            continue
        cached = cache.get((name, version))
        if cached is None:
            missing.append(name)
        else:
            found[name] = cached
    if not missing:
        return found
    with projection_store(database).read() as unit:
        rows = unit.facts.of_projects(missing)
    found.update(parsed_rows(rows, heads, ListedFacts.from_json, cache))
    return found


def parsed_rows(
    rows: Iterable[Mapping[str, Any]],
    versions: Mapping[str, int],
    parse: Callable[[Mapping[str, Any]], F],
    cache: BoundedCache[tuple[str, int], F],
) -> dict[str, F]:
    """The facts of those facts `rows` that are of the project's version in `versions` and of this
    format, parsed by `parse` and kept in `cache` by project and version; the caller folds any
    other project (a row of another version, or of facts of an older format)."""
    found: dict[str, F] = {}
    for row in rows:
        name = str(row["project"])
        if int(row["version"]) != versions[name]:
            continue  # not of the version the caller read: the caller folds it
        try:
            facts = parse(json.loads(str(row["facts"])))
        except (ValueError, KeyError, TypeError, ArithmeticError):
            continue  # facts of an older format: the caller folds the project
        cache.put((name, facts.version), facts)
        found[name] = facts
    return found
