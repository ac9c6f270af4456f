"""Checkpoints on the console: downloading a store's signed day and checking a saved one against
the ledger, through the same `cards/checkpoints.py` functions as the API, the result in words."""

import json
from datetime import timedelta

import httpx

from cards.tables import AuditLog
from tests.pages.console import csrf_token, sign_in
from tests.pages.test_queue import flagged_cafe
from tests.support import OWNER_EMAIL, FakeClock, bearer

Client = httpx.AsyncClient
PAGE = "/console/checkpoints"


async def _upload(client: Client, body: bytes) -> httpx.Response:
    token = csrf_token((await client.get(PAGE)).text)
    return await client.post(
        f"{PAGE}/verify",
        data={"_csrf_token": token},
        files={"checkpoint": ("checkpoint.json", body, "application/json")},
    )


async def test_downloading_and_checking_a_checkpoint(client: Client, clock: FakeClock) -> None:
    cafe, _, _, _ = await flagged_cafe(client, clock)
    day = clock.now.date().isoformat()
    await sign_in(client, OWNER_EMAIL)
    early = await client.get(f"{PAGE}/download", params={"store": cafe.store_id, "day": day})
    assert early.status_code == 422 or early.status_code == 400
    assert "has not ended yet" in early.text
    clock.now += timedelta(days=1)
    await sign_in(client, OWNER_EMAIL)
    download = await client.get(f"{PAGE}/download", params={"store": cafe.store_id, "day": day})
    assert download.status_code == 200, download.text
    assert "attachment" in download.headers["content-disposition"]
    owner = bearer((await cafe.log_in(OWNER_EMAIL))["access_token"])
    api = (await client.get(f"/v1/stores/{cafe.store_id}/checkpoints/{day}", headers=owner)).json()
    assert {k: download.json()[k] for k in ("entries", "root_hash")} == {k: api[k] for k in ("entries", "root_hash")}
    assert len(download.json()["entries"]) >= 4
    logged = await AuditLog.select(AuditLog.action).where(AuditLog.subject_id == cafe.store_id)
    assert any("checkpoint" in row["action"] for row in logged)
    checked = await _upload(client, download.content)
    assert checked.status_code == 200, checked.text
    assert "The ledger matches the checkpoint" in checked.text
    tampered = download.json()
    tampered["entries"] = tampered["entries"][1:]
    bad = await _upload(client, json.dumps(tampered).encode())
    assert bad.status_code in (200, 400, 422), bad.text
    assert "The ledger matches the checkpoint" not in bad.text
    junk = await _upload(client, b"not json")
    assert junk.status_code == 400 and "not a PunchGuard checkpoint" in junk.text


async def test_a_manager_checks_checkpoints_as_the_api_lets_them(client: Client, clock: FakeClock) -> None:
    cafe, _, _, _ = await flagged_cafe(client, clock)
    await cafe.add_staff("manager", "boss@cafe.test")
    await sign_in(client, "boss@cafe.test")
    assert (await client.get(PAGE)).status_code == 200
    missing = await client.get(
        f"{PAGE}/download", params={"store": "00000000-0000-4000-8000-000000000000", "day": "2026-11-01"}
    )
    assert missing.status_code == 404


async def test_the_forms_default_day_is_over_at_every_store(client: Client, clock: FakeClock) -> None:
    """At 05:30 UTC it is still the evening before in Los Angeles: the form offers the day before
    that, the last one finished there, and downloading it works."""
    cafe, _, _, _ = await flagged_cafe(client, clock)  # the store is in America/Los_Angeles
    clock.now = clock.now.replace(hour=5, minute=30) + timedelta(days=2)  # 21:30 in LA, a day later
    await sign_in(client, OWNER_EMAIL)
    page = (await client.get(PAGE)).text
    local_yesterday = (clock.now - timedelta(days=2)).date().isoformat()
    assert f'name="day" required value="{local_yesterday}"' in page
    download = await client.get(f"{PAGE}/download", params={"store": cafe.store_id, "day": local_yesterday})
    assert download.status_code == 200, download.text
