"""Every console page that filters by dates takes whatever is typed: a day it cannot use (not a
date, before 2000, after 2999, the last day of the calendar) is left out and said in words, two
days in the wrong order are swapped and said; never a server error."""

import httpx
import pytest

from tests.pages.console import sign_in
from tests.support import OWNER_EMAIL, set_up_cafe

Client = httpx.AsyncClient
FILTERED = [
    "/console/flags",
    "/console/audit-log",
    "/console/worth",
    "/console/exports/flags.csv",
    "/console/exports/punches.csv",
]
UNUSABLE = [
    "9999-12-31",
    "0001-01-01",
    "1999-12-31",
    "3000-01-01",
    "2026-02-30",
    "9999-99-99",
    "2026-1-1",
    "yesterday",
    "x" * 300,
]


@pytest.mark.parametrize("path", FILTERED)
async def test_a_day_the_console_cannot_use_is_left_out_in_words(client: Client, path: str) -> None:
    await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    for text in UNUSABLE:
        for key in ("since", "until"):
            answer = await client.get(path, params={key: text})
            assert answer.status_code == 200, (path, key, text, answer.text[:300])
            if path.endswith(".csv"):
                assert answer.headers["content-type"].startswith("text/csv"), (path, text)
            else:
                shown = text.replace("&", "&amp;")
                assert f"“{shown}” is not a date (year-month-day, from 2000 to 2999); it was left out." in answer.text


@pytest.mark.parametrize("path", ["/console/flags", "/console/audit-log", "/console/worth"])
async def test_two_days_in_the_wrong_order_are_swapped_and_said(client: Client, path: str) -> None:
    await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    answer = await client.get(path, params={"since": "2026-12-01", "until": "2026-11-01"})
    assert answer.status_code == 200
    assert "The period started after it ended; the two dates were swapped." in answer.text
    assert "must not be after" not in answer.text, "the API's words are not the console's"


async def test_the_first_and_last_usable_days_are_taken(client: Client) -> None:
    await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    for path in FILTERED:
        answer = await client.get(path, params={"since": "2000-01-01", "until": "2999-12-31"})
        assert answer.status_code == 200 and "is not a date" not in answer.text, path
