"""Every path answers every method without a server error, and every answer carries its request id.

OPTIONS used to answer 500 on most paths (a browser's CORS preflight meets it first), with an
internal message in the body; HEAD answered 405; the request log wrote refusals as 500 under
an id the client never saw.
"""

import json
import logging
import re
from dataclasses import replace
from typing import Any

import httpx
import pytest

from api.app import create_app, database_pool
from api.settings import Settings
from crypto.keyring import Keyring
from tests.support import FakeClock, app_client, set_up_cafe

MISSING = "00000000-0000-4000-8000-000000000000"
METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PATCH", "PUT", "DELETE", "TRACE")


def _paths(app: object) -> list[tuple[str, set[str]]]:
    """Every route of the app with a concrete path (parameters filled in) and its methods."""
    routes = []
    for route in app.routes:  # type: ignore[attr-defined]
        path = re.sub(r"\{(\w+):uuid\}", MISSING, route.path)
        path = re.sub(r"\{(\w+):str\}", "2026-01-01", path)
        routes.append((path, set(route.methods)))
    return routes


async def test_every_path_answers_every_method_without_a_server_error(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    app = client._transport.app  # type: ignore[attr-defined]
    seen = 0
    for path, methods in _paths(app):
        if path.startswith("/schema"):
            continue
        for method in METHODS:
            for headers in ({}, cafe.owner):
                response = await client.request(method, path, headers=headers)
                seen += 1
                assert response.status_code < 500, (method, path, response.text)
                assert response.headers.get("x-request-id"), (method, path)
                if response.status_code >= 400:
                    # The API answers problem+json; the owner's console, pages that say what went wrong.
                    kind = "text/html" if path.startswith("/console") else "application/problem+json"
                    assert response.headers["content-type"].startswith(kind), (method, path)
                    assert "scope" not in response.text and "Traceback" not in response.text
                if method == "OPTIONS":
                    assert response.status_code == 204, (path, response.text)
                    allowed = set(response.headers["allow"].split(", "))
                    assert allowed == methods | ({"HEAD"} if "GET" in methods else set()), path
                elif method not in methods and not (method == "HEAD" and "GET" in methods):
                    assert response.status_code == 405, (method, path, response.status_code)
    assert seen > 500


async def test_head_answers_what_get_answers_without_the_body(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    for path in ("/health", "/v1/stores", f"/v1/businesses/{cafe.business_id}/programs"):
        get = await client.get(path, headers=cafe.owner)
        head = await client.head(path, headers=cafe.owner)
        assert head.status_code == get.status_code == 200
        assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]
        assert head.headers["content-length"] == get.headers["content-length"]


async def test_cors_is_off_unless_origins_are_allowed(
    settings: Settings, clock: FakeClock, keyring: Keyring, client: httpx.AsyncClient
) -> None:
    preflight = {"origin": "https://card.example", "access-control-request-method": "POST"}
    closed = await client.options("/v1/scans", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    allowed = create_app(replace(settings, cors_origins=("https://card.example",)), clock=clock, keyring=keyring)
    async with app_client(allowed) as http:
        opened = await http.options("/v1/scans", headers=preflight)
        other = await http.options("/v1/scans", headers={**preflight, "origin": "https://evil.example"})
    assert opened.status_code == 204
    assert opened.headers["access-control-allow-origin"] == "https://card.example"
    assert "authorization" in opened.headers["access-control-allow-headers"]
    assert other.headers.get("access-control-allow-origin") != "https://evil.example"


async def test_the_request_log_tells_the_status_and_id_the_client_got(
    settings: Settings, clock: FakeClock, keyring: Keyring, caplog: pytest.LogCaptureFixture
) -> None:
    logged = create_app(replace(settings, log_requests=True), clock=clock, keyring=keyring)
    caplog.set_level(logging.INFO, logger="punchguard.requests")
    async with app_client(logged) as http:
        answers = [
            await http.post("/v1/scans", json={}),  # refused by the auth middleware
            await http.get("/v1/nowhere"),  # the router's 404
            await http.put("/v1/scans"),  # the router's 405
            await http.get("/health", headers={"x-request-id": "till-7-0042"}),
            await http.head("/health"),
        ]
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "punchguard.requests"]
    assert [(line["status"], line["request_id"], line["method"]) for line in lines] == [
        (r.status_code, r.headers["x-request-id"], r.request.method) for r in answers
    ]
    assert [r.status_code for r in answers] == [401, 404, 405, 200, 200]
    assert answers[3].headers["x-request-id"] == "till-7-0042", "the caller's id is kept"


async def test_an_unexpected_error_is_logged_and_answered_without_internal_text(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cards import stores

    async def broken(*_: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(stores, "list_stores", broken)
    cafe = await set_up_cafe(client)
    caplog.set_level(logging.ERROR, logger="punchguard")
    response = await client.get("/v1/stores", headers=cafe.owner)
    assert response.status_code == 500 and response.json()["type"] == "/problems/internal"
    assert "secret" not in response.text
    assert any("secret internal detail" in (r.exc_text or "") or r.exc_info for r in caplog.records)


async def test_a_client_that_leaves_mid_body_is_logged_as_gone_not_as_a_server_error(
    settings: Settings, clock: FakeClock, keyring: Keyring, caplog: pytest.LogCaptureFixture
) -> None:
    """wrk and impatient phones close connections mid-request: a 499, not a traceback."""
    app = create_app(replace(settings, log_requests=True), clock=clock, keyring=keyring)
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"email": "a@b.co", "pass', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/auth/login",
        "raw_path": b"/v1/auth/login",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"host", b"test")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    with caplog.at_level(logging.INFO):
        async with database_pool():
            await app(scope, receive, send)  # type: ignore[arg-type]
    start = next(message for message in sent if message["type"] == "http.response.start")
    assert start["status"] == 499
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR], caplog.text
    assert '"status": 499' in caplog.text or "499" in caplog.text
