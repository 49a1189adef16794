"""`ktpledger serve` as a real process on 127.0.0.1 (a port the OS picks), and raw-socket HTTP.

Used by the loopback flood tests and by bench/flood.py. The server's limits are given as the
environment variables of README.md (Configuration), so the process runs exactly as an operator
would start it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

KTPLEDGER = str(Path(sys.executable).parent / "ktpledger")
LISTENING = re.compile(rb"Uvicorn running on http://127\.0\.0\.1:(\d+)")


@dataclass
class Served:
    """A `ktpledger serve` process over `database_url`; `start()` returns once it listens."""

    database_url: str
    log: Path
    environment: Mapping[str, str] = field(default_factory=dict)
    arguments: tuple[str, ...] = ()
    preexec: object = None  # a callable run in the child before exec (e.g. to lower RLIMIT_NOFILE)
    source: Path | None = None  # another checkout's ktpledger to run (bench/flood.py --source)
    process: subprocess.Popen[bytes] | None = None
    port: int = 0

    def start(self, timeout: float = 60.0) -> Served:
        environment = dict(os.environ)
        environment.pop("KTPLEDGER_BROKER_URL", None)  # in-process projections unless a broker is given
        environment.update(self.environment)
        program = [KTPLEDGER]
        if self.source is not None:
            program = [sys.executable, "-m", "ktpledger.cli"]
            environment["PYTHONPATH"] = str(self.source)
        command = [*program, "--db", self.database_url, "serve", "--port", "0", *self.arguments]
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                command,
                env=environment,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=self.preexec,  # type: ignore[arg-type]
                cwd=self.source,  # python -m puts the working folder first on the path
            )
        deadline = time.monotonic() + timeout
        while True:
            found = LISTENING.search(self.log.read_bytes())
            if found:
                self.port = int(found.group(1))
                return self
            if self.process.poll() is not None:
                raise AssertionError(f"ktpledger serve exited:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"ktpledger serve did not listen within {timeout:.0f} s")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def fds(self) -> int:
        """The file descriptors the server process holds now."""
        return len(list(Path(f"/proc/{self.pid}/fd").iterdir()))

    def sockets(self) -> int:
        """The sockets among them: the listening one and every connection (the database's pool, an
        SQLite file's, varies with load and is left out)."""
        found = 0
        for descriptor in Path(f"/proc/{self.pid}/fd").iterdir():
            try:
                found += str(descriptor.readlink()).startswith("socket:")
            except OSError:  # closed meanwhile
                continue
        return found

    def rss(self) -> int:
        """The server's resident memory now, in bytes."""
        return status_field(self.pid, "VmRSS")

    def peak_rss(self) -> int:
        """The server's peak resident memory so far (VmHWM), in bytes."""
        return status_field(self.pid, "VmHWM")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(name)


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def read_reply(sock: socket.socket) -> Reply:
    """One HTTP/1.1 response (Content-Length framed) read off `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a whole response head: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Reply(int(status_line.split()[1]), headers, rest[:length])


def request(
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> Reply:
    """One request on a connection of its own, closed afterwards."""
    with connect(port, timeout) as sock:
        sock.sendall(head(method, path, {"Content-Length": str(len(body)), **(headers or {})}) + body)
        return read_reply(sock)


def head(method: str, path: str, headers: Mapping[str, str] | None = None) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed `sock` within `seconds`, and what it sent before closing."""
    sock.settimeout(0.2)
    received = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True, received
        if not chunk:
            return True, received
        received += chunk
    return False, received
