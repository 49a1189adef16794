"""The figures a benchmark hands to `bench/run.py` (`make bench`), and the table they are printed in.

The protocol, for a new benchmark `bench/NAME.py` to join `make bench`:

- it defines `brief() -> list[Figure]`, which runs it at a small, bounded size (seconds, not minutes:
  the whole of `make bench` takes a few minutes on a loaded 2-core machine) and says its sizes in
  the figures' notes;
- it measures each floor in the same run as its figure (a floor is what the bare database, driver
  or process allows: the ratio value/floor is what the target judges, so both must see the same load);
- it prints nothing it does not need to (run.py prints the table); a benchmark that prints free text
  when run directly can call its own functions under `quiet()`;
- when a server it needs is not reachable on 127.0.0.1 (`postgres_reachable()`, `redis_reachable()`),
  it returns `skipped(...)` figures (value None, the reason in the note) instead of raising;
- it stops every process it starts (try/finally), whatever happens;
- importing it runs nothing: its command line stays under `if __name__ == "__main__":`, and a
  script that runs from bench/ puts the checkout first on sys.path (as the others do) so that
  `from bench import figures` works both ways.

`python bench/run.py` imports every bench/*.py with a `brief` (or the ones named on its command line),
runs each, turns an exception into a row, prints the table and exits 0: a benchmark is not a test.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

POSTGRES_CONNINFO = "host=127.0.0.1 port=5432 user=postgres dbname=test"
BENCH_REDIS = "redis://127.0.0.1:6379/9"  # the one Redis database `make bench` may flush

# ">= 0.5x floor", "< 300 ms", ">= 20,000 events/s": the operator, a number and, with "x floor",
# a bound on value/floor rather than on the value; any unit after the number is the value's own.
TARGET = re.compile(r"^\s*(>=|<=|<|>)\s*([0-9][0-9,_]*(?:\.[0-9]+)?)\s*(x\s+floor\b)?")


@dataclass(frozen=True)
class Figure:
    """One measured figure: `value` in `unit` (None when not measured: the note says why), beside
    the `floor` measured in the same run (None when it has none) and the `target` judged on it."""

    name: str
    value: float | None
    unit: str = ""
    floor: float | None = None
    target: str = ""
    higher_is_better: bool = True
    note: str = ""
    peer: float | None = None  # the same path through the `eventsourcing` library, same unit
    # The best the value could be whatever the code around it, measured in the same run (e.g. the
    # append's own checking and hashing with no database), named by `bound_name`: when even it
    # misses the target, the target is out of reach (`out_of_reach`).
    bound: float | None = None
    bound_name: str = ""

    @property
    def ratio(self) -> float | None:
        """value / floor, when both were measured (and the floor is not zero)."""
        if self.value is None or self.floor is None or self.floor == 0:
            return None
        return self.value / self.floor

    @property
    def met(self) -> bool | None:
        """Whether the target is met: None when there is no target or nothing to judge it on."""
        if not self.target:
            return None
        match = TARGET.match(self.target)
        if match is None:
            raise ValueError(f"{self.name}: target {self.target!r} is not like '>= 0.5x floor' or '< 300 ms'")
        operator, number, of_floor = match.groups()
        return judge(self.ratio if of_floor else self.value, operator, number)

    @property
    def floor_meets(self) -> bool | None:
        """Whether the floor itself meets a target on the value ("< 8 s", ">= 20,000 events/s"):
        False says the target is out of reach here, since no figure can beat its floor. None for a
        target on the ratio (the floor is its unit), or with no floor or no target."""
        if not self.target:
            return None
        match = TARGET.match(self.target)
        if match is None or match.group(3):
            return None
        operator, number, _ = match.groups()
        return judge(self.floor, operator, number)

    @property
    def bound_meets(self) -> bool | None:
        """Whether `bound` meets the target (as a ratio to the floor, for a target on the ratio):
        False says no code could meet it here. None with no bound or no target."""
        if not self.target or self.bound is None:
            return None
        match = TARGET.match(self.target)
        if match is None:
            return None
        operator, number, of_floor = match.groups()
        if of_floor:
            if self.floor is None or self.floor == 0:
                return None
            return judge(self.bound / self.floor, operator, number)
        return judge(self.bound, operator, number)


def judge(judged: float | None, operator: str, number: str) -> bool | None:
    """`judged` against the bound `number` ("125,000") by `operator`; None when not measured."""
    if judged is None or math.isnan(judged):
        return None
    bound = float(number.replace(",", "").replace("_", ""))
    return {
        ">=": judged >= bound,
        ">": judged > bound,
        "<=": judged <= bound,
        "<": judged < bound,
    }[operator]


def skipped(reason: str, *names: str, unit: str = "", target: str = "") -> list[Figure]:
    """Figures not measured, each with the reason in its note ("skipped: PostgreSQL not running")."""
    return [Figure(name, None, unit, target=target, note=f"skipped: {reason}") for name in names]


def postgres_reachable(conninfo: str = POSTGRES_CONNINFO) -> bool:
    import psycopg

    try:
        with psycopg.connect(conninfo, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def redis_reachable(url: str = BENCH_REDIS) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping())
    except redis.RedisError:
        return False


@contextlib.contextmanager
def quiet() -> Iterator[io.StringIO]:
    """A benchmark's own free-text output, kept out of the table (yielded, should anyone want it)."""
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        yield captured


# --- the table ---------------------------------------------------------------------------------------


def number(value: float) -> str:
    """Three significant figures or so, thousands separated: 21,345 / 312 / 45.2 / 0.53."""
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def amount(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{number(value)} {unit}".rstrip()


def verdict(met: bool | None) -> str:
    return {True: "yes", False: "NO", None: "-"}[met]


def out_of_reach(figure: Figure) -> str:
    """What the note starts with when the target is missed and the floor misses it too: the
    evidence that this machine cannot meet it, whatever the code does."""
    if figure.met is False and figure.floor_meets is False:
        return f"OUT OF REACH: the floor ({amount(figure.floor, figure.unit)}) misses the target too; "
    if figure.met is False and figure.bound_meets is False:
        bound = amount(figure.bound, figure.unit)
        ratio = f", {figure.bound / figure.floor:.2f}x" if figure.floor else ""
        return f"OUT OF REACH: {figure.bound_name} ({bound}{ratio}) misses the target too; "
    return ""


COLUMNS = (
    ("benchmark", 10),
    ("figure", 24),
    ("value", 17),
    ("floor", 17),
    ("ratio", 7),
    ("target", 22),
    ("met", 4),
)


def table(rows: Sequence[tuple[str, Figure]], *, peer: bool = False) -> str:
    """The figures as fixed-width text: benchmark, figure, value, floor, ratio, target, met
    (with `peer`, the eventsourcing library's figure after them), then the note."""
    columns = list(COLUMNS) + ([("peer", 17)] if peer else [])
    lines = [
        " ".join(f"{title:<{width}}" for title, width in columns) + " note",
        " ".join("-" * width for _, width in columns) + " ----",
    ]
    for benchmark, figure in rows:
        ratio = figure.ratio
        cells = [
            benchmark,
            figure.name,
            amount(figure.value, figure.unit),
            amount(figure.floor, figure.unit),
            "-" if ratio is None else f"{ratio:.2f}x",
            figure.target or "-",
            verdict(figure.met),
        ]
        if peer:
            cells.append(amount(figure.peer, figure.unit))
        # A cell wider than its column pushes the rest right rather than being cut: a figure is
        # never shown truncated.
        text = " ".join(f"{cell:<{width}}" for cell, (_, width) in zip(cells, columns, strict=True))
        lines.append(f"{text} {out_of_reach(figure)}{figure.note}".rstrip())
    return "\n".join(lines)
