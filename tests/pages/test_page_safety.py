"""What every console page must be, whoever typed the names it shows: escaped, isolated from
bidi tricks, under a strict CSP, and loading nothing from anywhere but this server."""

from urllib.parse import urlsplit
from uuid import UUID

import httpx
import pytest

from api.pages import CONTENT_SECURITY_POLICY
from cards.flags import raise_flag
from tests.pages.console import links, sign_in
from tests.pages.test_queue import over_the_daily_cap
from tests.support import OWNER_EMAIL, FakeClock, bearer, new_customer, set_up_cafe

Client = httpx.AsyncClient
SCRIPT = "<script>alert(1)</script>"
BIDI = "Olive \u202egnp.exe"


@pytest.fixture
async def hostile(client: Client, clock: FakeClock) -> list[str]:
    """A café whose store, cashier, scanner and customer have hostile names, a flag on each kind
    of page, and the owner signed in; the console's pages that show them."""
    cafe = await set_up_cafe(client)
    renamed = await client.patch(f"/v1/stores/{cafe.store_id}", headers=cafe.owner, json={"name": f"{SCRIPT} {BIDI}"})
    assert renamed.status_code == 200, renamed.text
    program = await client.patch(
        f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json={"name": f"{SCRIPT} {BIDI}"}
    )
    assert program.status_code == 200, program.text
    scanner = await client.post(
        f"/v1/stores/{cafe.store_id}/scanners", headers=cafe.owner, json={"name": f"Till {SCRIPT}"}
    )
    assert scanner.status_code == 201, scanner.text
    cafe.scanner_id, cafe.scanner_secret = scanner.json()["scanner"]["id"], scanner.json()["scanner_secret"]
    hired = await client.post(
        "/v1/staff",
        headers=cafe.owner,
        json={
            "name": f"{SCRIPT}{BIDI}",
            "email": "cashier@cafe.test",
            "password": "correct horse battery",
            "role": "cashier",
            "store_id": cafe.store_id,
        },
    )
    assert hired.status_code == 201, hired.text
    cashier = bearer((await cafe.log_in("cashier@cafe.test", at_scanner=True))["access_token"])
    customer = await new_customer(client, cafe, display_name=f"{SCRIPT} {BIDI}")
    await over_the_daily_cap(client, cafe, cashier, customer, clock)
    await raise_flag(
        business_id=UUID(cafe.business_id),
        rule="reward_held",
        severity="medium",
        explanation="Held.",
        evidence={},
        now=clock.now,
        card_id=UUID(customer.card_id),
        staff_id=UUID(hired.json()["id"]),
    )
    await sign_in(client, OWNER_EMAIL)
    return [
        "/console/flags",
        f"/console/flags?card={customer.card_id}",
        f"/console/cards/{customer.card_id}",
        "/console/staff",
        "/console/stores",
        f"/console/stores/{cafe.store_id}",
        "/console/programs",
        f"/console/programs/{cafe.program_id}",
        "/console/audit-log",
        "/console/checkpoints",
        "/console/worth",
        "/console/metrics",
    ]


async def test_hostile_names_are_escaped_and_isolated_on_every_page(client: Client, hostile: list[str]) -> None:
    for url in hostile:
        page = await client.get(url)
        assert page.status_code == 200, url
        assert SCRIPT not in page.text, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, url
        assert "\u202e" not in page.text, f"{url}: a bidi override would reorder the text after it"
        assert "[U+202E]" in page.text, url


async def test_every_console_answer_carries_the_strict_headers(client: Client, hostile: list[str]) -> None:
    answers = [await client.get(url) for url in hostile]
    answers.append(await client.get("/console/cards/00000000-0000-4000-8000-000000000000"))  # an error page
    answers.append(await client.get("/console"))  # a redirect
    answers.append(await client.get("/console/static/console.js"))
    anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with anonymous:
        answers.append(await anonymous.get("/console/sign-in"))
        answers.append(await anonymous.get("/console/setup"))
        answers.append(await anonymous.get("/console/flags"))
    for answer in answers:
        url = str(answer.request.url)
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, url
        assert answer.headers["x-content-type-options"] == "nosniff", url
        assert answer.headers["referrer-policy"] == "same-origin", url
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "script-src 'self';" in CONTENT_SECURITY_POLICY


async def test_every_page_loads_only_this_servers_files_and_no_inline_code(client: Client, hostile: list[str]) -> None:
    anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with anonymous:
        pages = [(await anonymous.get(url)).text for url in ("/console/sign-in", "/console/setup", "/till", "/card")]
    pages += [(await client.get(url)).text for url in hostile]
    assets = set()
    for page in pages:
        found = links(page)
        assert found.inline_scripts == 0 and found.inline_styles == 0
        assert found.urls
        for url in found.urls:
            parts = urlsplit(url)
            assert not parts.scheme and not parts.netloc, f"{url}: another origin"
            assert url.startswith(("/", "#")), url  # this server's paths, or a place on the same page
        assets |= {u for u in found.urls if u.startswith(("/static/", "/console/static/", "/till/", "/card/"))}
    # pico, htmx, and the console's own CSS, JS and icon; the till's and the card's CSS, JS and web
    # manifest, with jsQR and qrcode-generator. Their modules import the contract's reference client.
    assert len(assets) == 13, sorted(assets)
    for url in sorted(assets | {"/contract/punchguard.js"}):
        answer = await client.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["x-content-type-options"] == "nosniff", url
        kinds = {"css": "text/css", "svg": "image/svg+xml", "webmanifest": "application/manifest+json"}
        kind = kinds.get(url.rsplit(".", 1)[-1], "text/javascript")
        assert answer.headers["content-type"].startswith(kind), url


async def test_the_server_root_leads_to_the_console(client: Client) -> None:
    response = await client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/console"
    console = await client.get("/console")
    assert console.status_code == 303
    assert console.headers["location"] == "/console/sign-in", "not signed in yet"


async def test_htmx_is_configured_to_need_no_inline_style_or_eval(client: Client) -> None:
    page = (await client.get("/console/sign-in")).text
    assert '"includeIndicatorStyles": false' in page
    assert '"allowEval": false' in page


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/console/nosuchpage"),
        ("GET", "/console/cards/notauuid"),
        ("GET", "/console/stores/12345"),
        ("GET", "/console/programs/%00"),
        ("POST", "/console/worth"),
        ("DELETE", "/console/flags"),
    ],
)
async def test_a_console_address_no_page_answers_is_a_page_in_words(client: Client, method: str, path: str) -> None:
    await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    answer = await client.request(method, path)
    assert answer.status_code in (403, 404, 405), answer.text
    assert answer.headers["content-type"].startswith("text/html"), answer.text
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "There is no such page." in answer.text or "This page cannot be used that way." in answer.text


async def test_the_apis_unknown_addresses_stay_problem_json(client: Client) -> None:
    for method, path in (("GET", "/v1/nosuchthing"), ("GET", "/v1/cards/notauuid/timeline"), ("DELETE", "/v1/setup")):
        answer = await client.request(method, path)
        assert answer.status_code in (404, 405)
        assert answer.headers["content-type"].startswith("application/problem+json"), (path, answer.text)


async def test_an_error_page_leads_back_to_the_console_page_it_came_from_only(client: Client) -> None:
    cafe = await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    store = f"/console/stores/{cafe.store_id}"
    from_store = await client.get("/console/cards/notauuid", headers={"referer": f"http://testserver{store}?x=1"})
    assert f'<a href="{store}?x=1">Back to the page you came from</a>' in from_store.text
    for referer in (
        "https://evil.test/console/flags",
        "http://testserver//evil.test/x",
        "http://testserver/v1/stores",
        "",
    ):
        answer = await client.get("/console/cards/notauuid", headers={"referer": referer})
        assert "Back to the page you came from" not in answer.text, referer
        assert '<a href="/console/flags">The review queue</a>' in answer.text
