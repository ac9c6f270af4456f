"""The console's "Move to a new phone" on a card's page, and the Cards page that finds a card by its
code or its holder's e-mail or phone number: the same `cards/phone_moves.py` as the domain tests."""

from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import httpx
import pytest

from api.settings import Settings
from cards.flags import card_code
from cards.tables import AuditLog, Card, Device
from mobile_contract.problems import Problem
from mobile_contract.redemptions import redemption_request_message
from tests.cards.test_phone_moves import REASON, elsewhere, lost_and_new, other_cafe, punch, resume
from tests.pages.console import csrf_token, post_form, sign_in, sign_in_page
from tests.support import OWNER_EMAIL, Customer, FakeClock, Phone, bearer, cashier_at_till, enroll, new_customer

Client = httpx.AsyncClient


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Sign-ins that last the days a full card takes (one punch a day)."""
    month = timedelta(days=30)
    return replace(settings, access_ttl=month, refresh_ttl=month, session_ttl=month)


async def _customer_of(device_id: str) -> UUID:
    row = await Device.select(Device.customer).where(Device.id == device_id).first()
    assert row is not None
    return UUID(str(row["customer"]))


async def test_a_lost_card_moves_to_the_new_phone_and_its_punches_earn_the_free_item(
    client: Client, clock: FakeClock
) -> None:
    cafe, old, new = await lost_and_new(client, clock, punches=10)
    cashier = await cashier_at_till(cafe, "till@cafe.test")
    await sign_in(client, OWNER_EMAIL)
    url = f"/console/cards/{old.card_id}"
    page = await client.get(url)
    assert "<h2>Move to a new phone</h2>" in page.text
    assert f'<option value="{new.card_id}">{card_code(UUID(new.card_id))}' in page.text, "offered as fresh"

    moved = await post_form(client, url, f"{url}/move-to", new_card=card_code(UUID(new.card_id)).lower(), reason=REASON)
    assert moved.status_code == 303, moved.text
    assert moved.headers["location"] == f"{url}?moved=1"
    shown = await client.get(moved.headers["location"])
    assert "The customer's new phone now holds this card" in shown.text
    assert (
        f"card.move_to_new_phone by <bdi>Olive Owner</bdi>: “<bdi>{REASON}</bdi>”".replace("'", "&#39;") in shown.text
    )
    assert await Card.select(Card.status).where(Card.id == new.card_id).first() == {"status": "closed"}

    # The new phone opens the app: its session is the old card's holder's, with the old card's balance.
    session = await resume(client, new)
    phone = Customer(client, new.phone, session, old.card_id)
    assert [c["id"] for c in (await client.get("/v1/me/cards", headers=phone.headers)).json()] == [old.card_id]
    assert (await phone.card())["balance"] == 10

    # The lost phone gets no stamp for the card at this business any more.
    lost = await client.post(
        f"/v1/me/cards/{old.card_id}/stamps", headers=old.headers, json=old.phone.stamp_request(old.card_id)
    )
    assert (lost.status_code, lost.json()["type"]) == (401, Problem.INVALID_PROOF.type), lost.text

    # The new phone asks for the free item; the audit accepts the punches the lost phone earned.
    phone.phone.counter += 1
    signature = phone.phone.sign(redemption_request_message(UUID(old.card_id), phone.phone.counter))
    asked = await client.post(
        f"/v1/me/cards/{old.card_id}/redemptions",
        headers=phone.headers,
        json={"counter": phone.phone.counter, "signature": signature},
    )
    assert asked.status_code == 201, asked.text
    granted = await client.post("/v1/redemptions", headers=cashier, json={"code": asked.json()["code"]})
    assert granted.status_code == 201, granted.text
    assert granted.json()["granted"] is True, granted.json()

    # And it goes on collecting punches on the card.
    await punch(client, cashier, phone, clock, 1)
    assert (await phone.card())["balance"] == 1


async def test_a_manager_may_move_a_card_picked_from_the_list(client: Client, clock: FakeClock) -> None:
    cafe, old, new = await lost_and_new(client, clock, punches=1)
    await cafe.add_staff("manager", "manager@cafe.test")
    await sign_in(client, "manager@cafe.test")
    url = f"/console/cards/{old.card_id}"
    moved = await post_form(client, url, f"{url}/move-to", new_card="", new_card_id=new.card_id, reason=REASON)
    assert moved.status_code == 303, moved.text
    assert await _customer_of(new.session["device_id"]) == UUID(old.session["customer_id"])
    entry = await AuditLog.select(AuditLog.reason).where(AuditLog.action == "card.move_to_new_phone").first()
    assert entry == {"reason": REASON}


async def test_a_cashier_cannot_move_a_card(client: Client, clock: FakeClock) -> None:
    cafe, old, new = await lost_and_new(client, clock, punches=1)
    await cafe.add_staff("cashier", "cashier2@cafe.test")
    refused = await sign_in(client, "cashier2@cafe.test")
    assert refused.status_code == 401, "a cashier is refused the console"
    token = csrf_token(await sign_in_page(client))
    attempt = await client.post(
        f"/console/cards/{old.card_id}/move-to",
        data={"_csrf_token": token, "new_card_id": new.card_id, "reason": REASON},
    )
    assert (attempt.status_code, attempt.headers["location"]) == (303, "/console/sign-in")
    assert await _customer_of(new.session["device_id"]) != UUID(old.session["customer_id"])
    assert await AuditLog.count().where(AuditLog.action == "card.move_to_new_phone") == 0


async def test_a_move_without_a_reason_or_a_card_is_refused_in_words(client: Client, clock: FakeClock) -> None:
    _, old, new = await lost_and_new(client, clock, punches=1)
    await sign_in(client, OWNER_EMAIL)
    url = f"/console/cards/{old.card_id}"
    no_reason = await post_form(client, url, f"{url}/move-to", new_card_id=new.card_id, reason=" ")
    assert no_reason.status_code == 400 and "Give a reason" in no_reason.text
    no_card = await post_form(client, url, f"{url}/move-to", new_card="", reason=REASON)
    assert no_card.status_code == 400 and "Give the code of the new phone" in no_card.text
    not_a_code = await post_form(client, url, f"{url}/move-to", new_card="<b>1!", reason=REASON)
    assert not_a_code.status_code == 400 and "&lt;b&gt;1! is not" not in not_a_code.text
    assert "is not a card code" in not_a_code.text and "<b>1!" not in not_a_code.text
    assert await _customer_of(new.session["device_id"]) != UUID(old.session["customer_id"])


async def test_a_refused_move_shows_why(client: Client, clock: FakeClock) -> None:
    cafe, old, new = await lost_and_new(client, clock, punches=1)
    cashier = await cashier_at_till(cafe, "till@cafe.test")
    await punch(client, cashier, new, clock, 1)
    await sign_in(client, OWNER_EMAIL)
    url = f"/console/cards/{old.card_id}"
    page = await client.get(url)
    assert f'<option value="{new.card_id}"' not in page.text, "a punched card is not offered"
    refused = await post_form(client, url, f"{url}/move-to", new_card_id=new.card_id, reason=REASON)
    assert refused.status_code == Problem.PHONE_MOVE_REFUSED.status
    assert "is not a fresh card" in refused.text
    assert await _customer_of(new.session["device_id"]) != UUID(old.session["customer_id"])


async def test_another_business_cannot_move_or_find_a_card(client: Client, clock: FakeClock) -> None:
    _, old, _ = await lost_and_new(client, clock, punches=1)
    other = await elsewhere(client)
    stranger = await new_customer(client, other_cafe(client, other))
    await sign_in(client, OWNER_EMAIL)
    url = f"/console/cards/{old.card_id}"
    refused = await post_form(client, url, f"{url}/move-to", new_card_id=stranger.card_id, reason=REASON)
    assert refused.status_code == 404
    typed = await post_form(client, url, f"{url}/move-to", new_card=card_code(UUID(stranger.card_id)), reason=REASON)
    assert typed.status_code == 400 and "No other card of this business" in typed.text
    found = await client.get("/console/cards", params={"q": card_code(UUID(stranger.card_id))})
    assert f"/console/cards/{stranger.card_id}" not in found.text


async def test_the_cards_page_finds_by_code_email_and_phone(client: Client, clock: FakeClock) -> None:
    _, old, _ = await lost_and_new(client, clock, punches=1)
    await sign_in(client, OWNER_EMAIL)
    home = await client.get("/console/flags")
    assert '<a href="/console/cards">Cards</a>' in home.text
    code = card_code(UUID(old.card_id))
    for query in (code, f"{code[:2]} {code[2:].lower()}", "Ada@Example.test", "+1 (555) 123-4567"):
        page = await client.get("/console/cards", params={"q": query})
        assert page.status_code == 200
        assert f'<a href="/console/cards/{old.card_id}">' in page.text, query
        assert "<bdi>Ada</bdi>" in page.text and "<bdi>Coffee card</bdi>" in page.text
    none = await client.get("/console/cards", params={"q": "nobody@example.test"})
    assert "No card of this business has" in none.text
    empty = await client.get("/console/cards")
    assert empty.status_code == 200 and "<table>" not in empty.text


async def test_the_cards_page_escapes_names(client: Client, clock: FakeClock) -> None:
    cafe, _, _ = await lost_and_new(client, clock, punches=1)
    hostile = "<script>alert(1)</script>\u202eevil"
    session = await enroll(client, Phone(), display_name=hostile, email="mallory@example.test")
    card = await client.post(
        "/v1/me/cards", headers=bearer(session["session_token"]), json={"program_id": cafe.program_id}
    )
    assert card.status_code == 201, card.text
    await sign_in(client, OWNER_EMAIL)
    page = await client.get("/console/cards", params={"q": "mallory@example.test"})
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;[U+202E]evil" in page.text
    query = await client.get("/console/cards", params={"q": "<img src=x>"})
    assert "<img src=x>" not in query.text
