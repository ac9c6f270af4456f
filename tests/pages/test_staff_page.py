"""The staff page: hiring, changing a role and disabling through `cards/staff.py`, with the API's
rules (managers manage cashiers only) and each action in the audit log."""

import httpx

from cards.tables import AuditLog, Staff
from tests.pages.console import post_form, sign_in
from tests.support import OWNER_EMAIL, PASSWORD, set_up_cafe

Client = httpx.AsyncClient
PAGE = "/console/staff"


async def _actions() -> list[str]:
    return [a["action"] for a in await AuditLog.select(AuditLog.action).order_by(AuditLog.at)]


async def test_an_owner_hires_changes_and_disables_a_member(client: Client) -> None:
    cafe = await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    page = await client.get(PAGE)
    assert page.status_code == 200 and '<body class="page-staff"' in page.text
    hired = await post_form(
        client,
        PAGE,
        f"{PAGE}/hire",
        name="Cass Cashier",
        email="Cass@Cafe.test",
        password=PASSWORD,
        role="cashier",
        store_id=cafe.store_id,
    )
    assert hired.status_code == 303, hired.text
    row = await Staff.select(Staff.id, Staff.role, Staff.active).where(Staff.email == "cass@cafe.test").first()
    assert row is not None and row["role"] == "cashier"
    assert "Cass Cashier" in (await client.get(PAGE)).text
    changed = await post_form(client, PAGE, f"{PAGE}/{row['id']}/role", role="manager", store_id=cafe.store_id)
    assert changed.status_code == 303, changed.text
    disabled = await post_form(client, PAGE, f"{PAGE}/{row['id']}/disable", reason="Left the café")
    assert disabled.status_code == 303, disabled.text
    after = await Staff.select(Staff.role, Staff.active).where(Staff.id == row["id"]).first()
    assert after == {"role": "manager", "active": False}
    assert (await _actions())[-3:] == ["staff.hire", "staff.update", "staff.disable"]
    assert (await post_form(client, PAGE, f"{PAGE}/{row['id']}/enable", reason="Back")).status_code == 303
    assert (await _actions())[-1] == "staff.enable"


async def test_a_manager_is_refused_what_the_api_refuses_managers(client: Client) -> None:
    cafe = await set_up_cafe(client)
    await cafe.add_staff("manager", "manager@cafe.test")
    other = await cafe.add_staff("manager", "other@cafe.test")
    await sign_in(client, "manager@cafe.test")
    page = await client.get(PAGE)
    assert '<option value="owner">' not in page.text, "a manager is offered only cashiers"
    made_owner = await post_form(
        client, PAGE, f"{PAGE}/hire", name="Sneaky", email="sneaky@cafe.test", password=PASSWORD, role="owner"
    )
    assert made_owner.status_code == 403
    assert "A manager cannot hire an owner" in made_owner.text
    assert not await Staff.exists().where(Staff.email == "sneaky@cafe.test")
    promoted = await post_form(client, PAGE, f"{PAGE}/{other['id']}/disable", reason="Rival")
    assert promoted.status_code == 403
    assert (await Staff.select(Staff.active).where(Staff.id == other["id"]).first()) == {"active": True}
    assert "staff.disable" not in await _actions()
    assert "A manager cannot change a manager&#39;s account" in promoted.text
    cashier = await cafe.add_staff("cashier", "cass@cafe.test")
    raised = await post_form(
        client, PAGE, f"{PAGE}/{cashier['id']}/role", role="manager", store_id=cafe.store_id, reason="Promotion"
    )
    assert raised.status_code == 403 and "A manager cannot make anyone a manager" in raised.text


async def test_hiring_with_a_short_password_says_so_in_words(client: Client) -> None:
    cafe = await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    answer = await post_form(
        client,
        PAGE,
        f"{PAGE}/hire",
        name="Cass",
        email="c@cafe.test",
        password="short",
        role="cashier",
        store_id=cafe.store_id,
    )
    assert answer.status_code == 400
    assert "a password of 12 to 256 characters" in answer.text


async def test_a_cashier_needs_a_store(client: Client) -> None:
    await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    answer = await post_form(
        client, PAGE, f"{PAGE}/hire", name="Cass", email="c@cafe.test", password=PASSWORD, role="cashier"
    )
    assert answer.status_code >= 400
    assert not await Staff.exists().where(Staff.email == "c@cafe.test")


async def test_a_name_of_only_spaces_is_refused_in_words(client: Client) -> None:
    cafe = await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    fields = {
        "email": "c@cafe.test",
        "password": "a long enough password",
        "role": "cashier",
        "store_id": cafe.store_id,
    }
    answer = await post_form(client, PAGE, f"{PAGE}/hire", name="   ", **fields)
    assert answer.status_code == 400
    assert "The form needs a name of 1 to 120 characters." in answer.text
    store = await post_form(
        client,
        "/console/stores",
        f"/console/stores/{cafe.store_id}",
        name=" ",
        time_zone="Europe/Paris",
        latitude="48.85",
        longitude="2.35",
    )
    assert store.status_code == 400 and "The form needs a name of 1 to 120 characters." in store.text
