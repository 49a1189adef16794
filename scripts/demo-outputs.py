"""Write every output a person or a script sees for the demo, one file each, to compare two builds.

    .venv/bin/python scripts/demo-outputs.py OUT_DIR
    diff -r BEFORE_DIR AFTER_DIR

Used when code moves but behaviour must not (issue 12, "every CLI/API/report output is byte-identical
for the demo"). It drives the installed `ktpledger` console script only (the CLI, and `serve` over
loopback for the API and the dashboard), so it runs unchanged on any build of the package. The
clock is pinned (KTPLEDGER_TODAY) and figures that differ between two runs by design (wall-clock
times of recording, token secrets, PDF and XLSX creation stamps) are masked; PDF and XLSX are
compared through their text.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

PROJECT = "KTP-DEMO-01"
TODAY = "2025-06-30"
BIN = Path(sys.executable).parent
KTP = str(BIN / "ktpledger")
# Wall-clock instants (recorded_at, raised_at, created_at...) differ between runs by design.
INSTANT = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")
SECRET = re.compile(r"ktp_[A-Za-z0-9_\-]{20,}")
HEX = re.compile(r"\b[0-9a-f]{16}(?:[0-9a-f]{48})?\b")  # digests follow recorded_at, so they differ too
KEY = re.compile(r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]{43}(?![A-Za-z0-9_\-])")  # a fresh signing key's id
FORM = re.compile(r'name="csrf" value="[^"]*"')
SCRATCH = re.compile(r"/tmp/tmp[a-z0-9_]+")
SIZE = re.compile(r"\([0-9,]+ bytes\)")  # PDF and XLSX carry their creation stamps


def masked(text: str) -> str:
    for pattern, mask in (
        (INSTANT, "<instant>"),
        (SECRET, "<token>"),
        (HEX, "<digest>"),
        (KEY, "<key>"),
        (FORM, 'name="csrf" value="<form>"'),
        (SCRATCH, "<scratch>"),
        (SIZE, "(<size>)"),
    ):
        text = pattern.sub(mask, text)
    return text


def run(out: Path, name: str, *arguments: str, env: dict[str, str]) -> None:
    done = subprocess.run([KTP, *arguments], capture_output=True, text=True, env=env, timeout=120)
    body = f"$ ktpledger {' '.join(arguments[2:])}\nexit {done.returncode}\n--- stdout\n{done.stdout}--- stderr\n{done.stderr}"
    (out / f"{name}.txt").write_text(masked(body), encoding="utf-8")


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    # Line breaks follow the widths of masked digests, so words are compared, one line per page.
    return "\n".join(" ".join(page.extract_text().split()) for page in PdfReader(str(path)).pages)


def xlsx_text(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return "\n".join(
            f"== {name}\n{archive.read(name).decode('utf-8')}"
            for name in sorted(archive.namelist())
            if not name.startswith("docProps/")  # creation and modification stamps
        )


def report_files(source: Path, out: Path) -> None:
    for path in sorted(source.iterdir()):
        if path.suffix == ".pdf":
            (out / f"{path.name}.txt").write_text(masked(pdf_text(path)), encoding="utf-8")
        elif path.suffix == ".xlsx":
            (out / f"{path.name}.txt").write_text(masked(xlsx_text(path)), encoding="utf-8")
        else:
            (out / path.name).write_text(masked(path.read_text(encoding="utf-8")), encoding="utf-8")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str, token: str | None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("content-type", ""), response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type", ""), error.read().decode("utf-8")


def api(out: Path, db: str, env: dict[str, str]) -> None:
    made = subprocess.run(
        [KTP, "--db", db, "token", "create", "--role", "admin", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    token = json.loads(made.stdout)["token"]
    port = free_port()
    server = subprocess.Popen(
        [KTP, "--db", db, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):  # bounded: 20 s for the server to listen
            try:
                fetch(f"{base}/health", None)
                break
            except OSError:
                time.sleep(0.1)
        paths = [
            "/health",
            "/openapi.json",
            "/projects",
            f"/projects/{PROJECT}/allowances",
            f"/projects/{PROJECT}/allowances?as_of=2025-01-15",
            f"/projects/{PROJECT}/alerts",
            f"/projects/{PROJECT}/alerts?all=true",
            f"/projects/{PROJECT}/reconciliation",
            f"/projects/{PROJECT}/summary",
            f"/projects/{PROJECT}/claim-pack?quarter=2025Q2",
            f"/projects/{PROJECT}/claim-pack?quarter=2025Q9",
            "/projects/NOPE/allowances",
            "/projections/failed",
            "/system-alerts",
            "/notifications",
            "/dashboard/login",
            "/dashboard",
            "/dashboard/panel",
            f"/dashboard/projects/{PROJECT}",
            f"/dashboard/projects/{PROJECT}/panel",
            f"/dashboard/projects/{PROJECT}?today=2025-03-31",
        ]
        for number, path in enumerate(paths):
            status, kind, body = fetch(base + path, token)
            if "json" in kind:
                with contextlib.suppress(ValueError):
                    body = json.dumps(json.loads(body), indent=1, sort_keys=True)
            name = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_") or "root"
            (out / f"api-{number:02d}-{name}.txt").write_text(
                masked(f"GET {path}\n{status} {kind}\n{body}\n"), encoding="utf-8"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    out = Path(sys.argv[1])
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as scratch:
        db = f"sqlite:///{scratch}/demo.db"
        env = {**os.environ, "KTPLEDGER_TODAY": TODAY, "COLUMNS": "100"}
        env.pop("KTPLEDGER_DATABASE_URL", None)
        base = ["--db", db]
        run(out, "00-demo", *base, "demo", "--reports", f"{scratch}/reports", env=env)
        report_files(Path(scratch) / "reports", out)
        run(out, "01-demo-again", *base, "demo", "--reports", f"{scratch}/reports2", env=env)
        run(out, "02-help", *base, "--help", env=env)
        commands = [
            ["allowances", PROJECT],
            ["allowances", PROJECT, "--format", "json"],
            ["allowances", PROJECT, "--as-of", "2025-01-15", "--format", "json"],
            ["allowances", PROJECT, "--as-of", "2025-13-01"],
            ["allowances", "NOPE"],
            ["alerts"],
            ["alerts", "--all", "--format", "json"],
            ["alerts", PROJECT, "--today", "2025-03-31", "--format", "json"],
            ["reconcile", PROJECT],
            ["reconcile", PROJECT, "--format", "csv"],
            ["reconcile", PROJECT, "--format", "html"],
            ["claim-pack", PROJECT, "--quarter", "2024Q2"],
            ["claim-pack", PROJECT, "--quarter", "2025Q1", "--format", "csv"],
            ["claim-pack", PROJECT, "--quarter", "2025Q1", "--format", "html"],
            ["claim-pack", PROJECT, "--quarter", "2025Q5"],
            ["verify"],
            ["verify", "--format", "json"],
            ["verify", "--projections", "--format", "json"],
            ["projection", "status"],
            ["system-alerts", "--all"],
            ["notifications"],
            ["token", "list", "--format", "json"],
            ["record", "--help"],
            [
                "costing",
                "--methodology",
                "fec",
                "--business-type",
                "sme",
                "--months",
                "12",
                "--salary",
                "45000",
                "--supervisor-cost",
                "80000",
                "--support-costs",
                "36000",
                "--support-rate",
                "0.5",
                "--format",
                "json",
            ],
            [
                "costing",
                "--methodology",
                "non_fec",
                "--business-type",
                "large",
                "--months",
                "24",
                "--salary",
                "38000",
            ],
            ["costing", "--methodology", "fec", "--business-type", "sme", "--months", "0", "--salary", "1"],
        ]
        for number, command in enumerate(commands, start=10):
            name = "-".join(re.sub(r"[^A-Za-z0-9]+", "", part) for part in command)[:80]
            run(out, f"{number:02d}-{name}", *base, *command, env=env)
        for number, path in enumerate(("reconciliation.xlsx", "reconciliation.pdf"), start=60):
            target = Path(scratch) / path
            run(
                out,
                f"{number}-{path}",
                *base,
                "reconcile",
                PROJECT,
                "--format",
                target.suffix[1:],
                "--out",
                str(target),
                env=env,
            )
            (out / f"{number}-{path}.content.txt").write_text(
                masked(pdf_text(target) if target.suffix == ".pdf" else xlsx_text(target)), encoding="utf-8"
            )
        api(out, db, env)


if __name__ == "__main__":
    main()
