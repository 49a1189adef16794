"""The environment is read in one module, `ktpledger/settings.py`, and settings are read at a
composition root: every other module is given a `Settings` (issue 12, item 5)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(ROOT / "ktpledger").rglob("*.py"), *(ROOT / "workers").rglob("*.py")])

READS_ENVIRONMENT = re.compile(r"\bos\.environ\b|\bgetenv\s*\(|\bfrom os import\b[^\n]*\benviron\b")
# Where the environment may be read, and why.
ENVIRONMENT_READERS = {
    "ktpledger/settings.py": "Settings.from_env, the channels of a Settings made in code, a child's environment",
    "ktpledger/notify_settings.py": "build_notifiers() for scripts and tests without Settings; the App never calls it",
}

CALLS_FROM_ENV = re.compile(r"\bSettings\.from_env\s*\(")
# The composition roots: each reads the settings once, for its process, and passes them down.
COMPOSITION_ROOTS = {
    "ktpledger/settings.py": "where from_env is defined",
    "ktpledger/bootstrap.py": "bootstrap() given no Settings (create_app(), scripts)",
    "ktpledger/cli/root.py": "the command line's root callback, once a run",
    "workers/app.py": "the Celery app of a worker or beat process",
    "workers/tasks.py": "a worker process's App",
}


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_sources_are_found() -> None:
    names = {relative(path) for path in SOURCES}
    assert set(ENVIRONMENT_READERS) | set(COMPOSITION_ROOTS) <= names


def test_only_the_settings_modules_read_the_environment() -> None:
    readers = {relative(path) for path in SOURCES if READS_ENVIRONMENT.search(path.read_text("utf-8"))}
    assert readers <= set(ENVIRONMENT_READERS), sorted(readers - set(ENVIRONMENT_READERS))


def test_settings_are_read_from_the_environment_only_at_a_composition_root() -> None:
    callers = {relative(path) for path in SOURCES if CALLS_FROM_ENV.search(path.read_text("utf-8"))}
    assert callers <= set(COMPOSITION_ROOTS), sorted(callers - set(COMPOSITION_ROOTS))
