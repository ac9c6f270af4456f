"""The program's page offers customers the web card: a join link and its QR code, at the address
phones reach (PUNCHGUARD_PUBLIC_URL behind a TLS proxy, else the one the console was opened at)."""

import html
import re
from dataclasses import replace

import httpx
import pytest

from api.settings import Settings
from tests.pages.console import sign_in
from tests.support import OWNER_EMAIL, set_up_cafe


@pytest.fixture(params=[None, "https://cafe.example.com"], ids=["opened-at", "public-url"])
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    return replace(settings, public_url=request.param)


async def test_the_program_page_offers_its_join_link_and_qr_code(client: httpx.AsyncClient, settings: Settings) -> None:
    cafe = await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    page = (await client.get(f"/console/programs/{cafe.program_id}")).text
    path = f"/card?business={cafe.business_id}&program={cafe.program_id}"
    base = settings.public_url or "http://testserver"
    section = re.search(r'<section class="join".*?</section>', page, flags=re.DOTALL)
    assert section, "the join offer is on the page"
    offer = html.unescape(section.group(0))
    assert f'<a href="{path}">{base}{path}</a>' in offer
    assert "<svg" in offer and 'aria-label="QR code joining this program"' in offer
    # The link opens the customer's card, which needs no sign-in.
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as anonymous:
        card = await anonymous.get(path)
    assert card.status_code == 200 and 'id="join-form"' in card.text
