"""The command line's start-up (issue 18, item 4: under 150 ms for every command; JSON output
never imports the PDF or XLSX renderers).

For every command and group of commands, the median wall time over --runs runs of
`ktpledger CMD --help` (a fresh process each time: the installed script), beside three floors and,
for comparison, typer's defaults:

  python        `python -c pass`: the interpreter alone
  import typer  `python -c "import typer"`: the argument parser's import
  typer app     `hello --help` of a two-command Typer app built as the command line is: help drawn
                plain (`rich_markup_mode=None`) and values coerced by cli/coercion.py's plain path
                first: what parsing costs in typer itself
  (typer's defaults)  the same app as typer builds it by default: help drawn with rich (rich,
                markdown_it) and every value coerced through a pydantic TypeAdapter, --help too

`ktpledger CMD --help` runs everything a command does before its own work: the imports, the
settings read from the environment (the root callback), parsing. Its ratio is to the typer app.

Then JSON commands against the demo's ledger (`ktpledger demo` into a temporary folder): each as it
runs, and with fpdf, openpyxl and the PDF and XLSX renderers imported first (what every JSON
command paid before the renderers were imported only for their formats). Their floor is the same
command's `--help`: the rest is the command's own work (SQLAlchemy, the ledger, the JSON).

The cpu column is user + system time of the child, steadier than wall time on a busy machine.
The checkout's ktpledger is byte-compiled first (as pip compiles an installed wheel): with
PYTHONDONTWRITEBYTECODE set, an editable install would otherwise compile every module it imports
on every run. Prints its figures and asserts nothing about speed.

    .venv/bin/python bench/startup.py
    .venv/bin/python bench/startup.py --runs 11 --commands allowances reconcile
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import figures  # noqa: E402  (after the checkout is put first on the path)

TARGET_MS = 150.0
MAX_RUNS = 101
PROJECT = "KTP-DEMO-01"  # the demo's project (ktpledger/demo_story.py)

# A bare Typer app: {setup} makes it the command line's way (PLAIN) or leaves typer's defaults.
TYPER_APP = """
import typer
{setup}
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False{options})


@app.callback()
def root(db: str = typer.Option(None, "--db", help="a database")) -> None:
    "A root command."


@app.command()
def hello(name: str = typer.Option("world", "--name", help="who")) -> None:
    "Say hello."


@app.command()
def bye() -> None:
    "Say bye."


app()
"""
# cli/coercion.py loaded from its file: importing ktpledger.cli would build the command line's root.
PLAIN = {
    "setup": (
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('coercion', {str(ROOT / 'ktpledger' / 'cli' / 'coercion.py')!r})\n"
        "coercion = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(coercion)\n"
        "coercion.plain_first()\n"
    ),
    "options": ", rich_markup_mode=None",
}
DEFAULTS = {"setup": "", "options": ""}
# The command line run as the script runs it, optionally after importing the renderers.
LAUNCH = "import sys\n{preload}from ktpledger.cli import main\nsys.argv[0] = 'ktpledger'\nmain()\n"
RENDERERS = "import fpdf, openpyxl\nimport ktpledger.reports.pdf_report, ktpledger.reports.xlsx_report\n"
JSON_COMMANDS = (
    ("allowances", PROJECT, "--format", "json"),
    ("reconcile", PROJECT, "--format", "json"),
    ("claim-pack", PROJECT, "--quarter", "2025Q2", "--format", "json"),
)


def compiled() -> None:
    """The checkout's ktpledger byte-compiled, as an installed wheel is (pip compiles it)."""
    compileall.compile_dir(ROOT / "ktpledger", quiet=1)


def typer_app(setup: dict[str, str]) -> list[str]:
    """`python -c TYPER_APP hello --help`, the app made with `setup` (PLAIN or DEFAULTS)."""
    return [sys.executable, "-c", TYPER_APP.format(**setup), "hello", "--help"]


def script() -> list[str]:
    """The installed `ktpledger` script beside this interpreter, else `python -m ktpledger.cli`."""
    installed = Path(sys.executable).with_name("ktpledger")
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "ktpledger.cli"]


def command_paths() -> Iterator[tuple[str, ...]]:
    """Every command and group of the command line: () for the root, ("db", "upgrade")..."""
    import typer.main

    from ktpledger.cli import app

    def walk(command: Any, prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        yield prefix
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, (*prefix, name))

    yield from walk(typer.main.get_command(app), ())


def timed(argv: Sequence[str], runs: int, cwd: Path) -> tuple[float, float]:
    """The median wall time and the median cpu time (user + system) of `argv`, in ms, over `runs`
    runs; a run that fails stops the benchmark, naming it."""
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, cwd=cwd, check=False, timeout=120)
        walls.append((time.perf_counter() - started) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return statistics.median(walls), statistics.median(cpus)


def row(name: str, figure: tuple[float, float], floor: float, target: float | None) -> str:
    wall, cpu = figure
    verdict = "-" if target is None else ("ok" if wall <= target else "over")
    shown_target = "-" if target is None else f"{target:.0f}"
    return f"{name:<48} {wall:>8.0f} {cpu:>7.0f} {floor:>8.0f} {wall / floor:>6.2f} {shown_target:>7} {verdict:>5}"


def header(title: str) -> None:
    print(f"\n{title}")
    print(f"{'figure':<48} {'wall ms':>8} {'cpu ms':>7} {'floor ms':>8} {'ratio':>6} {'target':>7} {'':>5}")


def demo_ledger(folder: Path) -> str:
    """The demo's ledger in `folder`: its database URL."""
    url = f"sqlite:///{folder / 'demo.db'}"
    done = subprocess.run(
        [*script(), "--db", url, "demo", "--reports", str(folder / "reports")],
        capture_output=True,
        cwd=folder,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        sys.exit(f"ktpledger demo exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return url


def brief() -> list[figures.Figure]:
    """`ktpledger --help` and three commands' `--help`, 5 runs each, beside a bare Typer app's
    `--help` measured in the same run (the floor: the argument parser alone)."""
    runs = 5
    with tempfile.TemporaryDirectory(prefix="ktpledger-startup-") as scratch:
        folder = Path(scratch)
        compiled()
        floor = timed(typer_app(PLAIN), runs, folder)[0]
        found = []
        for path in ((), ("allowances",), ("portfolio",), ("db", "upgrade")):
            wall = timed([*script(), *path, "--help"], runs, folder)[0]
            found.append(
                figures.Figure(
                    " ".join(["ktpledger", *path, "--help"]),
                    wall,
                    "ms",
                    floor=floor,
                    target=f"< {TARGET_MS:.0f} ms",
                    higher_is_better=False,
                    note=f"median of {runs}; floor: a bare two-command Typer app's --help, built as the command line is",
                )
            )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help=f"runs per figure, 1..{MAX_RUNS} (default 7)")
    parser.add_argument(
        "--commands", nargs="*", help="only these top-level commands' --help (default: every command)"
    )
    parser.add_argument("--no-json", action="store_true", help="skip the JSON commands (and the demo)")
    args = parser.parse_args()
    runs = max(1, min(args.runs, MAX_RUNS))
    compiled()
    paths = list(command_paths())
    if args.commands:
        paths = [path for path in paths if not path or path[0] in args.commands]
    with tempfile.TemporaryDirectory(prefix="ktpledger-startup-") as scratch:
        folder = Path(scratch)
        bare = timed([sys.executable, "-c", "pass"], runs, folder)
        typer_import = timed([sys.executable, "-c", "import typer"], runs, folder)
        plain_app = timed(typer_app(PLAIN), runs, folder)
        default_app = timed(typer_app(DEFAULTS), runs, folder)
        print(
            f"ktpledger start-up: {runs} runs per figure, median; {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}"
        )
        print(
            f"floors: python {bare[0]:.0f} ms, import typer {typer_import[0]:.0f} ms, typer app --help {plain_app[0]:.0f} ms (cpu {plain_app[1]:.0f} ms)"
        )
        print(
            f"(typer's defaults, rich help and pydantic coercion: typer app --help {default_app[0]:.0f} ms, cpu {default_app[1]:.0f} ms)"
        )
        header(f"`ktpledger CMD --help` (floor: the typer app's --help; target {TARGET_MS:.0f} ms)")
        helps: dict[tuple[str, ...], tuple[float, float]] = {}
        for path in paths:
            helps[path] = timed([*script(), *path, "--help"], runs, folder)
            print(
                row(" ".join(["ktpledger", *path, "--help"]), helps[path], plain_app[0], TARGET_MS),
                flush=True,
            )
        walls = [wall for wall, _ in helps.values()]
        over = sum(wall > TARGET_MS for wall in walls)
        print(
            f"{len(walls)} figures: median {statistics.median(walls):.0f} ms, worst {max(walls):.0f} ms, "
            f"{over} over {TARGET_MS:.0f} ms"
        )
        if args.no_json:
            return
        url = demo_ledger(folder)
        header("JSON commands on the demo's ledger (floor: the same command's --help)")
        for command in JSON_COMMANDS:
            floor = timed([*script(), command[0], "--help"], runs, folder)[0]
            argv = ["--db", url, *command]
            plain = timed([sys.executable, "-c", LAUNCH.format(preload=""), *argv], runs, folder)
            loaded = timed([sys.executable, "-c", LAUNCH.format(preload=RENDERERS), *argv], runs, folder)
            name = " ".join(command[:1] + command[-2:])
            print(row(f"{name}", plain, floor, None))
            print(row(f"{name}, renderers imported too", loaded, floor, None))
            print(
                f"{'':<48} {loaded[0] - plain[0]:>8.0f} {loaded[1] - plain[1]:>7.0f}  saved by not importing them"
            )


if __name__ == "__main__":
    main()
