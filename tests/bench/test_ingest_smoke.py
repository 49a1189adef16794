"""bench/ingest.py still runs end to end (tiny sizes; its figures are not judged here)."""

from __future__ import annotations

import pytest

from tests.bench import run_bench

TINY = ["--projects", "4", "--events", "6", "--batch", "5", "--singles", "12", "--round-singles", "5"]
TINY += ["--file-events", "10", "--cli-files", "1"]


def run_ingest(*backend: str) -> str:
    return run_bench("ingest.py", *backend, *TINY)


def check_figures(output: str) -> None:
    for path in (
        "api-batched",
        "floor-batched",
        "domain-only",
        "api-single",
        "floor-single",
        "bound-single",
        "bound-floor",
        "api-runs",
        "floor-runs",
    ):
        assert f"\n{path} " in output, f"{path} missing from:\n{output}"
    assert "single / plain single-row" in output
    assert "bound / plain single-row" in output
    assert "cli-record" in output
    assert "\nrecord-floor " in output and "CLI record / its floor" in output


def test_the_ingest_benchmark_runs_on_sqlite() -> None:
    check_figures(run_ingest("--sqlite"))


@pytest.mark.postgres
def test_the_ingest_benchmark_runs_on_postgres(postgres_server: str) -> None:
    check_figures(run_ingest("--postgres"))


@pytest.mark.postgres
def test_the_grown_project_rows_run_on_postgres(postgres_server: str) -> None:
    """`single_growth` (the brief's "postgresql single, grown" row) runs end to end on a schema of
    its own, which it drops; its medians are not judged here."""
    from bench import ingest

    small, large = ingest.single_growth(ingest.DEFAULT_POSTGRES, events=30, pairs=5)
    assert small > 0 and large > 0
