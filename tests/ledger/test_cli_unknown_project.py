"""A read of a project the ledger does not have is an error naming the project, the database read
and the nearest projects it has (issue 10, A): every CLI read that takes a PROJECT."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ktpledger.cli import app as cli
from tests.ledger.factory import offer

MISSPELT = "KTP-DEMO-1"
READS = [
    ["allowances", MISSPELT],
    ["alerts", MISSPELT],
    ["events", MISSPELT],
    ["reconcile", MISSPELT],
    ["claim-pack", MISSPELT, "--quarter", "2025Q1"],
]
NO_PROJECTS = (
    "that ledger has no projects at all: record the project's events there first "
    "(`ktpledger record FILE`), or read another with --db or KTPLEDGER_DATABASE_URL"
)


def run(url: str, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", url, *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def record(url: str, *projects: str) -> None:
    assert run(url, "db", "upgrade")[0] == 0
    lines = "\n".join(json.dumps(offer(project)) for project in projects)
    code, out, _ = run(url, "record", "-", stdin=lines)
    assert code == 0, out


@pytest.mark.parametrize("read", READS, ids=lambda read: read[0])
def test_a_misspelt_project_names_the_ledger_and_the_nearest_project(
    database_url: str, read: list[str]
) -> None:
    record(database_url, "KTP-DEMO-01", "KTP-0042")
    # difflib's ratio is 2 x matching characters / characters of both: KTP-DEMO-1 and KTP-DEMO-01
    # share 10 of 21 (0.95, over the 0.6 cut-off); KTP-0042 shares only "KTP-", 4 of 18 (0.44).
    message = (
        f'unknown project "KTP-DEMO-1": the ledger at {database_url} has no events for it; '
        "did you mean KTP-DEMO-01?"
    )
    code, _, err = run(database_url, *read)
    assert (code, err) == (1, f"error: R-31: {message}\n")
    code, out, err = run(database_url, *read, "--format", "json")
    assert (code, err) == (1, f"error: R-31: {message}\n")
    assert json.loads(out) == {"error": {"rule": "R-31", "message": message}}


def test_an_empty_ledger_says_it_has_no_projects_at_all(sqlite_url: str) -> None:
    assert run(sqlite_url, "db", "upgrade")[0] == 0
    for read in READS:
        code, _, err = run(sqlite_url, *read)
        assert code == 1
        assert err == (
            f'error: R-31: unknown project "KTP-DEMO-1": the ledger at {sqlite_url} has no events for it; '
            f"{NO_PROJECTS}\n"
        )
    assert run(sqlite_url, "alerts") == (0, "no open alerts\n", "")


def test_a_name_like_no_other_is_told_the_projects_there_are(sqlite_url: str) -> None:
    record(sqlite_url, "KTP-DEMO-01", "KTP-0042")
    code, _, err = run(sqlite_url, "allowances", "Acme")
    assert code == 1
    assert err == (
        f'error: R-31: unknown project "Acme": the ledger at {sqlite_url} has no events for it; '
        "no project has a similar name; the projects are KTP-0042, KTP-DEMO-01\n"
    )


def test_several_near_names_are_all_offered(sqlite_url: str) -> None:
    record(sqlite_url, "KTP-0041", "KTP-0042", "KTP-0043", "KTP-1000")
    # KTP-0044 shares 7 of 16 characters with each of KTP-0041..0043 (0.875) and 6 with KTP-1000
    # ("KTP-" and "00": 0.75): the three nearest are named, best first, a tie by the greater name
    # first (difflib takes the n largest of (ratio, name)); KTP-1000 is left out.
    code, _, err = run(sqlite_url, "events", "KTP-0044")
    assert code == 1
    assert err.endswith("; did you mean KTP-0043, KTP-0042 or KTP-0041?\n")


@pytest.mark.postgres
def test_the_database_is_named_without_its_password(postgres_url: str) -> None:
    with_password = postgres_url.replace("postgres@", "postgres:s3cret@", 1)
    assert with_password != postgres_url  # trust authentication ignores the password
    record(with_password, "KTP-0042")
    code, _, err = run(with_password, "allowances", "KTP-0043")
    assert code == 1
    assert "s3cret" not in err
    shown = postgres_url.replace("postgres@", "postgres:***@", 1)
    assert f"the ledger at {shown} has no events for it; did you mean KTP-0042?" in err
