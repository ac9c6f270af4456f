"""The customer's card (/card) in Chromium, beyond the till's loop: two tabs of one browser, and a
card the owner moves to the customer's new phone after their browser lost its key."""

import re

import httpx
from playwright.sync_api import Browser, expect

from tests.browser.conftest import OWNER_EMAIL, Cafe, Pages, sign_in
from tests.browser.test_till import CASHIER, PHONE, Customer, join_link, join_on_the_card_page, new_scanner, timeline
from tests.support import PASSWORD, bearer


def test_two_tabs_of_one_browser_never_send_a_counter_that_goes_back(
    pages: Pages, browser: Browser, cafe: Cafe
) -> None:
    link = join_link(pages, browser, cafe)
    first = pages.open(browser, PHONE).page
    card_id = join_on_the_card_page(first, link)
    second = first.context.new_page()
    pages.watch(second)
    shown = {first.locator("#stamp-qr").get_attribute("data-text") or ""}
    for tab in (second, first, second, first, second):
        if tab.url.endswith("/card"):
            tab.reload()
        else:
            tab.goto(f"{cafe.url}/card")
        stamp = tab.locator("#stamp-qr")
        earlier = "|".join(map(re.escape, shown))
        expect(stamp).to_have_attribute("data-text", re.compile(f"^(?!(?:{earlier})$)[A-Z2-7]{{173}}$"))
        shown.add(stamp.get_attribute("data-text") or "")
    assert timeline(cafe, card_id)["card"]["status"] == "active", "no counter went back"


def test_a_card_moved_by_the_owner_shows_on_the_new_phone_with_its_punches(
    pages: Pages, browser: Browser, cafe: Cafe
) -> None:
    # The customer's old card (a browser that has since lost its key), with one punch.
    old = Customer.join(cafe)
    login = {"email": CASHIER, "password": PASSWORD, **new_scanner(cafe, "Counter")}
    cashier = bearer(httpx.post(f"{cafe.url}/v1/auth/login", json=login).json()["access_token"])
    scan = {"stamp": old.stamp(), "receipt": {"reference": "MOVE-1"}}
    assert httpx.post(f"{cafe.url}/v1/scans", headers=cashier, json=scan).status_code == 201

    # The new phone joins again, and shows the café its new card's code.
    link = join_link(pages, browser, cafe)
    watched = pages.open(browser, PHONE)
    phone = watched.page
    new_card_id = join_on_the_card_page(phone, link)
    # After the move the phone's session is the old card's holder's: the new card is no longer its.
    watched.expected(401, f"{cafe.url}/v1/me/cards/{new_card_id}")
    watched.expected(404, f"{cafe.url}/v1/me/cards/{new_card_id}")
    expect(phone.locator("#progress-words")).to_contain_text("0 of 2")
    new_code = phone.locator("#card-code").inner_text()

    # The owner moves the old card to it from the old card's page.
    console = pages.seen[-2].page
    sign_in(console, cafe, OWNER_EMAIL)
    console.goto(f"{cafe.url}/console/cards/{old.card_id}")
    console.get_by_label("The new card's code").fill(new_code)
    console.get_by_label("Reason for moving the card").fill("Checked her receipts and her e-mail")
    console.get_by_role("button", name="Move this card to the new phone").click()
    expect(console.locator("main")).to_contain_text("The customer's new phone now holds this card")

    # The phone, still open, picks the move up by itself: the old card, its punch, a stamp to show.
    expect(phone.locator("#card")).to_have_attribute("data-card-id", old.card_id)
    expect(phone.locator("#progress-words")).to_contain_text("1 of 2")
    expect(phone.locator("#stamp-qr")).to_have_attribute("data-text", re.compile(r"^[A-Z2-7]{173}$"))
    expect(phone.locator("#stamp")).to_be_visible()


def test_the_card_sends_only_what_the_contract_says(pages: Pages, browser: Browser, cafe: Cafe) -> None:
    """Enrollment carries the public key as the contract takes it (only kty, crv, x, y: WebCrypto's
    export adds ext and key_ops), the optional details only when given, and every call goes to the
    public API."""
    link = join_link(pages, browser, cafe)
    watched = pages.open(browser, PHONE)
    phone = watched.page
    with phone.expect_request(lambda r: r.url.endswith("/v1/customers") and r.method == "POST") as enrolled:
        join_on_the_card_page(phone, link)
    body = enrolled.value.post_data_json
    assert isinstance(body, dict), enrolled.value.post_data
    assert set(body) == {"challenge", "public_key", "signature"}, "nothing asked that the customer did not give"
    assert set(body["public_key"]) == {"kty", "crv", "x", "y"}
    assert (body["public_key"]["kty"], body["public_key"]["crv"]) == ("EC", "P-256")
    assert re.fullmatch(r"[A-Za-z0-9_-]{86}", body["signature"]), "raw r||s, 64 bytes, unpadded base64url"
    calls = {re.sub(r"[0-9a-f-]{36}", "{id}", u.split("?")[0].removeprefix(cafe.url)) for u in watched.requests}
    api = {path for path in calls if path.startswith("/v1/")}
    assert api <= {
        "/v1/challenges",
        "/v1/customers",
        "/v1/businesses/{id}/programs",
        "/v1/me/cards",
        "/v1/me/cards/{id}",
        "/v1/me/cards/{id}/stamps",
    }, api
    assert not any(path.startswith("/console/") and "/static/" not in path for path in calls), calls
