"""The production front of docker-compose.yml, started without Docker: the `api` service's command
and limits as `ktpledger serve` on 127.0.0.1, and the `proxy` service's nginx configuration,
rendered from its template as the nginx image does (envsubst), in front of it.

Needs nginx, openssl and envsubst on the machine (Debian: nginx-light, openssl, gettext-base, which
`.ci/run` installs with scripts/install-front.sh); skipped without them, except with CI=true.
What Docker itself adds (the images, the network, the ulimits) is not tested here.
"""

from __future__ import annotations

import http.client
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ktpledger.serve_settings import ServeLimits, serve_limits
from tests.api.served import Served
from tests.conftest import free_port, unavailable

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "nginx" / "ktpledger.conf.template"
TOOLS = ("nginx", "openssl", "envsubst")


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document["services"]


def test_the_api_service_runs_serve_with_the_documented_default_limits() -> None:
    api = compose()["api"]
    assert api["command"][:1] == ["serve"]
    limits = {name: value for name, value in api["environment"].items() if name.startswith("KTPLEDGER_")}
    assert serve_limits(limits) == ServeLimits(body_budget_bytes=8 * 1024 * 1024)
    assert ServeLimits().body_budget == 8 * 1024 * 1024
    assert "ports" not in api  # reached through the proxy only


def test_the_proxy_sets_every_variable_its_template_uses() -> None:
    used = set(re.findall(r"\$\{(\w+)\}", TEMPLATE.read_text()))
    assert used == set(compose()["proxy"]["environment"])


@dataclass
class Front:
    api: Served
    https: int
    http: int
    nginx: subprocess.Popen[bytes]


@pytest.fixture
def front(tmp_path: Path) -> Iterator[Front]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        # Skipped on a developer's machine without them; in CI (`.ci/run` installs them) a failure.
        unavailable(
            f"{', '.join(missing)} for the proxy's test",
            FileNotFoundError("Debian: nginx-light, openssl, gettext-base (scripts/install-front.sh)"),
        )
    services = compose()
    api_service = services["api"]
    environment = {k: v for k, v in api_service["environment"].items() if k.startswith("KTPLEDGER_")}
    environment.pop("KTPLEDGER_DATABASE_URL", None)
    environment.pop("KTPLEDGER_BROKER_URL", None)
    api = Served(
        f"sqlite:///{tmp_path}/ledger.db",
        tmp_path / "api.log",
        environment=environment,
        arguments=("--host", "127.0.0.1"),  # compose: 0.0.0.0 inside its own network
    ).start()
    certs = tmp_path / "certs"
    certs.mkdir()
    self_signed = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
    subprocess.run(
        [
            "openssl",
            *self_signed,
            "-keyout",
            str(certs / "privkey.pem"),
            "-out",
            str(certs / "fullchain.pem"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    https, plain = free_port(), free_port()
    variables = {
        **services["proxy"]["environment"],
        "KTPLEDGER_UPSTREAM": f"127.0.0.1:{api.port}",
        "NGINX_HTTP_PORT": str(plain),
        "NGINX_HTTPS_PORT": str(https),
        "NGINX_CERT_DIR": str(certs),
    }
    rendered = subprocess.run(
        ["envsubst", " ".join(f"${{{name}}}" for name in variables)],
        input=TEMPLATE.read_bytes(),
        env={**os.environ, **variables},
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    (tmp_path / "ktpledger.conf").write_bytes(rendered)
    (tmp_path / "logs").mkdir()
    # The nginx image's own nginx.conf, in short: the rendered file is included in `http`.
    (tmp_path / "nginx.conf").write_text(
        f"""
        user {pwd.getpwuid(os.geteuid()).pw_name};  # workers that may write the test's temp folders
        worker_processes 1;
        pid {tmp_path}/nginx.pid;
        error_log {tmp_path}/logs/error.log;
        events {{ worker_connections 1024; }}
        http {{
            access_log {tmp_path}/logs/access.log;
            client_body_temp_path {tmp_path}/body;
            proxy_temp_path {tmp_path}/proxy;
            fastcgi_temp_path {tmp_path}/fastcgi;
            uwsgi_temp_path {tmp_path}/uwsgi;
            scgi_temp_path {tmp_path}/scgi;
            include {tmp_path}/ktpledger.conf;
        }}
        """
    )
    command = ["nginx", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    checked = subprocess.run([*command, "-t"], capture_output=True, timeout=30, check=False)
    assert checked.returncode == 0, checked.stderr.decode()
    nginx = subprocess.Popen([*command, "-g", "daemon off;"], start_new_session=True, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", https), timeout=1).close()
                break
            except OSError:
                assert nginx.poll() is None, nginx.stderr.read().decode() if nginx.stderr else ""
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.1)
        yield Front(api, https, plain, nginx)
    finally:
        if nginx.poll() is None:
            os.killpg(nginx.pid, signal.SIGTERM)
            nginx.wait(15)
        api.stop()


def over_https(front: Front, method: str, path: str, body: bytes | None = None, **headers: str) -> Any:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
    connection = http.client.HTTPSConnection("127.0.0.1", front.https, context=context, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def direct(front: Front, method: str, path: str, **headers: str) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", front.api.port, timeout=30)
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


WARNING = b"This page came over plain HTTP"


def test_the_proxy_serves_the_api_over_https(front: Front) -> None:
    status, _, body = over_https(front, "GET", "/health")
    assert (status, body) == (200, b'{"status":"ok"}')


def test_the_proxy_tells_the_api_the_browser_side_is_https(front: Front) -> None:
    """X-Forwarded-Proto: the sign-in page warns that the cookie will be dropped when it is asked
    over plain HTTP under a public name, and not when asked through the proxy."""
    assert WARNING in direct(front, "GET", "/dashboard/login", Host="ktpledger.example.org")[2]
    status, headers, body = over_https(front, "GET", "/dashboard/login", Host="ktpledger.example.org")
    assert status == 200 and WARNING not in body
    assert headers["Strict-Transport-Security"].startswith("max-age=")


def test_plain_http_to_the_proxy_redirects_to_https(front: Front) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", front.http, timeout=10)
    connection.request("GET", "/dashboard", headers={"Host": "ktpledger.example.org"})
    response = connection.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == "https://ktpledger.example.org/dashboard"
    connection.close()


def test_a_body_over_the_limit_stops_at_the_proxy(front: Front) -> None:
    status, _, _ = over_https(
        front, "POST", "/events", b" " * (4 * 1024 * 1024 + 1), **{"Content-Type": "application/json"}
    )
    assert status == 413
    assert "POST /events" not in front.api.output()  # the API never saw it
    within = b"[" + b" " * (1024 * 1024) + b"]"  # past nginx's memory buffer: it waits in a file
    status, _, _ = over_https(front, "POST", "/events", within, **{"Content-Type": "application/json"})
    assert status == 401  # a body within the limit reaches the API, which wants a token
    assert "POST /events" in front.api.output()
