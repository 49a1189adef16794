"""The table `make bench` prints (bench/figures.py, bench/run.py), on fixed figures: nothing is timed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench import run
from bench.figures import Figure, skipped, table

BATCHED = Figure(
    "postgresql batched", 12_000.0, "events/s", floor=20_000.0, target=">= 0.5x floor", note="3,000 events"
)
SINGLE = Figure("postgresql single", 300.0, "events/s", floor=400.0, target=">= 0.8x floor")
READ = Figure("first read", 250.0, "ms", target="< 300 ms", higher_is_better=False)
RATE = Figure("replay", 100_000.0, "events/s", target=">= 125,000 events/s")
PLAIN = Figure("later read", 9.5, "ms", higher_is_better=False, note="same process")


def test_the_ratio_is_the_value_over_the_floor_measured_beside_it() -> None:
    assert BATCHED.ratio == pytest.approx(0.6)
    assert PLAIN.ratio is None  # no floor
    assert Figure("x", 1.0, floor=0.0).ratio is None


def test_a_target_is_judged_on_the_ratio_or_on_the_value() -> None:
    assert BATCHED.met is True  # 0.6x >= 0.5x
    assert SINGLE.met is False  # 0.75x < 0.8x
    assert READ.met is True  # 250 ms < 300 ms
    assert RATE.met is False  # 100,000 < 125,000 (the thousands separator read)
    assert PLAIN.met is None  # no target
    assert Figure("x", None, target="< 300 ms").met is None  # not measured
    assert Figure("x", 5.0, target=">= 0.5x floor").met is None  # no floor to judge on


def test_a_floor_that_misses_a_target_on_the_value_shows_it_out_of_reach() -> None:
    replay = Figure("replay", 25_000.0, "events/s", floor=54_000.0, target=">= 125,000 events/s")
    assert replay.met is False and replay.floor_meets is False
    within = Figure("replay", 25_000.0, "events/s", floor=130_000.0, target=">= 125,000 events/s")
    assert within.met is False and within.floor_meets is True
    slow = Figure("lag", 80.0, "ms", floor=60.0, target="< 50 ms", higher_is_better=False)
    assert slow.floor_meets is False
    assert BATCHED.floor_meets is None  # a target on the ratio: the floor is its unit
    assert RATE.floor_meets is None  # no floor measured
    assert PLAIN.floor_meets is None  # no target
    lines = table([("lag", replay), ("lag", within), ("lag", RATE)]).splitlines()[2:]
    assert lines[0].endswith("NO   OUT OF REACH: the floor (54,000 events/s) misses the target too;")
    assert "OUT OF REACH" not in lines[1] and "OUT OF REACH" not in lines[2]
    met = Figure("read", 10.0, "ms", floor=60.0, target="< 50 ms", higher_is_better=False)
    assert "OUT OF REACH" not in table([("x", met)])  # met: nothing to explain


def test_a_bound_that_misses_the_target_shows_it_out_of_reach() -> None:
    """The bound (the best the value could be: domain work alone) judged as the value would be."""
    sqlite = Figure(
        "sqlite batched",
        40_000.0,
        "events/s",
        floor=580_000.0,
        target=">= 0.5x floor",
        bound=77_000.0,
        bound_name="domain-only",
    )
    assert sqlite.met is False and sqlite.bound_meets is False  # 0.13x < 0.5x
    postgres = replace(sqlite, name="postgresql batched", floor=97_000.0)
    assert postgres.met is False and postgres.bound_meets is True  # 0.79x: reachable
    assert replace(sqlite, target=">= 100,000 events/s").bound_meets is False  # on the value
    assert BATCHED.bound_meets is None  # no bound
    lines = table([("ingest", sqlite), ("ingest", postgres)]).splitlines()[2:]
    assert "OUT OF REACH: domain-only (77,000 events/s, 0.13x) misses the target too;" in lines[0]
    assert "OUT OF REACH" not in lines[1]


def test_a_target_not_understood_is_an_error_not_a_verdict() -> None:
    with pytest.raises(ValueError, match="not like"):
        _ = Figure("x", 1.0, target="fast").met


def test_the_table_prints_value_floor_ratio_target_and_verdict() -> None:
    printed = table([("ingest", BATCHED), ("ingest", SINGLE), ("portfolio", READ), ("portfolio", PLAIN)])
    lines = printed.splitlines()
    assert lines[0].split() == ["benchmark", "figure", "value", "floor", "ratio", "target", "met", "note"]
    assert set(lines[1]) == {"-", " "}
    assert lines[2] == (
        "ingest     postgresql batched       12,000 events/s   20,000 events/s   0.60x   "
        ">= 0.5x floor          yes  3,000 events"
    )
    assert lines[3].split()[-2:] == ["floor", "NO"]
    assert lines[4].startswith(
        "portfolio  first read               250 ms            -                 -       < 300 ms"
    )
    assert lines[4].rstrip().endswith("yes")
    assert lines[5] == (
        "portfolio  later read               9.50 ms           -                 -       "
        "-                      -    same process"
    )


def test_skipped_figures_print_a_dash_and_the_reason() -> None:
    rows = [
        ("lag", figure) for figure in skipped("PostgreSQL not running", "lag p99", "replay", target="< 50 ms")
    ]
    assert [figure.value for _, figure in rows] == [None, None]
    lines = table(rows).splitlines()[2:]
    assert lines[0] == (
        "lag        lag p99                  -                 -                 -       "
        "< 50 ms                -    skipped: PostgreSQL not running"
    )
    assert lines[1].split()[1] == "replay"


def test_the_peer_column_comes_after_the_verdict() -> None:
    with_peer = Figure("sqlite batched", 14_000.0, "events/s", floor=200_000.0, peer=30_000.0)
    printed = table([("ingest", with_peer), ("ingest", PLAIN)], peer=True).splitlines()
    assert printed[0].split()[-2:] == ["peer", "note"]
    assert "0.07x" in printed[2] and printed[2].endswith("30,000 events/s")
    assert printed[3].split()[-3:] == ["-", "same", "process"]


def test_a_failing_benchmark_is_a_row_and_the_runner_goes_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Broken:
        @staticmethod
        def brief() -> list[Figure]:
            raise RuntimeError("the database went away\nmid-run")

    class Fine:
        @staticmethod
        def brief() -> list[Figure]:
            return [PLAIN]

    modules = {"bench.broken": Broken, "bench.fine": Fine}
    monkeypatch.setattr(run, "benchmark_names", lambda: ["broken", "fine"])
    monkeypatch.setattr(run.importlib, "import_module", modules.__getitem__)
    assert run.main([]) == 0
    printed = capsys.readouterr().out
    assert "broken     error" in printed
    assert "error: RuntimeError: the database went away mid-run" in printed
    assert "fine       later read               9.50 ms" in printed
