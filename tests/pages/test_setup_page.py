"""The first owner sets up the café in the browser with the code `make run` printed: the same
`set_up_first_owner` and "setup" rate limit as `POST /v1/setup`, then signed in to the console."""

from dataclasses import replace

import httpx

from api.app import create_app
from api.settings import Settings
from cards import staff
from cards.tables import Business, Staff
from crypto.keyring import Keyring
from tests.pages.console import csrf_token
from tests.support import FakeClock, app_client

Client = httpx.AsyncClient
PAGE = "/console/setup"
HOSTILE = "<script>alert(1)</script> \u202eCafé"


def _fields(code: str, **more: str) -> dict[str, str]:
    return {
        "setup_code": code,
        "business_name": HOSTILE,
        "name": "Olive",
        "email": "Olive@Cafe.test",
        "password": "a long enough password",
    } | more


async def _post(client: Client, fields: dict[str, str]) -> httpx.Response:
    page = await client.get(PAGE)
    assert page.status_code == 200, page.text
    return await client.post(PAGE, data={"_csrf_token": csrf_token(page.text), **fields})


async def test_the_first_owner_sets_up_the_cafe_and_is_signed_in(client: Client) -> None:
    code = await staff.new_setup_code()
    assert code is not None
    wrong = await _post(client, _fields("AAAAAA-BBBBBB-CCCCCC-DDDDDD"))
    assert wrong.status_code == 403
    assert "That setup code is wrong, used already or more than 24 hours old." in wrong.text
    assert "&lt;script&gt;" in wrong.text and "<script>alert" not in wrong.text, "the typed name comes back escaped"
    assert not await Business.exists()

    done = await _post(client, _fields(code.lower()))  # typed in lower case: still the code
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/console/stores"
    stores = await client.get("/console/stores")
    assert stores.status_code == 200 and "Open a store" in stores.text
    [owner] = await Staff.select(Staff.email, Staff.role)
    assert owner == {"email": "olive@cafe.test", "role": "owner"}

    # Good once: a second café with the same code is refused, and nothing more is made.
    again = await _post(client, _fields(code, business_name="Second"))
    assert again.status_code == 403
    assert await Business.count() == 1


async def test_a_form_filled_in_wrong_is_refused_in_words(client: Client) -> None:
    code = await staff.new_setup_code()
    assert code is not None
    for fields, words in (
        (_fields(code, password="short"), "a password of 12 to 256 characters"),
        (_fields(code, email="not an address"), "your e-mail address"),
        (_fields(code, business_name=""), "your café's name (1 to 120 characters)"),
    ):
        answer = await _post(client, fields)
        assert answer.status_code == 400
        assert f"The form needs {words}." in answer.text.replace("&#39;", "'")
    assert not await Business.exists()


async def test_setting_up_counts_against_the_setup_rate_limit(
    settings: Settings, clock: FakeClock, keyring: Keyring
) -> None:
    limited = create_app(
        replace(settings, rate_limits={**settings.rate_limits, "setup": 2}), clock=clock, keyring=keyring
    )
    async with app_client(limited) as browser:
        for _ in range(2):
            assert (await _post(browser, _fields("AAAAAA-BBBBBB-CCCCCC-DDDDDD"))).status_code == 403
        refused = await _post(browser, _fields("AAAAAA-BBBBBB-CCCCCC-DDDDDD"))
        assert refused.status_code == 429
        assert "Too many requests; try again in" in refused.text
