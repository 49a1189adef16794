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
  clients at once, a connection each: the requests/s answered 200 and the latency p50/p99.

--nofile SOFT[:HARD] starts the server with that open-files limit (1024 is a common default: the
campaign's server had it); --source DIR runs the server from another checkout of ktpledger (e.g.
`git archive <commit> | tar -x -C DIR`) for before/after figures with the same client.

    .venv/bin/python bench/flood.py                                  # defaults: 1,100 and 20 x 9.9 MB
    .venv/bin/python bench/flood.py --nofile 1024 --body-mb 4        # bodies at the default limit
    .venv/bin/python bench/flood.py --source /tmp/old --nofile 1024  # the same against old code
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import socket
import statistics
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
    return parser


def main() -> None:
    measure(arguments().parse_args())


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
            measured = flood(served, args.connections, args.probes)
            measured |= bodies(served, token, args.bodies, args.body_mb)
            if args.requests:
                measured |= single_requests(served, token, args.clients, args.requests)
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


def single_requests(served: Served, token: str, clients: int, per_client: int) -> dict[str, float]:
    """`per_client` POST /events of one claim each from `clients` threads at once, each client on a
    project of its own (offered first, untimed) and each request on a connection of its own:
    requests/s answered 200, latency p50 and p99 (ms)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    offers = json.dumps([offer(requests_project(n)) for n in range(clients)]).encode()
    offered = request(served.port, "POST", "/events", offers, headers, timeout=120)
    if offered.status != 200:
        raise RuntimeError(f"the offers of the requests' projects: status {offered.status}")
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failed = [0] * clients

    def post(number: int) -> None:
        for n in range(per_client):  # bounded
            event = claim(f"r-{number:03d}-{n:06d}", "1.00", project=requests_project(number))
            body = json.dumps([event]).encode()
            started = time.perf_counter()
            try:
                ok = request(served.port, "POST", "/events", body, headers, timeout=30).status == 200
            except OSError:
                ok = False
            if ok:
                latencies[number].append((time.perf_counter() - started) * 1000)
            else:
                failed[number] += 1

    threads = [threading.Thread(target=post, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.monotonic() - started
    answered = sorted(latency for each in latencies for latency in each)
    p99 = answered[min(len(answered) - 1, int(0.99 * len(answered)))] if answered else float("nan")
    print(
        f"requests: {clients} clients x {per_client} single-event POST /events in {took:.1f} s: "
        f"{len(answered) / took:,.0f} answered 200 a second, {sum(failed)} failed; {shown(answered)}, p99 {p99:.1f} ms"
    )
    return {
        "requests/s": len(answered) / took,
        "requests p99": p99,
        "requests failed": sum(failed),
        "requests": clients * per_client,
    }


BRIEF = ["--connections", "200", "--probes", "10", "--bodies", "2", "--body-mb", "1"]
BRIEF += ["--requests", "10", "--clients", "32", "--workers", "2"]


def brief() -> list[figures.Figure]:
    """200 half-open connections, 10 /health probes before and during, 2 parallel 1 MB bodies, then
    32 clients x 10 single-event POST /events; on PostgreSQL (a scratch schema) when it runs."""
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
            note=f"32 clients x 10, a project and a connection each, {measured['requests failed']:.0f} failed; {server}",
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
