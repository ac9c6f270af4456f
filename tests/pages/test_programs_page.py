"""Programs on the console: creating (owners only) and editing rules and risk thresholds through
`cards/programs.py`; a manager may tighten but the domain refuses their relaxing, in words."""

from typing import Any

import httpx

from api.pages.words import THRESHOLD_WORDS
from cards import programs
from cards.tables import AuditLog, Program
from mobile_contract.programs import RiskThresholds
from tests.pages.console import form_fields, post_form, sign_in
from tests.support import OWNER_EMAIL, set_up_cafe

Client = httpx.AsyncClient
PAGE = "/console/programs"


def _form(**more: str) -> dict[str, str]:
    fields = {
        "name": "Tea card",
        "reward_name": "Free tea",
        "punches_per_reward": "8",
        "stamp_lifetime_s": "30",
        "cooldown_s": "60",
        "daily_cap": "3",
        "excess_policy": "flag",
    }
    fields |= {f"risk_{name}": str(getattr(RiskThresholds(), name)) for name in RiskThresholds.__struct_fields__}
    return fields | more


async def _actions() -> list[str]:
    return [a["action"] for a in await AuditLog.select(AuditLog.action).order_by(AuditLog.at)]


async def test_every_threshold_is_explained_in_one_sentence() -> None:
    assert set(THRESHOLD_WORDS) == set(RiskThresholds.__struct_fields__)


async def test_an_owner_creates_and_edits_a_program(client: Client) -> None:
    await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    page = await client.get(PAGE)
    assert page.status_code == 200 and THRESHOLD_WORDS["burst_window_s"].split(" ")[0] in page.text
    created = await post_form(client, PAGE, PAGE, **_form())
    assert created.status_code == 303, created.text
    row: Any = await Program.select(Program.id, Program.punches_per_reward).where(Program.name == "Tea card").first()
    assert row["punches_per_reward"] == 8
    url = f"{PAGE}/{row['id']}"
    assert created.headers["location"] == url
    edited = await post_form(client, url, url, **_form(daily_cap="5", risk_burst_punches="20"))
    assert edited.status_code == 303, edited.text
    after = await programs.get_program(row["id"])
    assert after.daily_cap == 5 and after.risk.burst_punches == 20
    assert (await _actions())[-2:] == ["program.create", "program.update"]


async def test_a_manager_may_tighten_but_not_relax_or_create(client: Client) -> None:
    cafe = await set_up_cafe(client)
    await cafe.add_staff("manager", "manager@cafe.test")
    await sign_in(client, "manager@cafe.test")
    refused = await post_form(client, PAGE, PAGE, **_form())
    assert refused.status_code == 403 and "Only an owner" in refused.text
    assert not await Program.exists().where(Program.name == "Tea card")
    url = f"{PAGE}/{cafe.program_id}"
    base = _form(name="Coffee card", reward_name="Free coffee", punches_per_reward="10")
    relaxed = await post_form(client, url, url, **(base | {"punches_per_reward": "5"}))
    assert relaxed.status_code == 403
    assert "Only an owner may relax the punches per reward; a manager may only tighten the rules." in relaxed.text
    assert (await Program.select(Program.punches_per_reward).where(Program.id == cafe.program_id).first()) == {
        "punches_per_reward": 10
    }
    tightened = await post_form(client, url, url, **(base | {"daily_cap": "2"}))
    assert tightened.status_code == 303, tightened.text
    assert (await Program.select(Program.daily_cap).where(Program.id == cafe.program_id).first()) == {"daily_cap": 2}


async def test_an_out_of_range_rule_is_refused_in_words(client: Client) -> None:
    await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    answer = await post_form(client, PAGE, PAGE, **_form(stamp_lifetime_s="600"))
    assert answer.status_code == 400 and "stamp lifetime from 10 to 120 seconds" in answer.text


async def test_saving_a_program_as_shown_changes_nothing(client: Client) -> None:
    """Whatever the API set (an end to the microsecond, a price, thresholds with many decimals),
    the console's form saved untouched leaves the program as it was and logs no change; so a
    manager saving a tightened daily cap is not refused for relaxing what the form could not show."""
    cafe = await set_up_cafe(client)
    odd = {
        "reward_value_cents": 455,
        "ends_at": "2027-01-31T17:45:12.123456+00:00",
        "risk": {"concentration_share": 0.123456789, "travel_max_kmh": 199.99, "one_cashier_chance": 0.00012},
    }
    set_odd = await client.patch(f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json=odd)
    assert set_odd.status_code == 200, set_odd.text
    before = set_odd.json()
    await cafe.add_staff("manager", "manager@cafe.test")
    await sign_in(client, "manager@cafe.test")
    url = f"{PAGE}/{cafe.program_id}"
    fields = form_fields((await client.get(url)).text, url)
    assert fields["ends_at"] == "2027-01-31T17:45:12" and fields["reward_value"] == "4.55"
    logged = len(await _actions())
    saved = await client.post(url, data=fields)
    assert saved.status_code == 303, saved.text
    assert (await client.get(f"/v1/programs/{cafe.program_id}", headers=cafe.owner)).json() == before
    assert len(await _actions()) == logged, "nothing changed, nothing logged"

    tightened = await client.post(url, data=fields | {"daily_cap": "2"})
    assert tightened.status_code == 303, tightened.text
    after = (await client.get(f"/v1/programs/{cafe.program_id}", headers=cafe.owner)).json()
    assert after == before | {"daily_cap": 2}

    # Moving the end later relaxes the program: refused to a manager, in words.
    fields["daily_cap"] = "2"
    later = await client.post(url, data=fields | {"ends_at": "2027-03-01T00:00:00"})
    assert later.status_code == 403
    assert "Only an owner may relax the program&#39;s end; a manager may only tighten the rules." in later.text
    earlier = await client.post(url, data=fields | {"ends_at": "2027-01-15T12:00"})
    assert earlier.status_code == 303, earlier.text
    ends = (await client.get(f"/v1/programs/{cafe.program_id}", headers=cafe.owner)).json()["ends_at"]
    assert ends.startswith("2027-01-15T12:00:00")
    nonsense = await client.post(url, data=fields | {"ends_at": "next Tuesday"})
    assert nonsense.status_code == 400 and "an end as a date and a time (UTC)" in nonsense.text


async def test_a_program_past_its_end_reads_as_ended(client: Client) -> None:
    cafe = await set_up_cafe(client)
    past = await client.patch(
        f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json={"ends_at": "2020-01-01T00:00:00+00:00"}
    )
    assert past.status_code == 200, past.text
    await sign_in(client, OWNER_EMAIL)
    page = (await client.get(f"{PAGE}/{cafe.program_id}")).text
    assert '<small class="muted">ended</small>' in page and "; ended 2020-01-01 00:00 UTC." in page
    assert "free items already earned stay redeemable" in page
    assert ": 10 punches for <bdi>Free coffee</bdi> · ended</li>" in (await client.get(PAGE)).text
