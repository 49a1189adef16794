"""What every projection job shares: the store, the alert channels, the renotify window, and the
projects kept folded between catch-ups."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from ktpledger.adapters.projection_store import ProjectionStore
from ktpledger.domain.alerts import AlertKey
from ktpledger.domain.live import LiveProject


@dataclass
class Warm:
    """A project folded and kept between catch-ups: its live fold, the allowance rows as written,
    and its open alerts with the `current` figures as written."""

    live: LiveProject
    lines: dict[str, tuple[object, ...]]
    open_alerts: dict[AlertKey, str]


class WarmCache:
    """Folded projects kept warm between catch-ups, so a wake-up folds only the new events. An
    entry is used only when its version equals the saved one, and dropped on any failure."""

    def __init__(self, size: int) -> None:
        self._entries: OrderedDict[str, Warm] = OrderedDict()
        self._size = size

    def keep(self, warm: Warm) -> None:
        project = warm.live.state.project
        self._entries[project] = warm
        self._entries.move_to_end(project)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def take(self, project: str) -> Warm | None:
        return self._entries.pop(project, None)

    def drop(self, project: str) -> None:
        self._entries.pop(project, None)

    def clear(self) -> None:
        self._entries.clear()


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
    warm: WarmCache = field(default_factory=lambda: WarmCache(5000))

    def channels_for(self, kind: str) -> tuple[str, ...]:
        """The channels a raise of `kind` is queued on."""
        return tuple(c for c in self.channels if c not in self.channel_kinds or kind in self.channel_kinds[c])
