"""`ktpledger worker` as a subprocess of a test, in its own session so that SIGKILL takes its pool
too; it can be started again after a kill (its readiness is read from the log written since)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

KTPLEDGER = str(Path(sys.executable).parent / "ktpledger")


@dataclass
class Worker:
    database_url: str
    broker_url: str
    log: Path
    options: tuple[str, ...] = ("--pool", "solo")
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        environment = {**os.environ, "KTPLEDGER_BROKER_URL": self.broker_url}
        command = [KTPLEDGER, "--db", self.database_url, "worker", *self.options, "--loglevel", "info"]
        with self.log.open("ab") as sink:
            started_at = self.log.stat().st_size
            self.process = subprocess.Popen(
                command, env=environment, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while b"ready" not in self.log.read_bytes()[started_at:]:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, "worker did not start in 60 s"
            time.sleep(0.1)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
