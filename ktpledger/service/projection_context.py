"""What every projection job shares: the store, the alert channels, the renotify window, and the
projects kept folded between catch-ups."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from ktpledger.adapters.projection_store import ProjectionStore
from ktpledger.domain.alerts import AlertKey
from ktpledger.domain.allowances import Allowance
from ktpledger.domain.live import LiveProject
from ktpledger.service.caches import Weighed, WeighedCache

# What the projects kept folded between catch-ups may weigh in one process (issue 18).
WARM_CACHE_BYTES = 64 * 1024 * 1024


@dataclass
class Warm:
    """A project folded and kept between catch-ups: its live fold, the allowance rows as written,
    and its open alerts with the `current` figures as written."""

    live: LiveProject
    lines: dict[str, tuple[object, ...]]
    open_alerts: dict[AlertKey, str]
    # The allowance line each written row was made from, with its ordinal: a line the fold has
    # not judged again since is the same object, and its row is not made again to be compared.
    line_sources: dict[str, tuple[int, Allowance]] = field(default_factory=dict)
    # The version of the totals snapshot this process last kept of the project at its head
    # (`catch_up.HEAD_SNAPSHOT_EVERY`), replaced by the next; 0: none known.
    head_snapshot: int = 0


class WarmCache(Weighed[str, Warm]):
    """Folded projects kept warm between catch-ups, so a wake-up folds only the new events, under
    a byte budget (issue 18); a project dropped starts again from its snapshot. An entry is used
    only when its version equals the saved one, and dropped on any failure."""

    def __init__(self, budget: int = WARM_CACHE_BYTES) -> None:
        self._weighed: WeighedCache[str, Warm] = WeighedCache(budget, _weigh)

    def keep(self, warm: Warm) -> None:
        self._weighed.put(warm.live.state.project, warm)

    def take(self, project: str) -> Warm | None:
        return self._weighed.pop(project)

    def version(self, project: str) -> int | None:
        """The version the project is kept folded at, if it is kept."""
        warm = self._weighed.peek(project)
        return None if warm is None else warm.live.version

    def drop(self, project: str) -> None:
        self._weighed.pop(project)

    def clear(self) -> None:
        self._weighed.clear()


def _weigh(warm: Warm) -> int:
    # The live fold's lines and alert conditions are about as much again as its state.
    return 2 * warm.live.state.approximate_bytes()


@dataclass
class Projections:
    """The projection jobs' shared setting: where the projections are kept, which channels a raise
    is queued on, and how soon after resolving a raise of the same alert goes unnotified."""

    store: ProjectionStore
    channels: tuple[str, ...]
    renotify_after: timedelta
    # The kinds a channel is sent, for the channels that are not sent every kind (the `email`
    # channel with the digest on: over_cap and over_budget); a raise of another kind queues no
    # row on that channel.
    channel_kinds: Mapping[str, frozenset[str]] = field(default_factory=dict)
    warm: WarmCache = field(default_factory=WarmCache)

    def channels_for(self, kind: str) -> tuple[str, ...]:
        """The channels a raise of `kind` is queued on."""
        return tuple(c for c in self.channels if c not in self.channel_kinds or kind in self.channel_kinds[c])
