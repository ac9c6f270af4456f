"""Stores and scanners on the console: opening and editing a store with its opening hours,
closing it, and a scanner's secret shown once (text and QR), through `cards/stores.py`."""

import hashlib
from typing import Any

import httpx

from cards.tables import AuditLog, Scanner, Store
from tests.pages.console import form_fields, post_form, sign_in
from tests.support import OWNER_EMAIL, set_up_cafe

Client = httpx.AsyncClient
PAGE = "/console/stores"


def _store_form(**more: str) -> dict[str, str]:
    fields = {"name": "Harbour Rd", "time_zone": "Europe/Paris", "latitude": "48.85", "longitude": "2.35"}
    fields |= {"mon_opens": "07:30", "mon_closes": "18:00", "sat_opens": "09:00", "sat_closes": "14:00"}
    return fields | more


async def _actions() -> list[str]:
    return [a["action"] for a in await AuditLog.select(AuditLog.action).order_by(AuditLog.at)]


async def test_opening_editing_and_closing_a_store(client: Client) -> None:
    await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    page = await client.get(PAGE)
    assert page.status_code == 200 and '<option value="Europe/Paris">' in page.text
    opened = await post_form(client, PAGE, PAGE, **_store_form())
    assert opened.status_code == 303, opened.text
    row: Any = (
        await Store.select(Store.id, Store.time_zone, Store.opening_hours).where(Store.name == "Harbour Rd").first()
    )
    assert row["time_zone"] == "Europe/Paris"
    assert '"day":"mon","opens":"07:30","closes":"18:00"' in row["opening_hours"].replace(" ", "")
    url = f"{PAGE}/{row['id']}"
    assert opened.headers["location"] == url
    shown = await client.get(url)
    assert 'value="07:30"' in shown.text and "Europe/Paris" in shown.text
    edited = await post_form(client, url, url, **_store_form(name="Harbour Road", sat_opens="", sat_closes=""))
    assert edited.status_code == 303, edited.text
    after: Any = await Store.select(Store.name, Store.opening_hours).where(Store.id == row["id"]).first()
    assert after["name"] == "Harbour Road" and "sat" not in after["opening_hours"]
    assert (await post_form(client, url, f"{url}/close")).status_code == 303
    assert (await Store.select(Store.active).where(Store.id == row["id"]).first()) == {"active": False}
    assert (await _actions())[-3:] == ["store.create", "store.update", "store.update"]


async def test_a_bad_time_zone_or_time_is_refused_in_words(client: Client) -> None:
    await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    zone = await post_form(client, PAGE, PAGE, **_store_form(time_zone="Mars/Olympus"))
    assert zone.status_code == 422 or zone.status_code == 400
    assert "Mars/Olympus" in zone.text and "time zone" in zone.text.lower()
    hour = await post_form(client, PAGE, PAGE, **_store_form(mon_opens="25:00"))
    assert hour.status_code == 400 and "HH:MM" in hour.text
    assert not await Store.exists().where(Store.name == "Harbour Rd")


async def test_a_scanners_secret_is_shown_once_as_text_and_qr(client: Client) -> None:
    cafe = await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    url = f"{PAGE}/{cafe.store_id}"
    answer = await post_form(client, url, f"{url}/scanners", name="Till 2")
    assert answer.status_code == 200, answer.text
    assert "shown once" in answer.text and "<svg" in answer.text
    row: Any = await Scanner.select(Scanner.id, Scanner.secret_hash).where(Scanner.name == "Till 2").first()
    secret = answer.text.split('<code class="secret">')[1].split("</code>")[0]
    assert hashlib.sha256(secret.encode()).hexdigest() == row["secret_hash"]
    assert answer.headers["cache-control"] == "no-store"
    assert secret not in (await client.get(url)).text, "the store's page never shows it again"
    revoked = await post_form(client, url, f"{url}/scanners/{row['id']}/revoke", reason="Lost")
    assert revoked.status_code == 303
    assert (await Scanner.select(Scanner.active).where(Scanner.id == row["id"]).first()) == {"active": False}
    assert (await _actions())[-2:] == ["scanner.register", "scanner.revoke"]


async def test_a_manager_runs_stores_as_the_api_lets_them(client: Client) -> None:
    cafe = await set_up_cafe(client)
    await cafe.add_staff("manager", "manager@cafe.test")
    await cafe.add_staff("cashier", "cashier@cafe.test")
    await sign_in(client, "manager@cafe.test")
    url = f"{PAGE}/{cafe.store_id}"
    assert (await client.get(url)).status_code == 200, "the API lets managers manage stores"
    other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with other:
        await sign_in(other, "cashier@cafe.test")
        assert (await other.get(url)).status_code in (303, 403), "cashiers never reach the console"


async def test_saving_a_store_as_shown_keeps_every_opening_period(client: Client) -> None:
    """A day the API gave several periods (a lunch break, a late opening) comes back from the
    console's editor whole: saving the form untouched changes nothing."""
    cafe = await set_up_cafe(client)
    hours = [
        {"day": "mon", "opens": "07:00", "closes": "11:30"},
        {"day": "mon", "opens": "13:00", "closes": "17:00"},
        {"day": "mon", "opens": "19:00", "closes": "23:00"},
        {"day": "fri", "opens": "22:00", "closes": "02:00"},
    ]
    set_hours = await client.patch(f"/v1/stores/{cafe.store_id}", headers=cafe.owner, json={"opening_hours": hours})
    assert set_hours.status_code == 200, set_hours.text
    before = set_hours.json()
    await sign_in(client, OWNER_EMAIL)
    url = f"{PAGE}/{cafe.store_id}"
    fields = form_fields((await client.get(url)).text, url)
    assert {"mon_opens", "mon_opens_2", "mon_opens_3", "tue_opens_2"} <= set(fields), "a row per period, and a spare"
    saved = await client.post(url, data=fields)
    assert saved.status_code == 303, saved.text
    after = (await client.get(f"/v1/stores/{cafe.store_id}", headers=cafe.owner)).json()
    assert after["opening_hours"] == before["opening_hours"]
    assert after == before

    # A second period added in the spare row is kept.
    added = await client.post(
        url,
        data=fields | {"tue_opens": "08:00", "tue_closes": "12:00", "tue_opens_2": "14:00", "tue_closes_2": "18:00"},
    )
    assert added.status_code == 303, added.text
    tuesday = [
        p
        for p in (await client.get(f"/v1/stores/{cafe.store_id}", headers=cafe.owner)).json()["opening_hours"]
        if p["day"] == "tue"
    ]
    assert [(p["opens"], p["closes"]) for p in tuesday] == [("08:00", "12:00"), ("14:00", "18:00")]


async def test_sending_the_scanner_form_again_registers_nothing_more(client: Client) -> None:
    """A reload of the page that shows a new scanner's secret sends its form again: the form names
    the scanner it registers, so the second sending is refused in words and no second till appears."""
    cafe = await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    url = f"{PAGE}/{cafe.store_id}"
    fields = form_fields((await client.get(url)).text, f"{url}/scanners") | {"name": "Till 2"}
    assert fields["scanner_id"], "the form names the scanner it registers"
    registered_before = (await _actions()).count("scanner.register")
    first = await client.post(f"{url}/scanners", data=fields)
    assert first.status_code == 200, first.text
    again = await client.post(f"{url}/scanners", data=fields)
    assert again.status_code == 409
    assert "This scanner is registered already: its secret was shown once" in again.text
    assert await Scanner.count().where(Scanner.name == "Till 2") == 1
    assert (await _actions()).count("scanner.register") == registered_before + 1
    # A fresh page offers a fresh id; an id some other scanner has is not taken over.
    fresh = form_fields((await client.get(url)).text, f"{url}/scanners")
    assert fresh["scanner_id"] != fields["scanner_id"]
    other_store = await client.post(
        "/v1/stores",
        headers=cafe.owner,
        json={"name": "Annex", "time_zone": "Europe/Paris", "latitude": 48.8, "longitude": 2.3},
    )
    assert other_store.status_code == 201, other_store.text
    elsewhere = await client.post(
        f"/v1/stores/{other_store.json()['id']}/scanners", headers=cafe.owner, json={"name": "Annex till"}
    )
    taken = await client.post(
        f"{url}/scanners", data=fresh | {"name": "Till 3", "scanner_id": elsewhere.json()["scanner"]["id"]}
    )
    assert taken.status_code == 200, taken.text
    [till_3] = await Scanner.select(Scanner.id, Scanner.store).where(Scanner.name == "Till 3")
    assert str(till_3["id"]) != elsewhere.json()["scanner"]["id"] and str(till_3["store"]) == cafe.store_id
