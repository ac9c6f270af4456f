"""The till (/till) and the customer's card (/card) in Chromium, with a fake camera playing the codes.

The till runs in its own Chromium whose camera is a file (tests/browser/camera.py): a test writes
a QR code there, from a stamp or from a screenshot of the card page's own QR, and the till's
camera reads it. Each till is a scanner of its own, registered through the owner's API, as a café
registers each tablet; each customer a phone of its own (tests/support.py) or a card page.
"""

import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, Route, ViewportSize, expect

from mobile_contract.redemptions import redemption_request_message
from tests.browser.camera import Camera
from tests.browser.conftest import (
    CHROMIUM,
    OWNER_EMAIL,
    SCREENSHOTS,
    TIMEOUT_MS,
    Cafe,
    Pages,
    Watched,
    sign_in,
)
from tests.support import PASSWORD, Phone, bearer

TILL: ViewportSize = {"width": 1024, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}
CASHIER = "cass@bean.test"
expect.set_options(timeout=TIMEOUT_MS)


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def owner(cafe: Cafe) -> dict[str, str]:
    """The owner's API headers: the seeding's sign-in, or a new one once it is near its end."""
    if time.monotonic() - cafe.owner_since > 10 * 60:  # access tokens last 15 minutes
        login = {"email": OWNER_EMAIL, "password": PASSWORD}
        cafe.owner = bearer(_ok(httpx.post(f"{cafe.url}/v1/auth/login", json=login))["access_token"])
        cafe.owner_since = time.monotonic()
    return cafe.owner


def timeline(cafe: Cafe, card_id: str) -> Any:
    return _ok(httpx.get(f"{cafe.url}/v1/cards/{card_id}/timeline", headers=owner(cafe)))


def punches(cafe: Cafe, card_id: str) -> list[Any]:
    return [entry for entry in timeline(cafe, card_id)["entries"] if entry["kind"] == "punch"]


@dataclass
class Customer:
    """A phone app's customer holding a card of the quick program, through the API."""

    cafe: Cafe
    phone: Phone
    session: dict[str, str]
    card_id: str

    @classmethod
    def join(cls, cafe: Cafe) -> "Customer":
        phone = Phone(algorithm="ES256")
        with httpx.Client(base_url=cafe.url) as http:
            nonce = _ok(http.post("/v1/challenges"), 201)["challenge"]
            body = {"challenge": nonce, "public_key": phone.jwk, "signature": phone.prove("enroll", nonce)}
            session = bearer(_ok(http.post("/v1/customers", json=body), 201)["session_token"])
            card = _ok(http.post("/v1/me/cards", headers=session, json={"program_id": cafe.quick_program_id}), 201)
        return cls(cafe, phone, session, card["id"])

    def stamp(self) -> str:
        body = self.phone.stamp_request(self.card_id)
        url = f"{self.cafe.url}/v1/me/cards/{self.card_id}/stamps"
        return str(_ok(httpx.post(url, headers=self.session, json=body), 201)["stamp"])

    def redemption_code(self) -> str:
        self.phone.counter += 1
        signature = self.phone.sign(redemption_request_message(UUID(self.card_id), self.phone.counter))
        url = f"{self.cafe.url}/v1/me/cards/{self.card_id}/redemptions"
        body = {"counter": self.phone.counter, "signature": signature}
        return str(_ok(httpx.post(url, headers=self.session, json=body), 201)["code"])


@dataclass
class Till:
    page: Page
    watched: Watched
    camera: Camera

    @property
    def head(self) -> Any:
        return self.page.locator("#answer-head")

    def show(self, text: str | None = None, picture: bytes | None = None) -> None:
        """The next customer holds up a code: the camera sees it once the cashier taps Next customer."""
        if picture is not None:
            self.camera.show_picture(picture)
        else:
            assert text is not None
            self.camera.show(text)
        self.page.get_by_role("button", name="Next customer").click()

    def type(self, code: str) -> None:
        self.page.get_by_label("Or type the code").fill(code)
        self.page.get_by_role("button", name="Send", exact=True).click()


def new_scanner(cafe: Cafe, name: str) -> dict[str, str]:
    url = f"{cafe.url}/v1/stores/{cafe.store_id}/scanners"
    registered = _ok(httpx.post(url, headers=owner(cafe), json={"name": name}), 201)
    return {"scanner_id": registered["scanner"]["id"], "scanner_secret": registered["scanner_secret"]}


def open_till(
    pages: Pages, browser: Browser, camera: Camera, cafe: Cafe, showing: str, *, by_camera: bool = False
) -> Till:
    """A till on a new scanner, paired (with the console's pairing code held up to its camera, or
    typed), the cashier signed in, and its camera seeing `showing` (a text, shown as a QR code)."""
    scanner = new_scanner(cafe, f"Tablet {len(pages.seen)}")
    watched = pages.open(browser, TILL, permissions=["camera"])
    page = watched.page
    if by_camera:
        camera.show(f'{{"scanner_id":"{scanner["scanner_id"]}","scanner_secret":"{scanner["scanner_secret"]}"}}')
    page.goto(f"{cafe.url}/till")
    if not by_camera:
        page.get_by_label("Scanner id").fill(scanner["scanner_id"])
        page.get_by_label("Scanner secret").fill(scanner["scanner_secret"])
        page.get_by_role("button", name="Pair").click()
    expect(page.get_by_role("heading", name="Cashier sign-in")).to_be_visible()
    camera.show(showing)
    page.get_by_label("E-mail address").fill(CASHIER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#who")).to_contain_text("cashier")
    return Till(page, watched, camera)


@pytest.fixture
def till(pages: Pages, camera_browser: Browser, camera: Camera, cafe: Cafe) -> Iterator[Any]:
    """A factory: `till(showing)` opens a till whose camera sees `showing`."""

    def opened(showing: str, *, by_camera: bool = False) -> Till:
        return open_till(pages, camera_browser, camera, cafe, showing, by_camera=by_camera)

    yield opened


def test_the_till_pairs_by_camera_and_puts_a_real_stamp_in_the_ledger(till: Any, cafe: Cafe) -> None:
    customer = Customer.join(cafe)
    counter = till(customer.stamp(), by_camera=True)
    expect(counter.head).to_have_text("Punch 1 of 2")
    receipt = counter.page.locator("#answer-detail").inner_text()
    reference = re.search(r"Receipt (T[0-9A-F]{4}-000001)\.", receipt)
    assert reference, receipt
    # The ledger has the punch with the till's own receipt number, for a refund to find it.
    (punch,) = punches(cafe, customer.card_id)
    assert punch["receipt"] == reference.group(1)
    assert punch["cashier_name"] == "Cass"
    expect(counter.page.get_by_label("Receipt")).to_have_value(reference.group(1).replace("000001", "000002"))


def test_a_used_stamp_is_told_and_an_amount_is_kept(till: Any, cafe: Cafe) -> None:
    customer = Customer.join(cafe)
    stamp = customer.stamp()
    counter = till("not a punchguard code")
    expect(counter.head).to_have_text("This is not a PunchGuard code")
    counter.page.get_by_label("Amount").fill("4.50")
    counter.page.get_by_label("Receipt").fill("POS-7731")  # the till's own POS number, typed
    counter.show(stamp)
    expect(counter.head).to_have_text("Punch 1 of 2")
    counter.watched.expected(409, f"{cafe.url}/v1/scans")
    counter.show(stamp)  # the same stamp for the next purchase
    expect(counter.head).to_have_text("This code was already used")
    (punch,) = punches(cafe, customer.card_id)
    assert (punch["receipt"], punch["amount_cents"]) == ("POS-7731", 450)


def lose(route: Route, how: str) -> None:
    """The server acts on the request, and the till never gets its answer: the connection drops, or
    a proxy in between answers 502 Bad Gateway."""
    route.fetch()
    if how == "dropped":
        route.abort()
    else:
        route.fulfill(status=502, content_type="text/html", body="<h1>502 Bad Gateway</h1>")


@pytest.mark.parametrize("how", ["dropped", "bad-gateway"])
def test_a_scan_whose_answer_is_lost_is_sent_again_and_counts_once(till: Any, cafe: Cafe, how: str) -> None:
    customer = Customer.join(cafe)
    first, second = customer.stamp(), customer.stamp()
    counter = till(first)
    expect(counter.head).to_have_text("Punch 1 of 2")
    sent: list[str] = []
    replayed: list[str | None] = []

    def cut_the_first_answer(route: Route) -> None:
        sent.append(route.request.post_data or "")
        if len(sent) == 1:
            lose(route, how)
        else:
            route.continue_()

    counter.page.on(
        "response",
        lambda r: replayed.append(r.headers.get("idempotent-replayed")) if r.url.endswith("/v1/scans") else None,
    )
    counter.page.route("**/v1/scans", cut_the_first_answer)
    counter.watched.allow(r"ERR_FAILED")
    counter.watched.expected(502, f"{cafe.url}/v1/scans")
    counter.show(second)
    expect(counter.head).to_have_text("Punch 2 of 2")
    assert len(sent) == 2 and sent[0] == sent[1], "the very same body, sent again"
    assert replayed[-1] == "true", "the server answered the repeat with its first answer"
    assert len(punches(cafe, customer.card_id)) == 2
    expect(counter.page.locator("#offline")).to_be_hidden()


def test_a_scan_given_up_on_and_scanned_again_gets_its_first_answer(till: Any, cafe: Cafe) -> None:
    """The cashier stops the resending (the network is down for long); once it is back, the same code
    scanned again is answered with the punch the server made, not called a used code."""
    customer = Customer.join(cafe)
    stamp = customer.stamp()
    counter = till("nothing yet")
    expect(counter.head).to_have_text("This is not a PunchGuard code")
    counter.page.route("**/v1/scans", lambda route: lose(route, "dropped"))
    counter.watched.allow(r"ERR_FAILED")
    counter.show(stamp)
    expect(counter.page.locator("#answer-detail")).to_contain_text("Attempt 2")
    counter.page.get_by_role("button", name="Stop sending").click()
    expect(counter.head).to_have_text("Not sent")
    counter.page.unroute("**/v1/scans")
    counter.page.get_by_role("button", name="Next customer").click()  # the camera still sees the stamp
    expect(counter.head).to_have_text("Punch 1 of 2")
    assert len(punches(cafe, customer.card_id)) == 1


def test_an_access_token_the_server_refuses_is_refreshed_and_the_scan_goes(till: Any, cafe: Cafe) -> None:
    customer = Customer.join(cafe)
    counter = till("nothing yet")
    expect(counter.head).to_have_text("This is not a PunchGuard code")
    # The till's access token, as the server would refuse it (ended early, or the till's clock slow).
    counter.page.evaluate(
        """() => {
          const tokens = JSON.parse(sessionStorage.getItem("punchguard-till-session"));
          sessionStorage.setItem("punchguard-till-session", JSON.stringify({ ...tokens, access_token: "ended" }));
        }"""
    )
    counter.watched.expected(401, f"{cafe.url}/v1/scans")
    counter.show(customer.stamp())
    expect(counter.head).to_have_text("Punch 1 of 2")
    assert len(punches(cafe, customer.card_id)) == 1


def test_offline_is_shown_and_the_scan_goes_when_the_network_is_back(till: Any, cafe: Cafe) -> None:
    customer = Customer.join(cafe)
    first, second = customer.stamp(), customer.stamp()
    counter = till(first)
    expect(counter.head).to_have_text("Punch 1 of 2")
    counter.page.context.set_offline(True)
    counter.watched.allow(r"ERR_INTERNET_DISCONNECTED")
    counter.show(second)
    expect(counter.page.locator("#offline")).to_contain_text("Offline")
    expect(counter.head).to_have_text("Sending…")
    assert len(punches(cafe, customer.card_id)) == 1
    counter.page.context.set_offline(False)
    expect(counter.head).to_have_text("Punch 2 of 2")
    expect(counter.page.locator("#offline")).to_be_hidden()
    assert len(punches(cafe, customer.card_id)) == 2


def test_a_typed_redemption_code_is_granted_once(till: Any, cafe: Cafe) -> None:
    customer = Customer.join(cafe)
    first, second = customer.stamp(), customer.stamp()
    counter = till(first)
    expect(counter.head).to_have_text("Punch 1 of 2")
    counter.show(second)
    expect(counter.head).to_have_text("Punch 2 of 2")
    expect(counter.page.locator("#answer-detail")).to_contain_text("The card is full")
    code = customer.redemption_code()
    counter.type(code.lower())  # typed as the cashier reads it, in any case
    expect(counter.head).to_have_text("Free cookie: give it")
    # Typed again: the server answers the very same body with its first answer, which the till
    # tells from a resend of its own, and says so.
    counter.type(code)
    expect(counter.head).to_have_text("This code was already used")
    expect(counter.page.locator("#answer-detail")).to_have_text(
        "The Free cookie was given for it before: give nothing."
    )
    granted = [r for r in timeline(cafe, customer.card_id)["redemptions"] if r["status"] == "granted"]
    assert len(granted) == 1


def join_link(pages: Pages, browser: Browser, cafe: Cafe) -> str:
    """The quick program's join link, as the owner's console offers it."""
    console = pages.open(browser, {"width": 1280, "height": 900})
    sign_in(console.page, cafe, OWNER_EMAIL)
    console.page.goto(f"{cafe.url}/console/programs/{cafe.quick_program_id}")
    link = console.page.locator("section.join a[href^='/card?']")
    href = link.get_attribute("href")
    assert href and href.startswith("/card?"), href
    return f"{cafe.url}{href}"


def join_on_the_card_page(page: Page, link: str) -> str:
    """The customer opens the café's link and joins; the card's id, as the page keeps it."""
    page.goto(link)
    expect(page.get_by_role("heading", name="Join Quick card")).to_be_visible()
    page.get_by_role("button", name="Join and show my card").click()
    expect(page.locator("#stamp-qr")).to_have_attribute("data-text", re.compile(r"^[A-Z2-7]{173}$"))
    card_id = page.locator("#card").get_attribute("data-card-id")
    assert card_id, "the card page names its card"
    return card_id


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(SCREENSHOTS, f"{name}.png")))


def test_the_whole_loop_card_page_till_console_and_the_free_item(
    pages: Pages, browser: Browser, till: Any, cafe: Cafe
) -> None:
    link = join_link(pages, browser, cafe)
    card = pages.open(browser, PHONE).page
    card_id = join_on_the_card_page(card, link)
    qr = card.locator("#stamp-qr")
    expect(card.locator("#progress-words")).to_have_text("0 of 2 punches toward a Free cookie")
    shot(card, "card")

    counter = till("nothing yet")
    expect(counter.head).to_have_text("This is not a PunchGuard code")
    first = qr.get_attribute("data-text")
    counter.show(picture=qr.screenshot())  # the till's camera reads the card page's own QR code
    expect(counter.head).to_have_text("Punch 1 of 2")
    shot(counter.page, "till")
    expect(card.locator("#progress-words")).to_have_text("1 of 2 punches toward a Free cookie")
    # After a punch the card shows a new stamp: the old one is used.
    expect(qr).not_to_have_attribute("data-text", first or "")

    counter.show(picture=qr.screenshot())
    expect(counter.head).to_have_text("Punch 2 of 2")
    reward = card.get_by_role("button", name="Get my Free cookie")
    reward.click()
    code = card.locator("#redemption-code")
    expect(code).to_have_text(re.compile(r"^R1[A-Z2-7]{26}$"))
    shown = code.inner_text()
    counter.show(picture=card.locator("#redemption-qr").screenshot())
    expect(counter.head).to_have_text("Free cookie: give it")
    expect(card.locator("#status")).to_have_text("Enjoy your Free cookie!")
    counter.show(shown)  # the same code again, as a screenshot of it would be
    expect(counter.head).to_have_text("This code was already used")

    # The owner's console shows both punches, with the till's receipts, and the one free item.
    console = pages.seen[0].page
    console.goto(f"{cafe.url}/console/cards/{card_id}")
    expect(console.locator("main")).to_contain_text("-000001")
    expect(console.locator("main")).to_contain_text("-000002")
    granted = [r for r in timeline(cafe, card_id)["redemptions"] if r["status"] == "granted"]
    assert len(granted) == 1
    assert len(punches(cafe, card_id)) == 2


def test_a_cloned_card_key_is_refused_at_the_till(
    pages: Pages, browser: Browser, playwright: Playwright, till: Any, cafe: Cafe, tmp_path: Path
) -> None:
    """The card page's browser profile copied (key and counter with it): the copy's counter is
    behind the original's, so its first stamp request freezes the card, and the till refuses the
    original's stamp with the frozen-card answer."""
    link = join_link(pages, browser, cafe)
    original_profile, copy_profile = tmp_path / "original", tmp_path / "copy"

    def phone(profile: Path) -> Page:
        context = pages.keep(
            playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, viewport=PHONE
            )
        )
        return pages.watch(context.pages[0] if context.pages else context.new_page()).page

    original = phone(original_profile)
    card_id = join_on_the_card_page(original, link)
    original.context.close()
    shutil.copytree(original_profile, copy_profile)

    # The original goes on: two more stamps (counters 2 and 3), each on opening the card.
    original = phone(original_profile)
    for _ in range(2):
        original.goto(f"{cafe.url}/card")
        expect(original.locator("#stamp")).to_be_visible()
    stamp = original.locator("#stamp-qr").screenshot()
    original.context.close()  # its stamp stays valid for the till

    copy = phone(copy_profile)
    pages.seen[-1].expected(409, f"{cafe.url}/v1/me/cards/{card_id}/stamps")
    copy.goto(f"{cafe.url}/card")
    expect(copy.locator("#card-notice")).to_contain_text("frozen")
    assert timeline(cafe, card_id)["card"]["status"] == "frozen"

    counter = till("nothing yet")
    expect(counter.head).to_have_text("This is not a PunchGuard code")
    counter.watched.expected(409, f"{cafe.url}/v1/scans")
    counter.show(picture=stamp)
    expect(counter.head).to_contain_text("Card frozen")
    assert punches(cafe, card_id) == []


def test_the_till_installs_and_opens_without_a_network(pages: Pages, browser: Browser, cafe: Cafe) -> None:
    """A manifest and a service worker that keeps the shell: offline, the till still opens, says it
    is offline, and has sent nothing to the API on its own."""
    watched = pages.open(browser, TILL)
    page = watched.page
    page.goto(f"{cafe.url}/till")
    expect(page.get_by_role("heading", name="Pair this till")).to_be_visible()
    manifest = page.locator("link[rel=manifest]").get_attribute("href")
    assert manifest
    installable = httpx.get(f"{cafe.url}{manifest}").json()
    assert (installable["start_url"], installable["display"]) == ("/till", "standalone")
    kept: list[str] = []
    for _ in range(100):  # waiting for the worker to keep the shell, not timing it
        kept = page.evaluate(
            "() => navigator.serviceWorker.ready.then(() => caches.open('punchguard-till-v1'))"
            ".then((cache) => cache.keys()).then((keys) => keys.map((request) => request.url))"
        )
        if any(url.endswith("/till.js") for url in kept) and any(url.endswith("/punchguard.js") for url in kept):
            break
        page.wait_for_timeout(200)
    assert f"{cafe.url}/till" in kept and not any("/v1/" in url for url in kept), kept
    assert f"{cafe.url}/console/static/favicon.svg" in kept, "the icon the browser asks for offline too"
    page.context.set_offline(True)
    watched.allow(r"ERR_INTERNET_DISCONNECTED")
    page.reload()
    expect(page.get_by_role("heading", name="Pair this till")).to_be_visible()
    expect(page.locator("#offline")).to_contain_text("Offline")
