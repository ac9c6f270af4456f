"""The audit log with the API's filters, and the CSV exports behind the console's cookie, read
through the same `cards/audit_log.py` and `cards/exports.py` functions as the API."""

from uuid import UUID, uuid4

import httpx

from cards.audit_log import record_action
from cards.identity import StaffIdentity
from cards.tables import Staff
from tests.pages.console import post_form, sign_in
from tests.pages.test_queue import flagged_cafe
from tests.support import OWNER_EMAIL, PASSWORD, FakeClock, set_up_cafe

Client = httpx.AsyncClient
PAGE = "/console/audit-log"


async def test_the_audit_log_lists_and_filters_what_was_done(client: Client) -> None:
    cafe = await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    hired = await post_form(
        client,
        "/console/staff",
        "/console/staff/hire",
        name="Cass",
        email="cass@cafe.test",
        password=PASSWORD,
        role="cashier",
        store_id=cafe.store_id,
    )
    assert hired.status_code == 303
    page = await client.get(PAGE)
    assert page.status_code == 200 and '<body class="page-audit-log"' in page.text
    assert "<code>staff.hire</code>" in page.text and "<code>store.create</code>" in page.text
    # Subjects by name, with a link to their page where they have one.
    assert "<td>staff <bdi>Cass</bdi></td>" in page.text
    assert f'<td>store <a href="/console/stores/{cafe.store_id}"><bdi>Market St</bdi></a></td>' in page.text
    only = await client.get(PAGE, params={"action": "staff.hire"})
    assert "<code>staff.hire</code>" in only.text and "<code>store.create</code>" not in only.text
    odd = await client.get(PAGE, params={"action": "DROP TABLE", "since": "yesterday"})
    assert odd.status_code == 200
    assert "is not an action" in odd.text and "is not a date" in odd.text


async def test_csv_downloads_need_the_console_cookie_and_match_the_api(client: Client, clock: FakeClock) -> None:
    cafe, _, _, _ = await flagged_cafe(client, clock)
    api_punches = await client.get("/v1/exports/punches.csv", headers=cafe.owner)
    api_flags = await client.get("/v1/exports/flags.csv", headers=cafe.owner)
    anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with anonymous:
        refused = await anonymous.get("/console/exports/punches.csv")
        assert refused.status_code == 303 and refused.headers["location"] == "/console/sign-in"
    await sign_in(client, OWNER_EMAIL)
    punches = await client.get("/console/exports/punches.csv")
    assert punches.status_code == 200
    assert punches.headers["content-type"].startswith("text/csv")
    assert "attachment" in punches.headers["content-disposition"]
    assert punches.text == api_punches.text and punches.text.count("\n") > 1
    flags = await client.get("/console/exports/flags.csv")
    assert flags.text == api_flags.text and "daily_cap" in flags.text
    filtered = await client.get(
        "/console/exports/punches.csv", params={"store": "00000000-0000-4000-8000-000000000000"}
    )
    assert filtered.text.count("\n") == 1, "only the header: no punches at that store"


async def test_a_manager_reads_the_audit_log_as_the_api_lets_them(client: Client) -> None:
    cafe = await set_up_cafe(client)
    await cafe.add_staff("manager", "manager@cafe.test")
    await sign_in(client, "manager@cafe.test")
    assert (await client.get(PAGE)).status_code == 200
    assert (await client.get("/console/exports/punches.csv")).status_code == 200


async def test_a_long_log_is_read_a_hundred_at_a_time_both_ways(client: Client, clock: FakeClock) -> None:
    cafe = await set_up_cafe(client)
    owner = await Staff.select(Staff.id).where(Staff.email == OWNER_EMAIL).first()
    assert owner is not None
    actor = StaffIdentity(staff_id=owner["id"], business_id=UUID(cafe.business_id), role="owner", store_id=None)
    for n in range(150):
        clock.advance(seconds=1)
        await record_action(
            actor=actor, action="card.freeze", subject_kind="card", subject_id=uuid4(), reason=f"R{n}", now=clock.now
        )
    await sign_in(client, OWNER_EMAIL)
    first = (await client.get(PAGE, params={"action": "card.freeze"})).text
    assert (
        "Newer entries" not in first
        and '<a href="/console/audit-log?action=card.freeze&amp;offset=100">Older entries</a>' in first
    )
    older = (await client.get(PAGE, params={"action": "card.freeze", "offset": "100"})).text
    assert '<a href="/console/audit-log?action=card.freeze&amp;offset=0">Newer entries</a>' in older
    assert "Older entries" not in older and older.count("<code>card.freeze</code>") == 50
