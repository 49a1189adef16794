"""The projector's stored health facts (`project_facts`, `domain/health_facts.py`) of the ledger's
head, for readers of many projects (the project list, `GET /projects`): parsed once per process
and project version, so a list of a thousand projects reads their versions, not their facts, on
every request but the first.

Facts are used only when they are of the project's head and the project is not quarantined; the
caller folds any other project (the projector has not reached it yet, or it names its unreadable
row)."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence

from ktpledger.adapters.database import Database
from ktpledger.adapters.projection_sql import projection_store
from ktpledger.domain.health_facts import HealthFacts
from ktpledger.domain.statuses import FAILED
from ktpledger.service.caches import BoundedCache, PerDatabase

FACTS_CACHE_SIZE = 5_000  # parsed facts kept per process: a few kilobytes each


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
        for row in unit.facts.of_projects(missing) if missing else []:
            name = str(row["project"])
            if int(row["version"]) != current[name]:
                continue  # the projector moved on between the two reads: the caller folds it
            try:
                facts = HealthFacts.from_json(json.loads(str(row["facts"])))
            except (ValueError, KeyError, TypeError, ArithmeticError):
                continue  # facts of an older format: the caller folds the project
            cache.put((name, facts.version), facts)
            found[name] = facts
    return found
