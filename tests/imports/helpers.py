"""What the import tests share: the fixtures' paths, running the command, reading the ledger back."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from ktpledger.cli import app as cli
from tests.ledger.factory import PROJECT, offer

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(name: str) -> Path:
    return FIXTURES / name


def run(url: str, *args: str) -> tuple[int, str, str]:
    """`ktpledger --db URL ARGS...`: exit code, stdout, stderr (never a traceback)."""
    result = CliRunner().invoke(cli, ["--db", url, *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr
    return result.exit_code, result.stdout, result.stderr


def prepared(url: str, tmp_path: Path, *events: dict[str, Any]) -> str:
    """The database at `url` migrated, with the factory's offer of KTP-0042 and `events` recorded."""
    assert run(url, "db", "upgrade")[0] == 0
    source = tmp_path / "setup.jsonl"
    source.write_text("\n".join(json.dumps(item) for item in (offer(), *events)) + "\n", encoding="utf-8")
    code, out, err = run(url, "record", str(source))
    assert code == 0, out + err
    return url


def import_json(
    url: str, export: Path, profile: Path, *extra: str, project: str = PROJECT
) -> tuple[int, dict[str, Any], str]:
    if export.parent == FIXTURES and "--errors" not in extra:
        # Never beside the fixtures (the default): into a folder of its own under the temp folder.
        scratch = Path(tempfile.mkdtemp(prefix="ktpledger-import-"))
        extra = (*extra, "--errors", str(scratch / f"{export.stem}.errors.csv"))
    arguments = ["import", str(export), "--project", project, "--profile", str(profile), "--format", "json"]
    code, out, err = run(url, *arguments, *extra)
    assert not list(FIXTURES.glob("*.errors.csv")), "a test wrote rejected rows beside the fixtures"
    return code, json.loads(out), err


def fates(plan: dict[str, Any]) -> list[tuple[int, str, str | None, str | None]]:
    """(row, status, key, event type) of each row of a plan."""
    return [
        (row["row"], row["status"], row["key"], row["event"]["type"] if row["event"] else None)
        for row in plan["rows"]
    ]


def keys(url: str, project: str = PROJECT) -> list[str]:
    code, out, _ = run(url, "events", project, "--format", "json")
    assert code == 0
    return [item["key"] for item in json.loads(out)]


def recorded_events(url: str, project: str = PROJECT) -> list[dict[str, Any]]:
    code, out, _ = run(url, "events", project, "--format", "json")
    assert code == 0
    return list(json.loads(out))


def spent(url: str, project: str = PROJECT) -> dict[str, str]:
    """Each line's `spent` as `ktpledger allowances P --format json` shows it."""
    code, out, err = run(url, "allowances", project, "--format", "json")
    assert code == 0, err
    return {line["category"]: line["spent"] for line in json.loads(out)["lines"]}
