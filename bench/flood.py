"""`ktpledger serve` under a loopback flood: /health while N connections sit half-open, and the
server's memory while parallel large bodies are POSTed to /events by an authorised client.

Starts its own server (SQLite in a temporary folder unless --db) with the default limits, and
prints:

- flood: the /health latency (p50, p95, max) of --probes requests before the flood and while
  --connections connections are open and silent, how many probes failed, and the most file
  descriptors the server held;
- bodies: --bodies parallel POST /events of --body-mb MB each (10,000 claims, one project each):
  the statuses, the time taken, and the server's resident memory before and at its peak;
- requests (only with --requests N): N single-event POST /events from each of --clients (32)
  clients at once, each on a keep-alive connection of its own (--new-connections: a connection a
  request): the requests/s answered 200 and the latency p50/p99; then the same client's floor, N
  GET /health from each client the same way (the server's cheapest route: one `SELECT 1`), so a
  reader can tell the server's figure from what the client and the machine allow. Each line also
  gives the server's CPU a request (its processes' user and system time over the run, divided by
  the requests sent): a figure other load on the shared machine moves far less than the rates.
  --client wrk sends them with wrk instead (C: far less CPU than this script's threads, which share
  the machine with the server): --clients threads of one keep-alive connection each, for --seconds,
  each on a project of its own, every POST a new claim with its own key; it prints how many claims
  the ledger then holds (as many as the POSTs answered 200, and at most one a connection more).

--connections 0 skips the flood, --bodies 0 the bodies. --postgres runs on a scratch schema of
the local PostgreSQL (dropped at the end) instead of SQLite; --broker URL gives the server a
broker (KTPLEDGER_BROKER_URL: an append queues a wake-up, as in production; no worker takes it,
and the URL's Redis database is flushed at the end, so give one of the bench's own).

--nofile SOFT[:HARD] starts the server with that open-files limit (1024 is a common default: the
campaign's server had it); --source DIR runs the server from another checkout of ktpledger (e.g.
`git archive <commit> | tar -x -C DIR`) for before/after figures with the same client.

    .venv/bin/python bench/flood.py                                  # defaults: 1,100 and 20 x 9.9 MB
    .venv/bin/python bench/flood.py --nofile 1024 --body-mb 4        # bodies at the default limit
    .venv/bin/python bench/flood.py --source /tmp/old --nofile 1024  # the same against old code
    .venv/bin/python bench/flood.py --postgres --workers 2 --connections 0 --bodies 0 --requests 300 \
        --broker redis://127.0.0.1:6379/11                           # POST /events requests/s only
    .venv/bin/python bench/flood.py --postgres --workers 2 --connections 0 --bodies 0 --requests 1 \
        --client wrk --seconds 10 --broker redis://127.0.0.1:6379/11 # the same, measured by wrk
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import figures  # noqa: E402
from bench.scratch import scratch_schema  # noqa: E402
from ktpledger.bootstrap import bootstrap  # noqa: E402
from ktpledger.service.access import create_token  # noqa: E402
from ktpledger.service.schema import upgrade  # noqa: E402
from ktpledger.settings import Settings  # noqa: E402
from tests.api.served import Served, connect, head, read_reply, request  # noqa: E402
from tests.ledger.factory import claim, offer  # noqa: E402

EVENTS_PER_BODY = 10_000
MB = 1_000_000


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", help="database URL (default: SQLite in a temporary folder)")
    parser.add_argument(
        "--postgres", action="store_true", help="a scratch schema of PostgreSQL on 127.0.0.1 (not with --db)"
    )
    parser.add_argument("--broker", help="KTPLEDGER_BROKER_URL for the server (its Redis db is flushed)")
    parser.add_argument("--connections", type=int, default=1100, help="half-open connections (1100)")
    parser.add_argument("--probes", type=int, default=20, help="/health requests timed (20)")
    parser.add_argument("--bodies", type=int, default=20, help="parallel POST /events bodies (20)")
    parser.add_argument("--body-mb", type=float, default=9.9, help="MB per body (9.9)")
    parser.add_argument("--nofile", help="the server's RLIMIT_NOFILE, SOFT or SOFT:HARD")
    parser.add_argument("--source", type=Path, help="run the server from this checkout")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server (repeat)")
    parser.add_argument("--requests", type=int, default=0, help="single-event POSTs per client (0: none)")
    parser.add_argument("--clients", type=int, default=32, help="clients posting at once (32)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (serve --workers, 1)")
    parser.add_argument(
        "--new-connections", action="store_true", help="--requests: a connection a request, not keep-alive"
    )
    parser.add_argument(
        "--client",
        choices=("python", "wrk"),
        default="python",
        help="--requests: this script's threads (the default), or wrk (C, far less CPU) when installed",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="--client wrk: seconds each run (10)")
    return parser


def main() -> None:
    args = arguments().parse_args()
    if args.postgres and args.db:
        raise SystemExit("--postgres or --db, not both")
    with contextlib.ExitStack() as stack:
        if args.postgres:
            args.db = stack.enter_context(scratch_schema())
        if args.broker:
            args.env.append(f"KTPLEDGER_BROKER_URL={args.broker}")
            stack.callback(flush_broker, args.broker)
        measure(args)


def flush_broker(url: str) -> None:
    """The wake-ups no worker took."""
    import redis

    redis.Redis.from_url(url).flushdb()


def measure(args: argparse.Namespace) -> dict[str, float]:
    """Start the server, flood it, post the bodies; print the figures (module docstring) and return them."""
    raise_own_fd_limit(args.connections + 200)
    with tempfile.TemporaryDirectory(prefix="ktpledger-flood-") as folder:
        url = args.db or f"sqlite:///{folder}/ledger.db"
        token = prepare(url, args.bodies)
        environment = dict(item.split("=", 1) for item in args.env)
        served = Served(
            url,
            Path(folder) / "serve.log",
            environment=environment,
            preexec=file_limit(args.nofile) if args.nofile else None,
            source=args.source,
            arguments=("--workers", str(args.workers)) if args.workers > 1 else (),
        )
        served.start()
        try:
            print(
                f"server: {'source ' + str(args.source) if args.source else 'this checkout'}, {limits_line(served)}"
            )
            measured = flood(served, args.connections, args.probes) if args.connections else {}
            if args.bodies:
                measured |= bodies(served, token, args.bodies, args.body_mb)
            if args.requests and args.client == "wrk" and shutil.which("wrk"):
                if args.new_connections:
                    raise SystemExit("--client wrk keeps its connections alive: not with --new-connections")
                measured |= wrk_requests(served, url, token, args.clients, args.seconds)
            elif args.requests:
                if args.client == "wrk":
                    print("wrk is not installed (apt-get install wrk): the Python client measures instead")
                keep_alive = not args.new_connections
                measured |= single_requests(served, token, args.clients, args.requests, keep_alive=keep_alive)
                measured |= health_floor(served, args.clients, args.requests, keep_alive=keep_alive)
        finally:
            served.stop()
            emfile = served.output().count("Too many open files")
            print(f"server log: {emfile} 'Too many open files' errors")
    return measured


def raise_own_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def file_limit(text: str) -> Callable[[], None]:
    soft_text, _, hard_text = text.partition(":")
    soft = int(soft_text)

    def lower() -> None:
        hard = int(hard_text) if hard_text else resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return lower


def limits_line(served: Served) -> str:
    for line in served.output().splitlines():
        if "limits:" in line:
            return line.split("limits:", 1)[1].strip()
    return "no limits announced (plain uvicorn)"


def prepare(url: str, projects: int) -> str:
    """A migrated ledger with one offer per body's project, and an admin token."""
    application = bootstrap(Settings(database_url=url))
    try:
        upgrade(application.database)
        results = application.ledger.append([offer(project_name(n)) for n in range(projects)])
        assert all(result.status in ("recorded", "duplicate") for result in results), results
        return create_token(application.database, "admin", None, "bench/flood.py")
    finally:
        application.close()


def project_name(number: int) -> str:
    return f"KTP-F{number:03d}"


def requests_project(number: int) -> str:
    return f"KTP-R{number:03d}"


def timed_health(port: int, count: int) -> tuple[list[float], int]:
    latencies, failed = [], 0
    for _ in range(count):
        started = time.perf_counter()
        try:
            ok = request(port, "GET", "/health", timeout=5).status == 200
        except OSError:
            ok = False
        if ok:
            latencies.append((time.perf_counter() - started) * 1000)
        else:
            failed += 1
        time.sleep(0.05)
    return latencies, failed


def shown(latencies: list[float]) -> str:
    if not latencies:
        return "no answers"
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms, max {ordered[-1]:.1f} ms"


class Sampler:
    """The server's descriptors and resident memory, sampled every few milliseconds."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.fds = 0
        self.rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.fds = max(self.fds, self.served.fds())
                self.rss = max(self.rss, self.served.rss())
            except (OSError, KeyError):
                return
            time.sleep(0.005)


def flood(served: Served, count: int, probes: int) -> dict[str, float]:
    before, before_failed = timed_health(served.port, probes)
    idle_fds = served.fds()
    opened: list[socket.socket] = []
    refused = 0
    with Sampler(served) as sampler:
        started = time.monotonic()
        for _ in range(count):
            try:
                opened.append(connect(served.port, timeout=3))
            except OSError:
                refused += 1
        took = time.monotonic() - started
        during, failed = timed_health(served.port, probes)
        open_now = served.fds()
    for sock in opened:
        sock.close()
    print(
        f"flood: {count} half-open connections ({len(opened)} opened, {refused} failed to connect, "
        f"in {took:.1f} s); server fds idle {idle_fds}, with the flood {open_now}, most {sampler.fds}"
    )
    print(f"  /health before: {shown(before)}, {before_failed} of {probes} failed")
    print(f"  /health during: {shown(during)}, {failed} of {probes} failed")
    nothing = float("nan")
    return {
        "health before": statistics.median(before) if before else nothing,
        "health during": statistics.median(during) if during else nothing,
        "failed during": failed,
        "opened": len(opened),
    }


def body_of(project: str, megabytes: float) -> bytes:
    """10,000 claims on `project`, their descriptions padded so the body is `megabytes` MB."""
    events = [claim(f"b-{n:05d}", "1.00", project=project) for n in range(EVENTS_PER_BODY)]
    bare = len(json.dumps(events, separators=(",", ":")).encode())
    pad = max(0, (int(megabytes * MB) - bare) // EVENTS_PER_BODY)
    for item in events:
        item["data"]["description"] += " " + "x" * max(0, pad - 1)
    return json.dumps(events, separators=(",", ":")).encode()


def bodies(served: Served, token: str, count: int, megabytes: float) -> dict[str, float]:
    payloads = [body_of(project_name(n), megabytes) for n in range(count)]
    statuses: list[Any] = [None] * count
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(number: int) -> None:
        payload = payloads[number]
        try:
            with connect(served.port, timeout=600) as sock:
                sock.sendall(head("POST", "/events", {**headers, "Content-Length": str(len(payload))}))
                # Refused before the whole body was sent (413, 503): the reply says why.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    sock.sendall(payload)
                statuses[number] = read_reply(sock).status
        except OSError as error:
            statuses[number] = type(error).__name__

    time.sleep(0.5)
    rss_before = served.rss()
    threads = [threading.Thread(target=post, args=(n,)) for n in range(count)]
    with Sampler(served) as sampler:
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.monotonic() - started
    size = statistics.mean(len(payload) for payload in payloads) / MB
    tally = ", ".join(f"{status}: {n}" for status, n in sorted(Counter(map(str, statuses)).items()))
    print(
        f"bodies: {count} parallel POST /events of {size:.2f} MB ({EVENTS_PER_BODY} claims each) in {took:.1f} s"
    )
    print(f"  statuses: {tally}")
    print(
        f"  server RSS before {rss_before / MB:.0f} MB, peak {sampler.rss / MB:.0f} MB "
        f"(+{(sampler.rss - rss_before) / MB:.0f} MB); fds at most {sampler.fds}"
    )
    return {
        "bodies seconds": took,
        "bodies accepted": sum(status == 200 for status in statuses),
        "rss before": rss_before / MB,
        "rss growth": (sampler.rss - rss_before) / MB,
    }


class Client:
    """One bench client: its requests on one keep-alive connection (opened again if the server
    closes it), or each on a connection of its own."""

    def __init__(self, port: int, *, keep_alive: bool) -> None:
        self.port = port
        self.keep_alive = keep_alive
        self.sock: socket.socket | None = None

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> int:
        if not self.keep_alive:
            return request(self.port, method, path, body, headers, timeout=30).status
        for attempt in range(2):  # bounded: once more on a fresh connection if the kept one was closed
            if self.sock is None:
                self.sock = connect(self.port, timeout=30)
            try:
                self.sock.sendall(head(method, path, {"Content-Length": str(len(body)), **headers}) + body)
                reply = read_reply(self.sock)
            except OSError:
                self.close()
                if attempt:
                    raise
                continue
            if reply.headers.get("connection", "").lower() == "close":
                self.close()
            return reply.status
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def server_cpu(pid: int) -> float:
    """CPU seconds (user and system) the server process and its worker processes have used: a
    figure of the server's own cost that other load on the machine changes far less than its rate."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending, seen = 0.0, [pid], set()
    while pending:  # bounded: the process tree is finite and each pid is visited once
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # ended meanwhile
            continue
    return total


def timed_clients(
    port: int,
    clients: int,
    per_client: int,
    make: Callable[[int, int], tuple[str, str, bytes, dict[str, str]]],
    *,
    keep_alive: bool,
) -> tuple[list[float], int, float]:
    """`per_client` requests (`make(client, n)`: method, path, body, headers) from each of `clients`
    threads at once: the latencies (ms) of those answered 200, how many were not, and the seconds."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failed = [0] * clients
    ready = threading.Barrier(clients + 1)

    def run(number: int) -> None:
        client = Client(port, keep_alive=keep_alive)
        try:
            ready.wait()
            for n in range(per_client):  # bounded
                method, path, body, headers = make(number, n)
                started = time.perf_counter()
                try:
                    ok = client.request(method, path, body, headers) == 200
                except OSError:
                    ok = False
                if ok:
                    latencies[number].append((time.perf_counter() - started) * 1000)
                else:
                    failed[number] += 1
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.monotonic()
    for thread in threads:
        thread.join()
    took = time.monotonic() - started
    return sorted(latency for each in latencies for latency in each), sum(failed), took


def p99_of(ordered: list[float]) -> float:
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan")


def single_requests(
    served: Served, token: str, clients: int, per_client: int, *, keep_alive: bool = True
) -> dict[str, float]:
    """`per_client` POST /events of one claim each from `clients` threads at once, each client on a
    project of its own (offered first, untimed) and on a keep-alive connection of its own (else a
    connection a request): requests/s answered 200, latency p50 and p99 (ms)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    offers = json.dumps([offer(requests_project(n)) for n in range(clients)]).encode()
    offered = request(served.port, "POST", "/events", offers, headers, timeout=120)
    if offered.status != 200:
        raise RuntimeError(f"the offers of the requests' projects: status {offered.status}")

    def make(number: int, n: int) -> tuple[str, str, bytes, dict[str, str]]:
        event = claim(f"r-{number:03d}-{n:06d}", "1.00", project=requests_project(number))
        return "POST", "/events", json.dumps([event]).encode(), headers

    cpu_before = server_cpu(served.pid)
    answered, failed, took = timed_clients(served.port, clients, per_client, make, keep_alive=keep_alive)
    cpu = (server_cpu(served.pid) - cpu_before) * 1000 / max(1, clients * per_client)
    p99 = p99_of(answered)
    connections = "keep-alive" if keep_alive else "a connection a request"
    print(
        f"requests: {clients} clients x {per_client} single-event POST /events ({connections}) in {took:.1f} s: "
        f"{len(answered) / took:,.0f} answered 200 a second, {failed} failed; {shown(answered)}, p99 {p99:.1f} ms; "
        f"server CPU {cpu:.2f} ms a request"
    )
    return {
        "requests/s": len(answered) / took,
        "requests p50": statistics.median(answered) if answered else float("nan"),
        "requests p99": p99,
        "requests failed": failed,
        "requests": clients * per_client,
        "server cpu ms": cpu,
    }


def health_floor(
    served: Served, clients: int, per_client: int, *, keep_alive: bool = True
) -> dict[str, float]:
    """The same clients' GET /health (no token, one `SELECT 1`): what the client, the server's HTTP
    stack and the machine allow, the floor beside the POST /events figure."""

    def make(_number: int, _n: int) -> tuple[str, str, bytes, dict[str, str]]:
        return "GET", "/health", b"", {}

    cpu_before = server_cpu(served.pid)
    answered, failed, took = timed_clients(served.port, clients, per_client, make, keep_alive=keep_alive)
    cpu = (server_cpu(served.pid) - cpu_before) * 1000 / max(1, clients * per_client)
    p99 = p99_of(answered)
    print(
        f"  floor: the same clients' GET /health: {len(answered) / took:,.0f} answered 200 a second, "
        f"{failed} failed; {shown(answered)}, p99 {p99:.1f} ms; server CPU {cpu:.2f} ms a request"
    )
    return {"health/s": len(answered) / took, "health p99": p99}


# wrk's script for --client wrk: a thread of wrk per client, each on one keep-alive connection (wrk's
# threads share none) and one project of its own, as this script's clients; every POST a new claim
# with a key of its own (a duplicate would be cheaper, and flatter). `done` prints what is read back.
WRK_SCRIPT = """
local template, mode, number = %(template)s, %(mode)s, 0
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  if mode == "post" then
    wrk.method = "POST"
    wrk.path = "/events"
    wrk.headers["Authorization"] = "Bearer " .. %(token)s
    wrk.headers["Content-Type"] = "application/json"
  end
end
function request()
  if mode ~= "post" then
    return wrk.format("GET", "/health")
  end
  number = number + 1
  local key = string.format("w-%%03d-%%07d", id, number)
  local body = template:gsub("@KEY@", key):gsub("@PROJECT@", string.format("KTP-R%%03d", id))
  return wrk.format(nil, nil, nil, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status, latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_run(served: Served, token: str, clients: int, seconds: float, mode: str) -> dict[str, float]:
    """One wrk run of `seconds` (bounded: wrk stops by itself, and is killed past twice that):
    requests answered 2xx a second, latency p50 and p99 (ms), failures, server CPU a request."""
    template = json.dumps([claim("@KEY@", "1.00", project="@PROJECT@")])
    script = WRK_SCRIPT % {
        "template": lua_string(template),
        "mode": lua_string(mode),
        "token": lua_string(token),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="flood-wrk-") as file:
        file.write(script)
        file.flush()
        command = ["wrk", "-t", str(clients), "-c", str(clients), "-d", f"{seconds:g}s", "--timeout", "30s"]
        command += ["-s", file.name, f"http://127.0.0.1:{served.port}/"]
        cpu_before = server_cpu(served.pid)
        ran = subprocess.run(command, capture_output=True, text=True, timeout=2 * seconds + 60, check=True)
        cpu = server_cpu(served.pid) - cpu_before
    line = next((line for line in ran.stdout.splitlines() if line.startswith("WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{ran.stdout}\n{ran.stderr}")
    count, micros, errors, statuses, p50, p99 = (int(field) for field in line.split()[1:7])
    answered = count - statuses
    return {
        "per second": answered / (micros / 1e6),
        "p50": p50 / 1000,
        "p99": p99 / 1000,
        "failed": errors + statuses,
        "cpu ms": cpu * 1000 / max(1, count),
        "requests": count,
    }


def lua_string(text: str) -> str:
    return "[==[" + text + "]==]"  # a long bracket: nothing in the texts here closes it


def wrk_requests(served: Served, url: str, token: str, clients: int, seconds: float) -> dict[str, float]:
    """--client wrk: single-event POST /events from `clients` connections of wrk for `seconds`, then
    GET /health the same way (the floor), as `single_requests` and `health_floor` do in Python; and
    the claims the ledger holds then, which must be as many as the POSTs answered 200 (each a new
    event, none a duplicate), and up to one a connection more (wrk counts no answer still on its
    way when it stops)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    offers = json.dumps([offer(requests_project(n)) for n in range(clients)]).encode()
    offered = request(served.port, "POST", "/events", offers, headers, timeout=120)
    if offered.status != 200:
        raise RuntimeError(f"the offers of the requests' projects: status {offered.status}")
    posted = wrk_run(served, token, clients, seconds, "post")
    recorded = claims_recorded(url, [requests_project(n) for n in range(clients)])
    print(
        f"requests (wrk): {clients} connections x {seconds:g} s single-event POST /events (keep-alive): "
        f"{posted['per second']:,.0f} answered 200 a second ({posted['requests']:.0f} sent), "
        f"{posted['failed']:.0f} failed; p50 {posted['p50']:.1f} ms, p99 {posted['p99']:.1f} ms; "
        f"server CPU {posted['cpu ms']:.2f} ms a request; {recorded} claims recorded"
    )
    health = wrk_run(served, token, clients, seconds, "health")
    print(
        f"  floor (wrk): the same connections' GET /health: {health['per second']:,.0f} answered 200 a "
        f"second, {health['failed']:.0f} failed; p50 {health['p50']:.1f} ms, p99 {health['p99']:.1f} ms; "
        f"server CPU {health['cpu ms']:.2f} ms a request"
    )
    return {
        "requests/s": posted["per second"],
        "requests p50": posted["p50"],
        "requests p99": posted["p99"],
        "requests failed": posted["failed"],
        "requests": posted["requests"],
        "server cpu ms": posted["cpu ms"],
        "health/s": health["per second"],
        "health p99": health["p99"],
        "claims recorded": recorded,
    }


def claims_recorded(url: str, projects: list[str]) -> int:
    """The events of `projects` in the ledger but their offers."""
    application = bootstrap(Settings(database_url=url))
    try:
        return sum(len(application.ledger.stream(project)) - 1 for project in projects)
    finally:
        application.close()


BRIEF = ["--connections", "200", "--probes", "10", "--bodies", "2", "--body-mb", "1"]
BRIEF += ["--requests", "300", "--clients", "32", "--workers", "2"]


def brief() -> list[figures.Figure]:
    """200 half-open connections, 10 /health probes before and during, 2 parallel 1 MB bodies, then
    32 clients x 300 single-event POST /events on keep-alive connections (and the same clients' GET
    /health, the floor); on PostgreSQL (a scratch schema) when it runs."""
    args = arguments().parse_args(BRIEF)
    with contextlib.ExitStack() as stack:
        backend = "sqlite"
        if figures.postgres_reachable():
            backend = "postgresql"
            args.db = stack.enter_context(scratch_schema())
        broker = figures.redis_reachable()
        if broker:  # as in production: an append sends a wake-up; the projections are the workers'
            args.env.append(f"KTPLEDGER_BROKER_URL={figures.BENCH_REDIS}")
        try:
            with figures.quiet():
                measured = measure(args)
        finally:
            if broker:  # the wake-ups no worker took
                import redis

                redis.Redis.from_url(figures.BENCH_REDIS).flushdb()
    server = f"{backend}, serve --workers 2, " + (
        "a broker (wake-ups queued, no worker)" if broker else "projections in-process (no Redis)"
    )
    return [
        figures.Figure(
            "POST /events single",
            measured["requests/s"],
            "requests/s",
            target=">= 1,000 requests/s",
            floor=measured["health/s"],
            note=f"32 clients x 300, a project and a keep-alive connection each, {measured['requests failed']:.0f} "
            f"failed; {server}; floor: the same clients' GET /health",
        ),
        figures.Figure(
            "POST /events p99",
            measured["requests p99"],
            "ms",
            target="< 100 ms",
            higher_is_better=False,
            note="the target: 2 server workers, 32 clients",
        ),
        figures.Figure(
            "/health p50, flooded",
            measured["health during"],
            "ms",
            floor=measured["health before"],
            higher_is_better=False,
            note=f"{measured['opened']:.0f} of 200 half-open; floor: the same before the flood; "
            f"{measured['failed during']:.0f} of 10 failed",
        ),
        figures.Figure(
            "bodies",
            measured["bodies seconds"] * 1000,
            "ms",
            higher_is_better=False,
            note=f"2 parallel POST /events of 1 MB, {measured['bodies accepted']:.0f} answered 200",
        ),
        figures.Figure(
            "server RSS growth",
            measured["rss growth"],
            "MB",
            higher_is_better=False,
            note=f"from {measured['rss before']:.0f} MB, during the bodies",
        ),
    ]


if __name__ == "__main__":
    main()
