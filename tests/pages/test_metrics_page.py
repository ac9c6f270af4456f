"""The metrics dashboard (/console/metrics): the same figures as `GET /v1/metrics`, each with its
definition, a chart per series, the cohorts, CSV downloads that match the API, the pickers, and
the forms for the stores' transactions and for when a member is lost."""

import csv
import io
import re
from datetime import date, timedelta

import httpx
import pytest

from cards.metric_definitions import DEFINITIONS
from cards.metrics import SERIES_CSV_HEADER
from tests.pages.console import csrf_token, post_form, sign_in
from tests.support import OWNER_EMAIL, Cafe, FakeClock, cashier_at_till, new_customer, set_up_cafe

Client = httpx.AsyncClient
PAGE = "/console/metrics"


@pytest.fixture
async def cafe(client: Client, clock: FakeClock) -> Cafe:
    """A café where one customer punched today (450 cents), and its owner signed in."""
    cafe = await set_up_cafe(client)
    cashier = await cashier_at_till(cafe)
    customer = await new_customer(client, cafe)
    scan = await client.post(
        "/v1/scans",
        headers=cashier,
        json={"stamp": await customer.stamp(), "receipt": {"reference": "R-1", "amount_cents": 450}},
    )
    assert scan.status_code == 201, scan.text
    await sign_in(client, OWNER_EMAIL)
    return cafe


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_the_dashboard_shows_every_figure_with_its_definition_and_a_chart_per_series(
    client: Client, cafe: Cafe
) -> None:
    page = await client.get(PAGE)
    assert page.status_code == 200, page.text
    for name in ("adoption_rate", "redemption_rate", "churn_rate", "retention_rate", "lifetime_value_cents"):
        assert f'id="figure-{name}"' in page.text, name
    assert page.text.count("<summary>What is this?</summary>") == 16 + 12, "each tile and each chart"
    for definition in DEFINITIONS:
        assert f'<dt id="define-{definition.name}">' in page.text, definition.name
        assert definition.formula in page.text, definition.name
    assert len(re.findall(r'<figure class="chart"', page.text)) == 12
    # One punch this week: the punches chart's last bar is its whole height, the others flat.
    punches = page.text.split('id="chart-punches"')[1].split("</figure>")[0]
    assert punches.count('class="bar"') == 12 and ": 1</title>" in punches
    assert "No transactions entered for these days" in page.text
    assert 'href="/console/metrics"' in page.text, "the console's navigation leads here"
    cohorts = page.text.split('id="cohorts"')[1]
    assert 'class="heat-10">100 %' in cohorts, "this week's cohort: one member, all of them punched"


async def test_the_csv_downloads_hold_the_apis_series_and_cohorts(client: Client, cafe: Cafe) -> None:
    query = {"since": "2026-01-05", "until": "2026-03-01", "interval": "week", "store": cafe.store_id}
    page = await client.get(PAGE, params=query)
    link = re.search(r'href="(/console/metrics/series\.csv\?[^"]+)"', page.text)
    assert link, page.text
    download = await client.get(link.group(1).replace("&amp;", "&"))
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    api = (
        await client.get(
            "/v1/metrics",
            headers=cafe.owner,
            params={"since": "2026-01-05", "until": "2026-03-02", "interval": "week", "store_id": cafe.store_id},
        )
    ).json()
    rows = _rows(download.text)
    assert list(rows[0]) == list(SERIES_CSV_HEADER)
    assert [r["start"] for r in rows] == [f["start"] for f in api["series"]]
    for row, figures in zip(rows, api["series"], strict=True):
        for name in ("punches", "new_members", "active_members", "revenue_cents", "fraud_value_cents"):
            assert int(row[name]) == figures[name], name
    cohorts = await client.get("/console/metrics/cohorts.csv", params=query)
    assert cohorts.status_code == 200
    assert [(r["first_week"], int(r["members"])) for r in _rows(cohorts.text)] == [
        (c["week"], c["members"]) for c in api["cohorts"]
    ]


async def test_the_pickers_choose_the_period_interval_and_store(client: Client, cafe: Cafe) -> None:
    page = await client.get(PAGE, params={"since": "2026-01-01", "until": "2026-03-31", "interval": "month"})
    assert '<option value="month" selected>' in page.text
    assert page.text.count("<tr><th>2026-0") + page.text.count('<tr class="incomplete"><th>2026-0') == 3
    by_day = await client.get(PAGE, params={"interval": "day", "store": cafe.store_id})
    assert f'<option value="{cafe.store_id}" selected>' in by_day.text
    assert by_day.text.count("<rect ") == 12 * 30


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"interval": "fortnight"}, "is not an interval"),
        ({"store": "00000000-0000-4000-8000-000000000000"}, "That store is not one of yours"),
        ({"store": "Main St"}, "That store is not one of yours"),
        ({"since": "2020-01-01", "until": "2026-01-01", "interval": "day"}, "At most 400 intervals of a day"),
        ({"since": "someday"}, "is not a date"),
    ],
)
async def test_a_choice_the_page_cannot_use_is_said_and_the_default_shown(
    client: Client, cafe: Cafe, params: dict[str, str], said: str
) -> None:
    page = await client.get(PAGE, params=params)
    assert page.status_code == 200, page.text
    assert said in page.text
    assert page.text.count('<figure class="chart"') == 12


async def test_transactions_entered_or_imported_make_adoption(client: Client, cafe: Cafe, clock: FakeClock) -> None:
    local_today = (clock.now - timedelta(hours=8)).date()  # the café is in Los Angeles
    entered = await post_form(
        client, PAGE, f"{PAGE}/sales", store=cafe.store_id, day=local_today.isoformat(), transactions="4"
    )
    assert entered.status_code == 303, entered.text
    page = await client.get(PAGE)
    tile = page.text.split('id="figure-adoption_rate"')[1].split("</article>")[0]
    assert "25.0 %" in tile and "1 store-day entered" in tile, tile
    token = csrf_token(page.text)
    upload = f"store,day,transactions\nMarket St,{local_today.isoformat()},10\nMarket St,{date(2026, 1, 5)},7\n"
    imported = await client.post(
        f"{PAGE}/sales.csv", data={"_csrf_token": token}, files={"file": ("z.csv", upload, "text/csv")}
    )
    assert imported.status_code == 303, imported.text
    page = await client.get(PAGE)
    tile = page.text.split('id="figure-adoption_rate"')[1].split("</article>")[0]
    assert "10.0 %" in tile, "the day entered again replaced the first count"
    # The days entered are listed, the store's today among them, whichever side of UTC's it falls.
    listed = page.text.split('<table class="sales">')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>([0-9-]+)</td><td>[^<]*(?:<[^>]+>[^<]*)*?</td><td>(\d+)</td></tr>", listed)
    assert rows == [(local_today.isoformat(), "10")], "the last 60 days: January's is older"


@pytest.mark.parametrize(
    ("upload", "said"),
    [
        ("store;day;transactions\n", "The first row must be the header"),
        ("store,day,transactions\nNowhere,2026-01-05,3\n", "no store named"),
        ("store,day,transactions\nMarket St,05/01/2026,3\n", "YYYY-MM-DD"),
        ("store,day,transactions\nMarket St,2026-01-05,-3\n", "transactions must be 0"),
        ("store,day,transactions\n", "No rows after the header"),
    ],
)
async def test_a_wrong_csv_is_refused_in_words_and_nothing_is_entered(
    client: Client, cafe: Cafe, upload: str, said: str
) -> None:
    token = csrf_token((await client.get(PAGE)).text)
    good_first = "store,day,transactions\nMarket St,2026-01-04,9\n" + upload.split("\n", 1)[1]
    has_rows = upload.startswith("store,") and upload.count("\n") > 1
    for text in (upload, good_first) if has_rows else (upload,):  # a good row before a bad one: none entered
        answer = await client.post(
            f"{PAGE}/sales.csv", data={"_csrf_token": token}, files={"file": ("s.csv", text, "text/csv")}
        )
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"].startswith("text/html")
        assert said in answer.text
    assert (await client.get("/v1/store-sales", headers=cafe.owner, params={"since": "2026-01-01"})).json() == []


async def test_a_wrong_day_entry_is_refused_in_words(client: Client, cafe: Cafe) -> None:
    for fields, said in (
        ({"store": "", "day": "2026-01-05", "transactions": "3"}, "Choose a store."),
        ({"store": cafe.store_id, "day": "someday", "transactions": "3"}, "whole number"),
        ({"store": cafe.store_id, "day": "2026-01-05", "transactions": "three"}, "whole number"),
        ({"store": cafe.store_id, "day": "2026-01-05", "transactions": "2000000"}, "transactions must be 0"),
    ):
        answer = await post_form(client, PAGE, f"{PAGE}/sales", **fields)
        assert answer.status_code == 400, (fields, answer.text)
        assert said in answer.text, fields


async def test_only_the_owner_sets_when_a_member_is_lost(client: Client, cafe: Cafe) -> None:
    changed = await post_form(client, PAGE, f"{PAGE}/settings", lost_after_days="30")
    assert changed.status_code == 303, changed.text
    page = await client.get(PAGE)
    assert "A member is lost after 30 days" in page.text
    for wrong in ("6", "731", "thirty", ""):
        answer = await post_form(client, PAGE, f"{PAGE}/settings", lost_after_days=wrong)
        assert answer.status_code == 400 and "7 to 730 days" in answer.text, wrong
    await cafe.add_staff("manager", "manager@cafe.test")
    await sign_in(client, "manager@cafe.test")
    as_manager = await client.get(PAGE)
    assert 'action="/console/metrics/settings"' not in as_manager.text
    assert "the owner sets it" in as_manager.text
    refused = await client.post(
        f"{PAGE}/settings", data={"_csrf_token": csrf_token(as_manager.text), "lost_after_days": "90"}
    )
    assert refused.status_code == 403, refused.text
    assert (await client.get("/v1/metrics/settings", headers=cafe.owner)).json() == {"lost_after_days": 30}


async def test_a_manager_sees_the_dashboard_and_a_cashier_never(client: Client, cafe: Cafe) -> None:
    await cafe.add_staff("manager", "manager@cafe.test")
    await cafe.add_staff("cashier", "cashier2@cafe.test")
    for email, allowed in (("manager@cafe.test", True), ("cashier2@cafe.test", False)):
        other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
        async with other:
            await sign_in(other, email)
            answer = await other.get(PAGE)
            assert (answer.status_code == 200) is allowed, (email, answer.status_code)
            assert ('id="figure-adoption_rate"' in answer.text) is allowed, email
