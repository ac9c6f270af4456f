"""The owner's metrics dashboard in Chromium: the figures, their definitions a click away, the
charts, the pickers, a CSV download, and adoption once the store's transactions are entered."""

import csv
import io
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image
from playwright.sync_api import expect

from cards.metrics import SERIES_CSV_HEADER
from tests.browser.conftest import MANAGER_EMAIL, OWNER_EMAIL, SCREENSHOTS, Cafe, Watched, sign_in
from tests.browser.test_console import PHONE, shoot

STORE_ZONE = ZoneInfo("America/Los_Angeles")  # the seeded store's


def test_the_owner_reads_the_dashboard_and_enters_a_days_transactions(
    watched: Watched, cafe: Cafe, tmp_path: Path
) -> None:
    page = watched.page
    sign_in(page, cafe, OWNER_EMAIL)
    page.get_by_role("link", name="Metrics").click()
    page.wait_for_url("**/console/metrics")
    expect(page.get_by_role("heading", level=1)).to_have_text("Is the program working?")

    # The seeding punched today: punches counted, and every chart drawn with its bars.
    expect(page.locator("#figure-punches .figure")).not_to_have_text("0")
    charts = page.locator("figure.chart")
    expect(charts).to_have_count(12)
    for chart in charts.all():
        expect(chart.locator("svg")).to_be_visible()
    expect(page.locator("#chart-punches rect.bar").last).to_have_attribute("height", re.compile(r"^(?!0\.00)"))

    # A definition is a click away, and hidden until then.
    tile = page.locator("#figure-redemption_rate")
    definition = tile.locator("details p").first
    expect(definition).to_be_hidden()
    tile.get_by_text("What is this?").click()
    expect(definition).to_be_visible()
    expect(definition).to_contain_text("free items")

    # No transactions yet: adoption says so rather than guessing.
    adoption = page.locator("#figure-adoption_rate")
    expect(adoption).to_contain_text("No transactions entered for these days")
    shoot(page, "metrics")

    # The pickers: by day, at the one store.
    pickers = page.locator("form.filters")
    pickers.get_by_label("By").select_option("day")
    pickers.get_by_label("Store").select_option(label="Market St")
    pickers.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"interval=day"))
    expect(page.locator("h2#charts")).to_have_text("By day")

    # Every series as CSV, the same columns the API's series have.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download every series (CSV)").click()
    saved = tmp_path / "series.csv"
    download.value.save_as(saved)
    with saved.open(newline="") as file:
        rows = list(csv.reader(file))
    assert tuple(rows[0]) == tuple(SERIES_CSV_HEADER), rows[0]
    today = datetime.now(STORE_ZONE).date().isoformat()
    assert today in [row[0] for row in rows[1:]], "a row a day, today's among them"

    # Today's transactions entered: adoption becomes a share.
    entry = page.locator("form[action='/console/metrics/sales']")
    entry.get_by_label("Day (the store").fill(datetime.now(STORE_ZONE).date().isoformat())
    entry.get_by_label("All transactions that day").fill("40")
    entry.get_by_role("button", name="Enter").click()
    expect(page.locator("table.sales")).to_contain_text("40")
    page.goto(f"{cafe.url}/console/metrics")
    expect(adoption.locator(".figure")).to_have_text(re.compile(r"^\d+\.\d %$"))
    expect(adoption).to_contain_text("1 store-day entered")

    # The charts and the cohorts, as an owner scrolls to them (the README shows a copy).
    charts_and_cohorts = page.locator("section[aria-labelledby='charts']")
    shot = Image.open(io.BytesIO(charts_and_cohorts.screenshot())).convert("RGB")
    shot.quantize(colors=32).save(SCREENSHOTS / "metrics-charts-desktop.png", optimize=True)

    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the dashboard is {width} px wide on a phone"


def test_a_manager_reads_the_figures_but_the_owner_sets_when_a_member_is_lost(watched: Watched, cafe: Cafe) -> None:
    page = watched.page
    sign_in(page, cafe, MANAGER_EMAIL)
    page.goto(f"{cafe.url}/console/metrics")
    expect(page.locator("#figure-punches")).to_be_visible()
    expect(page.locator("section[aria-labelledby='lost']")).to_contain_text("the owner sets it")
    expect(page.locator("form[action='/console/metrics/settings']")).to_have_count(0)
