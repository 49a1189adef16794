"""A fast command line (issue 18, item 4): parsing a command line imports none of the heavy
libraries, help and usage errors are drawn without rich, values are coerced without pydantic, and a
JSON report never imports the PDF or XLSX renderers.

Each check runs a fresh interpreter (the test process has imported everything already) and reads
`sys.modules` there. The speed itself is measured by bench/startup.py, not asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
from typer.testing import CliRunner

import ktpledger
from ktpledger.cli import app
from ktpledger.cli.root import COMMAND_MODULES, SUMMARIES, commands_of, opened
from tests.ledger.factory import PROJECT, claim, offer

# What typer draws help and usage errors with by default (with rich installed): the command line
# draws them plain (cli/root.py, `rich_markup_mode=None`), without about 95 ms of imports.
RICH = ("rich", "typer.rich_utils", "markdown_it")
# What the command line must not load before a command does its work: the database, the
# renderers, the HTTP API and its server, the workers and test-only libraries, and rich.
HEAVY = (
    *RICH,
    "pydantic",  # typer's coercion, but for values the plain path takes (cli/coercion.py)
    "sqlalchemy",
    "alembic",
    "psycopg",
    "fpdf",
    "openpyxl",
    "fastapi",
    "starlette",
    "uvicorn",
    "jinja2",
    "cryptography",
    "redis",
    "celery",
    "hypothesis",
    "workers",
    "ktpledger.api",
    "ktpledger.bootstrap",
    "ktpledger.adapters.database",
)
RENDERERS = ("fpdf", "openpyxl", "ktpledger.reports.pdf_report", "ktpledger.reports.xlsx_report")
# Nor what only the HTTP API uses, nor Alembic (a database at head is checked without it), nor
# pydantic (the HTTP API's; typer's coercion but for values cli/coercion.py takes itself), nor the
# views that lay tables out for people (cli/common.py, `render_table`).
NOT_FOR_JSON = (
    *RENDERERS,
    "fastapi",
    "starlette",
    "uvicorn",
    "jinja2",
    "alembic",
    "pydantic",
    "ktpledger.views",
)

# Every command and group of the command line asked for its --help in one interpreter; prints
# each one's exit status and the modules of argv that were loaded.
EVERY_HELP = """
import json
import sys
from importlib import import_module

import typer.main
from typer.testing import CliRunner

import ktpledger
from ktpledger.cli import app


def paths(command, prefix):
    yield prefix
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from paths(sub, [*prefix, name])


runner = CliRunner()
codes = {}
for path in paths(typer.main.get_command(app), []):
    result = runner.invoke(app, [*path, "--help"])
    codes[" ".join(path) or "(root)"] = (result.exit_code, result.stdout[:200])
loaded = sorted(name for name in sys.argv[1:] if name in sys.modules)
print(json.dumps({"codes": codes, "loaded": loaded}))
"""

# One command run as the `ktpledger` script runs it (argv after `--`), then the modules of argv
# before `--` that it loaded, on the last line of stderr.
ONE_COMMAND = """
import json
import sys
from importlib import import_module

split = sys.argv.index("--")
watched, sys.argv = sys.argv[1:split], ["ktpledger", *sys.argv[split + 1 :]]
from ktpledger.cli import main

try:
    main()
    code = 0
except SystemExit as exit:
    code = exit.code
sys.stdout.flush()
loaded = sorted(name for name in watched if name in sys.modules)
print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


def child(program: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`program` in a fresh interpreter that imports the very ktpledger this test imported."""
    source = str(Path(ktpledger.__file__).resolve().parents[1])
    path = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", program, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": path},
    )


def test_every_commands_help_loads_no_heavy_library() -> None:
    ran = child(EVERY_HELP, *HEAVY)
    assert ran.returncode == 0, ran.stderr
    found: dict[str, Any] = json.loads(ran.stdout)
    assert all(code == 0 for code, _ in found["codes"].values()), found["codes"]
    assert {"(root)", "record", "allowances", "reconcile", "db upgrade", "token create"} <= set(
        found["codes"]
    )
    assert found["loaded"] == []


def test_the_script_parses_its_command_line_without_the_heavy_libraries() -> None:
    ran = child(ONE_COMMAND, *HEAVY, "--", "--help")
    assert json.loads(ran.stderr.splitlines()[-1]) == {"code": 0, "loaded": []}
    assert "Usage: ktpledger" in ran.stdout


USAGE_ERRORS = [
    (["nosuch"], "Usage: ktpledger [OPTIONS] COMMAND [ARGS]...", "Error: No such command 'nosuch'."),
    (["recrd", "x"], "Try 'ktpledger --help' for help.", "Did you mean 'record'?"),
    (["allowances"], "Usage: ktpledger allowances [OPTIONS]", "Error: Missing argument 'project'."),
    (["allowances", "P", "--bogus"], "Try 'ktpledger allowances --help'", "Error: No such option: --bogus"),
    (["allowances", "P", "--format", "xml"], "Usage: ktpledger allowances", "Invalid value for '--format'"),
    (["db", "nosuch"], "Usage: ktpledger db [OPTIONS] COMMAND", "Error: No such command 'nosuch'."),
    (["--db"], "Error: Option '--db' requires an argument.", "Error: Option '--db' requires an argument."),
]


@pytest.mark.parametrize(
    ("argv", "usage", "error"), USAGE_ERRORS, ids=[" ".join(a) for a, _, _ in USAGE_ERRORS]
)
def test_a_usage_error_is_plain_text_drawn_without_rich(argv: list[str], usage: str, error: str) -> None:
    ran = child(ONE_COMMAND, *RICH, "--", *argv)
    *shown, last = ran.stderr.splitlines()
    assert json.loads(last) == {"code": 2, "loaded": []}
    assert usage in "\n".join(shown) and error in "\n".join(shown), ran.stderr
    assert not any(box in ran.stderr for box in "╭│╰─"), ran.stderr  # rich draws its errors in a box


def test_help_is_plain_text_drawn_without_rich() -> None:
    ran = child(ONE_COMMAND, *RICH, "--", "allowances", "--help")
    assert json.loads(ran.stderr.splitlines()[-1]) == {"code": 0, "loaded": []}
    assert ran.stdout.startswith("Usage: ktpledger allowances [OPTIONS]")
    assert "\nOptions:\n" in ran.stdout and "--format" in ran.stdout
    assert not any(box in ran.stdout for box in "╭│╰─"), ran.stdout


def test_the_root_names_the_module_of_every_command_each_module_adds() -> None:
    folder = Path(ktpledger.__file__).parent / "cli"
    modules = {path.stem for path in folder.glob("*.py")} - {
        "__init__",
        "__main__",
        "coercion",
        "common",
        "errors",
        "root",
    }
    assert set(COMMAND_MODULES.values()) == modules
    for module in sorted(modules):
        part = typer.Typer()
        import_module(f"ktpledger.cli.{module}").register(part, opened)
        added = set(typer.main.get_group(part).commands)
        assert added == {name for name, owner in COMMAND_MODULES.items() if owner == module}, module


def test_running_a_command_loads_its_own_module_alone() -> None:
    ran = child(
        ONE_COMMAND,
        *(f"ktpledger.cli.{module}" for module in set(COMMAND_MODULES.values())),
        "--",
        "db",
        "--help",
    )
    assert json.loads(ran.stderr.splitlines()[-1]) == {"code": 0, "loaded": ["ktpledger.cli.admin"]}


def test_the_roots_help_builds_no_command() -> None:
    modules = sorted({f"ktpledger.cli.{module}" for module in COMMAND_MODULES.values()})
    ran = child(ONE_COMMAND, *modules, "--", "--help")
    assert json.loads(ran.stderr.splitlines()[-1]) == {"code": 0, "loaded": []}
    assert "  record " in ran.stdout and "  portfolio " in ran.stdout


def test_the_summaries_are_the_first_sentences_of_the_commands_help() -> None:
    assert set(SUMMARIES) == set(COMMAND_MODULES)
    for name, module in COMMAND_MODULES.items():
        first = commands_of(module)[name].get_short_help_str(limit=1_000_000)
        assert SUMMARIES[name] == first, f"cli/root.py, SUMMARIES[{name!r}] should be {first!r}"


@pytest.mark.parametrize("width", [40, 80, 100, 200])
def test_the_roots_help_lists_the_commands_as_they_are_built(width: int) -> None:
    fresh: Any = typer.main.get_command(app)
    built: Any = typer.main.get_command(app)
    for name in list(built.commands):
        built.commands[name]  # builds it
    helps = [
        group.get_help(
            typer.Context(group, info_name="ktpledger", terminal_width=width, max_content_width=width)
        )
        for group in (fresh, built)
    ]
    assert helps[0] == helps[1]
    assert "Commands:" in helps[0]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small SQLite ledger: an offer and two claims of its first quarter."""
    folder = tmp_path_factory.mktemp("startup")
    url = f"sqlite:///{folder}/ledger.db"
    events = [
        offer(),
        claim("c1", "1200.00", date="2025-01-20"),
        claim("c2", "300.00", category="travel_subsistence", date="2025-02-10"),
    ]
    recorded = CliRunner().invoke(app, ["--db", url, "record", "-"], input="\n".join(map(json.dumps, events)))
    assert recorded.exit_code == 0, recorded.output
    return url


JSON_COMMANDS = [
    ["allowances", PROJECT, "--format", "json"],
    ["reconcile", PROJECT, "--format", "json"],
    ["claim-pack", PROJECT, "--quarter", "2025Q1", "--format", "json"],
    ["events", PROJECT, "--format", "json"],
    ["projects", "--format", "json"],
    ["alerts", "--format", "json"],
    ["transactions", PROJECT, "--format", "json"],
    ["profile", PROJECT, "--format", "json"],
    ["portfolio", "--format", "json"],
]


@pytest.mark.parametrize("command", JSON_COMMANDS, ids=[" ".join(c[:1]) for c in JSON_COMMANDS])
def test_a_json_command_never_loads_the_pdf_or_xlsx_renderers(ledger: str, command: list[str]) -> None:
    ran = child(ONE_COMMAND, *NOT_FOR_JSON, "--", "--db", ledger, *command)
    assert json.loads(ran.stderr.splitlines()[-1]) == {"code": 0, "loaded": []}, ran.stderr
    json.loads(ran.stdout)  # the document itself, whole


def test_a_pdf_report_still_loads_its_renderer(ledger: str, tmp_path: Path) -> None:
    out = tmp_path / "statement.pdf"
    ran = child(
        ONE_COMMAND,
        *RENDERERS,
        "--",
        "--db",
        ledger,
        "reconcile",
        PROJECT,
        "--format",
        "pdf",
        "--out",
        str(out),
    )
    assert json.loads(ran.stderr.splitlines()[-1]) == {
        "code": 0,
        "loaded": ["fpdf", "ktpledger.reports.pdf_report"],
    }
    assert out.read_bytes().startswith(b"%PDF")
