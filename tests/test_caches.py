"""The caches long-lived processes keep (service/caches.py): a byte budget, least recently used out."""

from __future__ import annotations

from pathlib import Path

from ktpledger.adapters.database import Database, build_engine
from ktpledger.domain.events import parse_event
from ktpledger.domain.project import (
    STATE_BYTES_BASE,
    STATE_BYTES_PER_ITEM,
    STATE_BYTES_PER_KEY,
    STATE_BYTES_PER_MONTH,
    ProjectState,
)
from ktpledger.service.caches import PerDatabase, WeighedCache
from ktpledger.service.ledger_deciding import StateCache
from tests.ledger.factory import PROJECT, claim, offer


def test_the_least_recently_used_go_first_once_the_budget_is_passed() -> None:
    cache: WeighedCache[str, str] = WeighedCache(10, len)
    cache.put("a", "xxxx")
    cache.put("b", "yyyy")
    assert cache.get("a") == "xxxx"  # a is now the most recently used
    cache.put("c", "zzz")  # 4 + 4 + 3 = 11 > 10: b goes
    assert (cache.get("b"), cache.get("a"), cache.get("c"), cache.weight) == (None, "xxxx", "zzz", 7)


def test_a_value_replaced_or_popped_gives_its_weight_back_and_one_over_budget_is_not_kept() -> None:
    cache: WeighedCache[str, str] = WeighedCache(10, len)
    cache.put("a", "xxxxxx")
    cache.put("a", "xx")
    assert cache.weight == 2
    assert cache.pop("a") == "xx" and cache.weight == 0 and len(cache) == 0
    cache.put("big", "x" * 11)
    assert cache.get("big") is None and cache.weight == 0


def test_over_its_budget_a_cache_lightens_the_least_recently_used_first_and_drops_only_if_need_be() -> None:
    lightened: list[str] = []

    def lighten(value: list[str]) -> bool:
        if len(value) == 1:
            return False
        lightened.append(value[0])
        del value[1:]
        return True

    cache: WeighedCache[str, list[str]] = WeighedCache(6, len, lighten)
    cache.put("a", ["a", "a", "a"])
    cache.put("b", ["b", "b", "b"])
    cache.put("c", ["c", "c"])  # 8 > 6: a is lightened (to 1), enough: 6
    assert (lightened, cache.weight, len(cache)) == (["a"], 6, 3)
    assert cache.get("a") == ["a"]  # still a hit, and now the most recently used
    cache.put("d", ["d", "d", "d"])  # 9: b, then c lightened (7, 6)
    assert (lightened, cache.weight, len(cache)) == (["a", "b", "c"], 6, 4)
    cache.put("e", ["e", "e"])  # 8: only d is left to lighten (6), enough
    assert (lightened[-1], cache.weight, len(cache)) == ("d", 6, 5)
    cache.put("f", ["f"])  # 7: nothing left to lighten but e: lightened (6)
    cache.put("g", ["g"])  # 7, all light: the least recently used dropped (b)
    assert (cache.get("b"), cache.weight, len(cache)) == (None, 6, 6)


def test_a_state_weighs_by_what_it_holds_and_the_state_cache_keeps_to_its_budget() -> None:
    events = [offer(), claim("c1", "1.00"), claim("c2", "2.00")]
    keyless = ProjectState(project=PROJECT, track_keys=False)
    keyed = ProjectState(project=PROJECT)
    for version, item in enumerate(events, start=1):
        keyless.apply(parse_event(item), version, "h")
        keyed.apply(parse_event(item), version, "h")
    # Two claims, both dated in one month of one line (the factory's consumables, 2025-01-15).
    assert keyless.approximate_bytes() == STATE_BYTES_BASE + 2 * STATE_BYTES_PER_ITEM + STATE_BYTES_PER_MONTH
    assert keyed.approximate_bytes() == keyless.approximate_bytes() + 3 * STATE_BYTES_PER_KEY
    cache = StateCache(budget=2 * keyless.approximate_bytes())
    for name in ("P1", "P2", "P3"):
        state = ProjectState(project=name, track_keys=False)
        for version, item in enumerate(events, start=1):
            state.apply(parse_event({**item, "project": name}), version, "h")
        cache.put(state)
    assert (cache.get("P1"), cache.get("P2") is not None, cache.get("P3") is not None) == (None, True, True)
    assert cache.weight == 2 * keyless.approximate_bytes()


def test_each_database_has_a_cache_of_its_own(tmp_path: Path) -> None:
    caches: PerDatabase[WeighedCache[str, str]] = PerDatabase(lambda: WeighedCache(100, len))
    one = Database(build_engine(f"sqlite:///{tmp_path}/one.db"))
    other = Database(build_engine(f"sqlite:///{tmp_path}/other.db"))
    caches.of(one).put("KTP-0042 v5", "one's facts")
    assert caches.of(other).get("KTP-0042 v5") is None  # the same project and version elsewhere
    assert caches.of(one).get("KTP-0042 v5") == "one's facts"
    assert caches.of(Database(build_engine(f"sqlite:///{tmp_path}/one.db"))) is caches.of(one)
