"""No cross-site POST to the dashboard's sign-in and sign-out: the request must come from this
site (Sec-Fetch-Site, Origin, else Referer) and carry the form token of this browser's page."""

from __future__ import annotations

import html

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from ktpledger.api.app import create_app
from ktpledger.api.csrf import CSRF_COOKIE
from ktpledger.bootstrap import App
from tests.api.conftest import dashboard_post, form_token, same_origin

pytestmark = pytest.mark.usefixtures("recorded")


@pytest.fixture
def app(sqlite_app: App) -> App:
    """SQLite alone: where a request comes from does not depend on the database."""
    return sqlite_app


SITE = "https://testserver"  # the `client` fixture's own origin
EVIL = "https://evil.example"


def sign_in_form(client: TestClient, token: str) -> dict[str, str]:
    return {"token": token, "csrf": form_token(client)}


def assert_refused(response: Response, *, why: str) -> None:
    status, text, headers = response.status_code, html.unescape(response.text), response.headers
    assert status == 403, (status, text)
    assert why in text, text
    assert "Nothing was changed" in text
    assert "set-cookie" not in headers  # nothing set, nothing cleared


def signed_in(client: TestClient) -> bool:
    return client.get("/dashboard", follow_redirects=False).status_code == 200


# ---------------------------------------------------------------- the normal flows


def test_same_origin_sign_in_and_sign_out(client: TestClient, tokens: dict[str, str]) -> None:
    response = dashboard_post(client, "/dashboard/login", {"token": tokens["viewer"]})
    assert response.status_code == 303 and signed_in(client)
    response = dashboard_post(client, "/dashboard/logout")
    assert response.status_code == 303 and not signed_in(client)


def test_a_referer_of_this_site_stands_in_for_a_missing_origin(
    client: TestClient, tokens: dict[str, str]
) -> None:
    response = client.post(
        "/dashboard/login",
        data=sign_in_form(client, tokens["viewer"]),
        headers={"Referer": f"{SITE}/dashboard/login?next=/dashboard"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and signed_in(client)


def test_sec_fetch_site_same_origin_is_accepted(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.post(
        "/dashboard/login",
        data=sign_in_form(client, tokens["viewer"]),
        headers={"Origin": SITE, "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert response.status_code == 303


def test_pages_with_a_form_set_the_token_cookie_and_panels_do_not(
    client: TestClient, tokens: dict[str, str]
) -> None:
    page = client.get("/dashboard/login")
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=")
    for flag in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
        assert flag.lower() in cookie.lower(), flag
    assert "domain=" not in cookie.lower()  # a __Host- cookie has none
    token = form_token(client)
    assert form_token(client) == token  # the same browser keeps its token across pages
    dashboard_post(client, "/dashboard/login", {"token": tokens["viewer"]})
    assert form_token(client, "/dashboard") == token  # the sign-out button carries it
    assert "set-cookie" not in client.get("/dashboard/panel").headers


def test_dashboard_pages_send_their_origin_on_their_own_forms(client: TestClient) -> None:
    # With Referrer-Policy: no-referrer a browser sends `Origin: null` on every POST.
    assert client.get("/dashboard/login").headers["referrer-policy"] == "same-origin"
    assert client.get("/health").headers["referrer-policy"] == "no-referrer"


# ---------------------------------------------------------------- where the request comes from


def test_a_foreign_origin_is_refused(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.post(
        "/dashboard/login",
        data=sign_in_form(client, tokens["admin"]),
        headers={"Origin": EVIL},
        follow_redirects=False,
    )
    assert_refused(response, why=f"it came from another site (Origin: {EVIL})")
    assert not signed_in(client)


def test_a_null_origin_is_refused(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.post(
        "/dashboard/login",
        data=sign_in_form(client, tokens["admin"]),
        headers={"Origin": "null"},
        follow_redirects=False,
    )
    assert_refused(response, why="Origin: null")
    assert not signed_in(client)


def test_a_cross_site_form_post_without_origin_is_refused_by_its_referer(
    client: TestClient, tokens: dict[str, str]
) -> None:
    response = client.post(
        "/dashboard/login",
        data=sign_in_form(client, tokens["admin"]),
        headers={"Referer": f"{EVIL}/win-a-prize.html"},
        follow_redirects=False,
    )
    assert_refused(response, why=f"Referer: {EVIL}/win-a-prize.html")
    assert not signed_in(client)


def test_neither_origin_nor_referer_is_refused(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.post(
        "/dashboard/login", data=sign_in_form(client, tokens["admin"]), follow_redirects=False
    )
    assert_refused(response, why="no Origin")


@pytest.mark.parametrize("fetch_site", ["cross-site", "same-site", "none"])
def test_sec_fetch_site_other_than_same_origin_is_refused(
    client: TestClient, tokens: dict[str, str], fetch_site: str
) -> None:
    response = client.post(
        "/dashboard/login",
        data=sign_in_form(client, tokens["admin"]),
        headers={"Origin": SITE, "Sec-Fetch-Site": fetch_site},
        follow_redirects=False,
    )
    assert_refused(response, why=f"Sec-Fetch-Site: {fetch_site}")


def test_another_port_or_scheme_is_another_origin(client: TestClient, tokens: dict[str, str]) -> None:
    for origin in ("https://testserver:8443", "http://testserver", "https://testserver.evil.example"):
        response = client.post(
            "/dashboard/login",
            data=sign_in_form(client, tokens["admin"]),
            headers={"Origin": origin},
            follow_redirects=False,
        )
        assert response.status_code == 403, origin


# ---------------------------------------------------------------- the form token


def test_a_missing_token_is_refused(client: TestClient, tokens: dict[str, str]) -> None:
    form_token(client)  # the browser holds its cookie; the attacker's form has no token
    response = client.post(
        "/dashboard/login",
        data={"token": tokens["admin"]},
        headers=same_origin(client),
        follow_redirects=False,
    )
    assert_refused(response, why="the form carried no token")


def test_a_forged_token_is_refused(client: TestClient, tokens: dict[str, str]) -> None:
    real = form_token(client)
    forged = ("A" if real[0] != "A" else "B") + real[1:]
    response = client.post(
        "/dashboard/login",
        data={"token": tokens["admin"], "csrf": forged},
        headers=same_origin(client),
        follow_redirects=False,
    )
    assert_refused(response, why="not this browser's")


def test_a_token_without_its_cookie_is_refused(app: App, tokens: dict[str, str]) -> None:
    with TestClient(create_app(app), base_url=SITE) as first:
        token = form_token(first)
    with TestClient(create_app(app), base_url=SITE) as other:  # another browser: no cookie
        response = other.post(
            "/dashboard/login",
            data={"token": tokens["admin"], "csrf": token},
            headers={"Origin": SITE},
            follow_redirects=False,
        )
    assert_refused(response, why="holds no form token")


# ---------------------------------------------------------------- sign-out


def test_a_cross_site_sign_out_is_refused_and_keeps_the_session(
    client: TestClient, tokens: dict[str, str]
) -> None:
    assert dashboard_post(client, "/dashboard/login", {"token": tokens["viewer"]}).status_code == 303
    token = form_token(client, "/dashboard")
    for headers, data in (
        ({"Origin": EVIL}, {"csrf": token}),
        ({"Origin": "null"}, {"csrf": token}),
        ({"Referer": f"{EVIL}/"}, {"csrf": token}),
        (same_origin(client), {}),
        (same_origin(client), {"csrf": "forged" * 7 + "x"}),
    ):
        response = client.post("/dashboard/logout", data=data, headers=headers, follow_redirects=False)
        assert response.status_code == 403, (headers, data)
        assert "Sign-out refused" in response.text
        assert "set-cookie" not in response.headers
        assert signed_in(client), (headers, data)


# ---------------------------------------------------------------- behind a proxy


def test_behind_a_proxy_the_forwarded_host_and_scheme_are_the_sites_origin(
    app: App, tokens: dict[str, str]
) -> None:
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "ktp.example.ac.uk"}
    with TestClient(create_app(app), base_url="http://10.0.0.5:8000") as behind:
        token = form_token(behind)
        cookie = {"Cookie": f"{CSRF_COOKIE}={token}"}  # the browser, over https, sends it back
        form = {"token": tokens["viewer"], "csrf": token}

        def post(origin: str) -> int:
            headers = {**proxy, **cookie, "Origin": origin}
            return behind.post(
                "/dashboard/login", data=form, headers=headers, follow_redirects=False
            ).status_code

        assert post("https://ktp.example.ac.uk") == 303
        assert post("https://ktp.example.ac.uk:443") == 303
        assert post(EVIL) == 403
        assert post("http://ktp.example.ac.uk") == 403  # the proxy says the site is https
        assert post("http://10.0.0.5:8000") == 403  # the proxy says where the site is
