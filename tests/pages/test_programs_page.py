"""Programs on the console: creating (owners only) and editing rules and risk thresholds through
`cards/programs.py`; a manager may tighten but the domain refuses their relaxing, in words."""

from typing import Any

import httpx

from api.pages.words import THRESHOLD_WORDS
from cards import programs
from cards.tables import AuditLog, Program
from mobile_contract.programs import RiskThresholds
from tests.pages.console import post_form, sign_in
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
    assert "Only an owner may relax the punches per reward; a manager may only tighten them." in relaxed.text
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
