"""`pip install .`, not editable, in a fresh venv, run outside the checkout (issue 12, item 7): the
wheel carries the migrations, the templates and the demo's data, and the code finds them in the
installed package, never in a checkout.

The wheel is built without build isolation and with no index, from a copy of the sources (so the
build leaves nothing in the checkout); the dev extras carry the build-system's requirements. It is
installed with `--no-deps` into a venv made here, which sees the running venv's packages through a
.pth file listing the running site-packages: `--system-site-packages` would show the venv's base
interpreter's packages, not the running venv's. A .pth line only adds a folder to sys.path, after
the venv's own site-packages, and the .pth files inside that folder are not run, so the editable
install's import hook (the checkout) is not there: the test checks `ktpledger.__file__`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ktpledger.service.schema import head_revision
from tests.test_packaging import pyproject_version

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "alembic", "ktpledger", "workers")

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Installed:
    venv: Path
    elsewhere: Path  # a working directory outside the checkout

    @property
    def site_packages(self) -> Path:
        return Path(sysconfig.get_paths(vars={"base": str(self.venv), "platbase": str(self.venv)})["purelib"])

    def run(self, program: str, *arguments: str) -> subprocess.CompletedProcess[str]:
        environment = {
            name: value
            for name, value in os.environ.items()
            if name not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"} and not name.startswith("KTPLEDGER_")
        }
        return subprocess.run(
            [str(self.venv / "bin" / program), *arguments],
            cwd=self.elsewhere,
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def ktpledger(self, *arguments: str) -> str:
        result = self.run("ktpledger", *arguments)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name,
                source / name,
                symlinks=True,  # ktpledger/_migrations is a link to alembic/, as in the checkout
                ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
            )
        else:
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run(
        [
            *pip,
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(work / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (work / "dist").glob("ktpledger-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # The running pip installs into the new venv: no pip of its own to bootstrap.
    subprocess.run(
        [*pip, "--python", str(venv / "bin" / "python"), "install", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    found = Installed(venv, elsewhere)
    (found.site_packages / "running-venv-packages.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    return found


def test_the_installed_package_is_the_wheels_with_pyprojects_version(installed: Installed) -> None:
    result = installed.run(
        "python",
        "-c",
        "import ktpledger; from ktpledger.service.schema import migrations_directory; "
        "print(ktpledger.__file__); print(migrations_directory()); print(ktpledger.__version__)",
    )
    assert result.returncode == 0, result.stderr
    package, migrations, version = result.stdout.splitlines()
    site_packages = installed.site_packages.resolve()
    assert Path(package).resolve().is_relative_to(site_packages), package
    assert Path(migrations).resolve().is_relative_to(site_packages), migrations
    assert not Path(package).resolve().is_relative_to(ROOT)
    assert version == pyproject_version()


def test_the_wheel_migrates_sqlite_and_runs_the_demo_outside_the_checkout(installed: Installed) -> None:
    url = f"sqlite:///{installed.elsewhere}/ledger.db"
    assert installed.ktpledger("--db", url, "db", "upgrade").startswith("schema at ")
    reports = installed.elsewhere / "reports"
    output = installed.ktpledger("--db", url, "demo", "--reports", str(reports))
    assert "balance due 2,144.00" in output and "Reconciliation (final)" in output  # tests/test_demo.py
    assert "KTP-DEMO-01" in (reports / "KTP-DEMO-01-reconciliation.html").read_text(encoding="utf-8")
    assert (reports / "KTP-DEMO-01-reconciliation.pdf").read_bytes().startswith(b"%PDF")
    again = installed.ktpledger("--db", url, "demo", "--reports", str(reports))
    assert "duplicate" in again and " recorded" not in again.replace("records", "")


@pytest.mark.postgres
def test_the_wheel_migrates_postgresql(installed: Installed, postgres_url: str) -> None:
    assert installed.ktpledger("--db", postgres_url, "db", "upgrade").startswith("schema at ")
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()
    assert revision == head_revision()
