"""A card's page: its standing, timeline, phones and flags; freezing it and revoking a phone
through the same `cards/` functions as the API."""

import httpx

from cards import staff
from cards.tables import AuditLog, Card
from tests.pages.console import post_form, sign_in
from tests.pages.test_queue import flagged_cafe, over_the_daily_cap
from tests.support import OWNER_EMAIL, FakeClock, bearer, new_customer, set_up_cafe

Client = httpx.AsyncClient


async def test_a_cards_page_shows_its_standing_timeline_phones_and_flags(client: Client, clock: FakeClock) -> None:
    _, customer, _, cap = await flagged_cafe(client, clock)
    await sign_in(client, OWNER_EMAIL)
    page = await client.get(f"/console/cards/{customer.card_id}")
    assert page.status_code == 200
    assert '<body class="page-card"' in page.text
    assert "3 of 10 punches count toward <bdi>Free coffee</bdi>;\n    1 under review. Collecting punches." in page.text
    assert f'id="flag-{cap["id"]}"' in page.text
    assert page.text.count("<td>punch</td>") == 4
    assert customer.session["device_id"] in page.text
    # Times where they happened: the store is in Los Angeles (10:00 there is 18:00 UTC).
    assert "<td>punch</td><td>2026-11-23 10:00 PST</td>" in page.text.replace("\n", "")
    assert "raised 2026-11-23 10:03 PST" in page.text


async def test_freezing_and_unfreezing_a_card_from_its_page(client: Client, clock: FakeClock) -> None:
    _, customer, _, _ = await flagged_cafe(client, clock)
    await sign_in(client, OWNER_EMAIL)
    url = f"/console/cards/{customer.card_id}"
    response = await post_form(client, url, f"{url}/freeze", reason="Reported stolen")
    assert response.status_code == 303
    assert response.headers["location"] == url
    assert (await Card.select(Card.status).where(Card.id == customer.card_id).first()) == {"status": "frozen"}
    assert "Unfreeze the card" in (await client.get(url)).text
    assert (await post_form(client, url, f"{url}/unfreeze", reason="Found again")).status_code == 303
    assert (await Card.select(Card.status).where(Card.id == customer.card_id).first()) == {"status": "active"}
    actions = [a["action"] for a in await AuditLog.select(AuditLog.action).order_by(AuditLog.at)]
    assert actions[-2:] == ["card.freeze", "card.unfreeze"]


async def test_revoking_a_phone_from_the_cards_page(client: Client, clock: FakeClock) -> None:
    cafe, customer, _, _ = await flagged_cafe(client, clock)
    await sign_in(client, OWNER_EMAIL)
    url = f"/console/cards/{customer.card_id}"
    device = customer.session["device_id"]
    response = await post_form(client, url, f"{url}/phones/{device}/revoke", reason="Lost phone")
    assert response.status_code == 303
    timeline = (await client.get(f"/v1/cards/{customer.card_id}/timeline", headers=cafe.owner)).json()
    assert [d["active"] for d in timeline["devices"]] == [False]
    assert await AuditLog.count().where(AuditLog.action == "device.revoke") == 1


async def test_another_business_card_reads_as_missing_in_words(client: Client, clock: FakeClock) -> None:
    _, customer, _, _ = await flagged_cafe(client, clock)
    other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with other:
        code = await staff.new_business_code()
        setup = await other.post(
            "/v1/setup",
            json={
                "setup_code": code,
                "business_name": "Elsewhere",
                "name": "Eve",
                "email": "eve@else.test",
                "password": "correct horse battery",
            },
        )
        assert setup.status_code == 201, setup.text
        await sign_in(other, "eve@else.test")
        page = await other.get(f"/console/cards/{customer.card_id}")
        assert page.status_code == 404
        assert "No such card" in page.text
        refused = await post_form(
            other, "/console/flags", f"/console/cards/{customer.card_id}/freeze", reason="Not mine to freeze"
        )
        assert refused.status_code == 404
    assert (await Card.select(Card.status).where(Card.id == customer.card_id).first()) == {"status": "active"}


async def test_a_manager_may_not_unfreeze_a_card_they_punched(client: Client, clock: FakeClock) -> None:
    cafe = await set_up_cafe(client)
    await cafe.add_staff("manager", "manager@cafe.test")
    at_till = await cafe.log_in("manager@cafe.test", at_scanner=True)
    customer = await new_customer(client, cafe)
    await over_the_daily_cap(client, cafe, bearer(at_till["access_token"]), customer, clock)
    frozen = await client.post(f"/v1/cards/{customer.card_id}/freeze", headers=cafe.owner, json={"reason": "Check"})
    assert frozen.status_code == 200, frozen.text
    await sign_in(client, "manager@cafe.test")
    url = f"/console/cards/{customer.card_id}"
    response = await post_form(client, url, f"{url}/unfreeze", reason="Looks fine to me")
    assert response.status_code == 403
    assert "Someone else must unfreeze a card you punched or hold" in response.text
    assert (await Card.select(Card.status).where(Card.id == customer.card_id).first()) == {"status": "frozen"}
