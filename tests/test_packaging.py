"""The package's version and migrations as the code finds them (issue 12, item 7); the installed
wheel itself is tests/test_wheel.py's."""

from __future__ import annotations

import tomllib
from pathlib import Path

import ktpledger
from ktpledger.service.schema import head_revision, migrations_directory
from tests.api.openapi_document import openapi_document

ROOT = Path(__file__).resolve().parents[1]


def pyproject_version() -> str:
    version: str = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    return version


def test_the_version_is_pyprojects() -> None:
    assert ktpledger.__version__ == pyproject_version()


def test_the_api_reports_pyprojects_version() -> None:
    assert openapi_document()["info"]["version"] == pyproject_version()


def test_the_packaged_migrations_are_the_top_level_alembic_folder() -> None:
    directory = migrations_directory()
    assert directory.resolve() == (ROOT / "alembic").resolve()
    assert (directory / "env.py").is_file()
    shipped = sorted(path.name for path in (directory / "versions").glob("*.py"))
    assert shipped == sorted(path.name for path in (ROOT / "alembic" / "versions").glob("*.py"))
    assert head_revision() is not None
