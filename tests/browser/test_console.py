"""The owner's console in Chromium: sign-in, the review queue and a card's page, as people use them."""

import io
import re
from pathlib import Path

from PIL import Image
from playwright.sync_api import Locator, Page, ViewportSize, expect

from tests.browser.conftest import MANAGER_EMAIL, OWNER_EMAIL, SCREENSHOTS, TIMEOUT_MS, Cafe, Watched, sign_in

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
expect.set_options(timeout=TIMEOUT_MS)


def shoot(page: Page, name: str) -> None:
    """The first screen of the page at phone and at desktop width, for the README and a reader's eye.

    Kept small: one screen each, and 32 colours are plenty for a page of text. The folder is not in
    git (each run rewrites it); docs/screenshots/ keeps the copies the README shows.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
        shot.quantize(colors=32).save(Path(SCREENSHOTS, f"{name}-{label}.png"), optimize=True)
    page.set_viewport_size(DESKTOP)


def flag_about(page: Page, rule_title: str, receipt: str) -> Locator:
    """The open flag of that rule whose evidence is the punch with that receipt."""
    return (
        page.locator("article[data-flag]:not(.decided)")
        .filter(has_text=rule_title)
        .filter(has=page.locator("table.evidence td", has_text=re.compile(f"^{receipt}$")))
    )


def test_the_owner_triages_the_queue_and_sees_the_card_change(watched: Watched, cafe: Cafe) -> None:
    page = watched.page
    sign_in(page, cafe, OWNER_EMAIL)
    page.goto(f"{cafe.url}/console/flags")
    expect(page.locator("body")).to_have_class(re.compile(r"\bflags\b"))

    queue = page.locator("article[data-flag]")
    expect(queue.first).to_contain_text("Free item held at the till")
    shoot(page, "queue")

    # The evidence: each cooldown flag names its punch, with the receipt the owner checks.
    approve_me = flag_about(page, "Punched again too soon", "R-1002")
    reject_me = flag_about(page, "Punched again too soon", "R-1003")
    expect(approve_me).to_have_count(1)
    expect(reject_me).to_have_count(1)
    expect(approve_me.locator("table.evidence")).to_contain_text("Cass")
    expect(approve_me.locator("table.evidence")).to_contain_text("Till 1")

    # The buttons: a reason, then Reject.
    reject_id = reject_me.get_attribute("id")
    approve_id = approve_me.get_attribute("id")
    reject_me.get_by_label("Reason for the decision").fill("No such receipt at the till")
    reject_me.get_by_role("button", name="Reject", exact=True).click()
    expect(page.locator(f"#{reject_id} .outcome")).to_contain_text("Rejected by Olive")
    expect(page.locator(f"#{reject_id} .outcome")).to_contain_text("No such receipt at the till")

    # The buttons: a reason, then Approve.
    approving = page.locator(f"#{approve_id}")
    approving.get_by_label("Reason for the decision").fill("Receipt R-1002 checked")
    approving.get_by_role("button", name="Approve", exact=True).click()
    expect(page.locator(f"#{approve_id} .outcome")).to_contain_text("Approved by Olive")

    # The card's page: the approved punch counts now, the rejected one is voided, and both decisions are audited.
    page.locator(f"a[href='/console/cards/{cafe.card_id}']").first.click()
    page.wait_for_url(f"**/console/cards/{cafe.card_id}")
    expect(page.locator("body")).to_have_class(re.compile(r"\bcard\b"))
    standing = page.locator("main article").first
    expect(standing).to_contain_text(f"{cafe.counted_before + 1} of 3 punches count toward Free coffee")
    voided = page.locator("tr.voided")
    expect(voided).to_have_count(1)
    expect(voided).to_contain_text("R-1003")
    decided = page.locator("h3:has-text('Decided flags') + ul")
    expect(decided).to_contain_text("rejected by Olive: “No such receipt at the till”")
    expect(decided).to_contain_text("approved by Olive: “Receipt R-1002 checked”")
    audit = page.locator("h2:has-text('Audit log') + ul")
    expect(audit).to_contain_text("“No such receipt at the till”")
    expect(audit).to_contain_text("“Receipt R-1002 checked”")
    shoot(page, "card")


def test_a_manager_is_told_in_words_that_someone_else_decides_their_own_punches(watched: Watched, cafe: Cafe) -> None:
    page = watched.page
    sign_in(page, cafe, MANAGER_EMAIL)
    page.goto(f"{cafe.url}/console/flags")
    own = flag_about(page, "Punched again too soon", "R-1004")
    expect(own).to_have_count(1)
    expect(own.locator("table.evidence")).to_contain_text("Max")
    own_id = own.get_attribute("id")
    own.get_by_label("Reason for the decision").fill("It was me, and it was fine")
    own.get_by_role("button", name="Approve", exact=True).click()
    row = page.locator(f"#{own_id}")
    expect(row.get_by_role("alert")).to_contain_text("Someone else must review a flag about your own punches")
    expect(row.locator("form.decide")).to_be_visible()

    # Reloaded, the flag is still open: nothing was decided.
    page.reload()
    expect(flag_about(page, "Punched again too soon", "R-1004").locator("form.decide")).to_be_visible()


def test_the_queue_fits_a_phone_without_scrolling_sideways(watched: Watched, cafe: Cafe) -> None:
    page = watched.page
    page.set_viewport_size(PHONE)
    sign_in(page, cafe, OWNER_EMAIL)
    page.goto(f"{cafe.url}/console/flags")
    expect(page.locator("article[data-flag]").first).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide"


def test_keyboard_triage_rejects_a_flag_with_r_a_reason_and_enter(watched: Watched, cafe: Cafe) -> None:
    page = watched.page
    sign_in(page, cafe, OWNER_EMAIL)
    page.goto(f"{cafe.url}/console/flags")
    target = flag_about(page, "Punched again too soon", "R-1004")
    target_id = target.get_attribute("id")
    queue = page.locator("article[data-flag]")
    page.locator("h1").click()
    # j moves to the next flag, until the one wanted is the current one.
    for _ in range(queue.count()):
        page.keyboard.press("j")
        if "current" in (page.locator(f"#{target_id}").get_attribute("class") or ""):
            break
    expect(page.locator(f"#{target_id}")).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("r")
    expect(page.locator(f"#{target_id}").get_by_label("Reason for the decision")).to_be_focused()
    page.keyboard.type("Two coffees are not one minute apart")
    page.keyboard.press("Enter")
    expect(page.locator(f"#{target_id} .outcome")).to_contain_text("Rejected by Olive")


CAFE_PAGES = {
    "worth": ("/console/worth", "What the guard is worth"),
    "staff": ("/console/staff", "Staff"),
    "stores": ("/console/stores", "Stores"),
    "programs": ("/console/programs", "Programs"),
    "audit-log": ("/console/audit-log", "Audit log"),
    "checkpoints": ("/console/checkpoints", "Checkpoints"),
}


def test_every_page_of_the_cafe_reads_on_a_phone_and_a_desktop(watched: Watched, cafe: Cafe) -> None:
    page = watched.page
    sign_in(page, cafe, OWNER_EMAIL)
    pages = CAFE_PAGES | {"card-page": (f"/console/cards/{cafe.card_id}", "Card")}
    for name, (path, heading) in pages.items():
        page.goto(f"{cafe.url}{path}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        page.set_viewport_size(PHONE)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} is {width} px wide on a phone"
        shoot(page, name)
    # The panel counts the held free item the seeding left, at the program's price.
    page.goto(f"{cafe.url}/console/worth")
    expect(page.locator("p.summary")).to_contain_text("1 free item held at the till for review")
    expect(page.get_by_role("row").filter(has_text="Free coffee")).to_contain_text("(4.50)")


def test_a_manager_is_refused_in_words_what_only_an_owner_may_do(watched: Watched, cafe: Cafe) -> None:
    page = watched.page
    sign_in(page, cafe, MANAGER_EMAIL)
    page.goto(f"{cafe.url}/console/programs")
    expect(page.get_by_text("Only an owner creates programs")).to_be_visible()
    page.get_by_role("link", name="Coffee card").click()
    cap = page.get_by_label("Daily cap (punches a day)")
    before = cap.input_value()
    cap.fill(str(int(before) + 5))  # more punches a day: easier to earn
    page.get_by_role("button", name="Save the program").click()
    expect(page.get_by_role("alert")).to_contain_text("Only an owner may relax the daily cap")
    # The refusal is the page's answer (403), and the program is as it was.
    watched.expected(403, page.url)
    page.go_back()
    page.reload()
    expect(page.get_by_label("Daily cap (punches a day)")).to_have_value(before)
