"""A bounded cache for values derived from the ledger that never change for their key (a project's
facts of a version, its portfolio row or listing of a version on a day): a reader keeps them
between requests so it redoes only the work of what changed."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from ktpledger.adapters.database import Database

C = TypeVar("C")
K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """Values by key, at most `size` of them, the least recently used out first; safe across a
    server's threads. For values that never change for their key (a project's facts of a version,
    its listing of a version on a day)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._values.get(key)
            if found is not None:
                self._values.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self._size:
                self._values.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


class WeighedCache(Generic[K, V]):
    """Values by key under a byte budget, the least recently used out first (issue 18: a
    long-lived process holds project states by what they weigh, not by their number). Not
    thread-safe: its owner guards it. A value heavier than the whole budget is not kept.

    With `lighten` (a value made lighter in place: True if it now weighs less), a cache over its
    budget first lightens its values, the least recently used first, and drops values only if
    that is not enough: a value lightened is still a hit, where one dropped must be made again."""

    def __init__(
        self, budget: int, weigh: Callable[[V], int], lighten: Callable[[V], bool] | None = None
    ) -> None:
        self.budget = budget
        self._weigh = weigh
        self._lighten = lighten
        self._values: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._light: set[K] = set()  # lightened since put: lightening them again gains nothing
        self.weight = 0  # what the values held weigh, as weighed when put

    def __len__(self) -> int:
        return len(self._values)

    def peek(self, key: K) -> V | None:
        """The value held, its place in the LRU order unchanged."""
        found = self._values.get(key)
        return None if found is None else found[0]

    def get(self, key: K) -> V | None:
        found = self._values.get(key)
        if found is None:
            return None
        self._values.move_to_end(key)
        return found[0]

    def put(self, key: K, value: V) -> None:
        self.pop(key)
        weight = self._weigh(value)
        if weight > self.budget:
            return
        self._values[key] = (value, weight)
        self.weight += weight
        if self.weight > self.budget and self._lighten is not None:
            self._lighten_to_budget()
        while self.weight > self.budget:
            dropped, (_, gone) = self._values.popitem(last=False)
            self._light.discard(dropped)
            self.weight -= gone

    def _lighten_to_budget(self) -> None:
        assert self._lighten is not None
        for key, (value, weight) in list(self._values.items()):
            if key in self._light:
                continue
            self._light.add(key)
            if self._lighten(value):
                lighter = self._weigh(value)
                self._values[key] = (value, lighter)  # a key already held: its place is kept
                self.weight += lighter - weight
                if self.weight <= self.budget:
                    return

    def pop(self, key: K) -> V | None:
        found = self._values.pop(key, None)
        if found is None:
            return None
        self._light.discard(key)
        self.weight -= found[1]
        return found[0]

    def clear(self) -> None:
        self._values.clear()
        self._light.clear()
        self.weight = 0


class Weighed(Generic[K, V]):
    """What a service cache over a `WeighedCache` (`_weighed`) shows of it: what it holds weighs,
    and its budget, which may be narrowed (a one-shot `record`), kept to from the next value put."""

    _weighed: WeighedCache[K, V]

    @property
    def weight(self) -> int:
        return self._weighed.weight

    @property
    def budget(self) -> int:
        return self._weighed.budget

    @budget.setter
    def budget(self, budget: int) -> None:
        self._weighed.budget = budget


class PerDatabase(Generic[C]):
    """One cache per database a process reads (tests open many in one process; a value keyed by
    project and version alone would be another database's). Keyed by the database's URL, schema
    included; the most recently used `size` databases are kept."""

    def __init__(self, make: Callable[[], C], size: int = 8) -> None:
        self._make = make
        self._caches: BoundedCache[str, C] = BoundedCache(size)
        self._lock = threading.Lock()

    def of(self, database: Database) -> C:
        key = database.engine.url.render_as_string(hide_password=False)
        with self._lock:
            found = self._caches.get(key)
            if found is None:
                found = self._make()
                self._caches.put(key, found)
            return found
