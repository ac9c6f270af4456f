"""The console in a real browser: Debian's Chromium driven by Playwright's sync API.

Its own pytest invocation (`make test-browser`, `-p no:playwright`): Playwright's event loop must
not share a session with the pytest-asyncio suite, which skips this folder (`--ignore` in
pyproject.toml). One real `python -m api serve` on a fresh data dir (or the suite's PostgreSQL
database, given by DATABASE_URL), set up with the setup code `api init` printed and seeded over
HTTP as a phone, a till and an owner would: the flags the tests review come from the risk rules.
"""

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from piccolo.engine.postgres import PostgresEngine
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, ViewportSize, sync_playwright

from api.settings import DEFAULT_RATE_LIMITS
from cards.database import current_engine
from mobile_contract.redemptions import redemption_request_message
from tests.browser.camera import Camera
from tests.conftest import TABLES
from tests.servers import served
from tests.support import PASSWORD, Phone, bearer

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/lib/chromium/chromium") if Path(p).exists()), "")
SETUP_CODE = re.compile(r"\b([0-9A-F]{6}(?:-[0-9A-F]{6}){3})\b")
OWNER_EMAIL = "olive@bean.test"
MANAGER_EMAIL = "max@bean.test"
SCREENSHOTS = Path(__file__).parent / "screenshots"
# Auto-waiting, generous: a slow CI machine is not a failure.
TIMEOUT_MS = 30_000


@dataclass
class Cafe:
    """What the seeding made: the server's address and the card whose flags the owner reviews."""

    url: str
    card_id: str
    counted_before: int
    receipts: dict[str, str] = field(default_factory=dict)
    # The till tests': the store their scanners are registered at, and a program whose rules let a
    # test punch a card twice in a row and redeem it (no cooldown, no burst or concentration flags).
    store_id: str = ""
    quick_program_id: str = ""
    owner: dict[str, str] = field(default_factory=dict)
    owner_since: float = field(default_factory=time.monotonic)


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def _seed(url: str, setup_code: str) -> Cafe:
    """A café with a card whose punches raised flags: cooldowns, and a free item held at the till."""
    with httpx.Client(base_url=url, timeout=60) as http:
        _ok(
            http.post(
                "/v1/setup",
                json={
                    "setup_code": setup_code,
                    "business_name": "Bean There",
                    "name": "Olive",
                    "email": OWNER_EMAIL,
                    "password": PASSWORD,
                },
            ),
            201,
        )
        owner = bearer(
            _ok(http.post("/v1/auth/login", json={"email": OWNER_EMAIL, "password": PASSWORD}))["access_token"]
        )
        hours = [
            {"day": d, "opens": "00:00", "closes": "00:00"} for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        ]
        store = _ok(
            http.post(
                "/v1/stores",
                headers=owner,
                json={
                    "name": "Market St",
                    "time_zone": "America/Los_Angeles",
                    "latitude": 37.7749,
                    "longitude": -122.4194,
                    "opening_hours": hours,
                },
            ),
            201,
        )["id"]
        scanner = _ok(http.post(f"/v1/stores/{store}/scanners", headers=owner, json={"name": "Till 1"}), 201)
        tills = {}
        for name, email, role in (("Cass", "cass@bean.test", "cashier"), ("Max", MANAGER_EMAIL, "manager")):
            _ok(
                http.post(
                    "/v1/staff",
                    headers=owner,
                    json={
                        "name": name,
                        "email": email,
                        "password": PASSWORD,
                        "role": role,
                        "store_id": store if role == "cashier" else None,
                    },
                ),
                201,
            )
            login = {
                "email": email,
                "password": PASSWORD,
                "scanner_id": scanner["scanner"]["id"],
                "scanner_secret": scanner["scanner_secret"],
            }
            tills[role] = bearer(_ok(http.post("/v1/auth/login", json=login))["access_token"])
        program = _ok(
            http.post(
                "/v1/programs",
                headers=owner,
                json={
                    "name": "Coffee card",
                    "reward_name": "Free coffee",
                    "reward_value_cents": 450,
                    "punches_per_reward": 3,
                },
            ),
            201,
        )["id"]

        quick = {
            "name": "Quick card",
            "reward_name": "Free cookie",
            "punches_per_reward": 2,
            "cooldown_s": 0,
            "daily_cap": 20,
            "risk": {"burst_punches": 1000, "concentration_min_punches": 10_000},
        }
        quick_program = _ok(http.post("/v1/programs", headers=owner, json=quick), 201)["id"]

        phone = Phone()
        nonce = _ok(http.post("/v1/challenges"), 201)["challenge"]
        enrolled = _ok(
            http.post(
                "/v1/customers",
                json={
                    "challenge": nonce,
                    "public_key": phone.jwk,
                    "signature": phone.prove("enroll", nonce),
                    "display_name": "Robin",
                },
            ),
            201,
        )
        session = bearer(enrolled["session_token"])
        card = _ok(http.post("/v1/me/cards", headers=session, json={"program_id": program}), 201)

        # One punch that counts, then three within the 60 s cooldown (each flagged): the last by the
        # manager, whose flags only someone else may decide.
        receipts: dict[str, str] = {}
        for receipt, who in (
            ("R-1001", "cashier"),
            ("R-1002", "cashier"),
            ("R-1003", "cashier"),
            ("R-1004", "manager"),
        ):
            stamp = _ok(
                http.post(f"/v1/me/cards/{card['id']}/stamps", headers=session, json=phone.stamp_request(card["id"])),
                201,
            )
            scan = _ok(
                http.post(
                    "/v1/scans",
                    headers=tills[who],
                    json={"stamp": stamp["stamp"], "receipt": {"reference": receipt, "amount_cents": 450, "items": 1}},
                ),
                201,
            )
            receipts[receipt] = scan["punch_id"]
        before = _ok(http.get(f"/v1/me/cards/{card['id']}", headers=session))
        # Enough punches, but three under review: the till holds the free item (a reward_held flag).
        phone.counter += 1
        message = phone.sign(redemption_request_message(UUID(card["id"]), phone.counter))
        code = _ok(
            http.post(
                f"/v1/me/cards/{card['id']}/redemptions",
                headers=session,
                json={"counter": phone.counter, "signature": message},
            ),
            201,
        )["code"]
        held = http.post("/v1/redemptions", headers=tills["cashier"], json={"code": code})
        assert held.status_code == 409 and "reward-held" in held.text, held.text
        return Cafe(
            url,
            card["id"],
            before["balance"],
            receipts,
            store_id=store,
            quick_program_id=quick_program,
            owner=owner,
        )


@pytest.fixture(autouse=True)
def clean_database() -> None:
    """The suite's cleaning between tests, replaced: these tests share one seeded server, and the
    suite's async fixture would need an event loop while Playwright's sync API runs its own."""


async def _empty_the_suites_database() -> None:
    engine = current_engine()
    assert isinstance(engine, PostgresEngine)
    await engine.run_ddl(f"TRUNCATE {', '.join(t._meta.tablename for t in TABLES)} CASCADE")


@pytest.fixture(scope="session")
def cafe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cafe]:
    data = tmp_path_factory.mktemp("data")
    env = {key: value for key, value in os.environ.items() if key != "PUNCHGUARD_KEYRING"}
    env |= {"PUNCHGUARD_DATA_DIR": str(data), "PUNCHGUARD_LOG_REQUESTS": "0"}
    # Every page a test opens comes from 127.0.0.1: the tills sign cashiers in and the card pages ask
    # for challenges far more often in a minute than one café's address does. Every group is lifted,
    # not the ones a run happened to trip; the limits themselves are tested in tests/test_rate_limits.py.
    env |= {f"PUNCHGUARD_{group.upper()}_PER_MINUTE": "10000" for group in DEFAULT_RATE_LIMITS}
    if env["DATABASE_URL"].startswith("postgres"):
        # The suite's PostgreSQL database (make test-postgres leaves its last test's rows): empty, for `init`.
        asyncio.run(_empty_the_suites_database())
    else:
        env["DATABASE_URL"] = f"sqlite:///{data}/punchguard.sqlite3"
    init = subprocess.run(
        [sys.executable, "-m", "api", "init"], env=env, capture_output=True, text=True, check=True, timeout=120
    )
    code = SETUP_CODE.search(init.stdout)
    assert code, init.stdout
    with served(env) as (url,):
        yield _seed(url, code.group(1))


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    assert CHROMIUM, "make test-browser installs Debian's chromium"
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    yield browser
    browser.close()


@dataclass
class Watched:
    """A page, with every request it made and every console error or uncaught exception it saw."""

    page: Page
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def expected(self, status: int, url: str) -> None:
        """A refusal the test asks for and checks in words: that answer, and Chromium's console line
        about it (which may come later), are not errors. Any other error stays one."""
        self.allowed.append(re.compile(rf"\b{status}\b.*{re.escape(url)}\b"))

    def allow(self, pattern: str) -> None:
        """Another line the test causes on purpose (an answer it cuts off), as a regular expression."""
        self.allowed.append(re.compile(pattern))

    def unexpected_errors(self) -> list[str]:
        return [error for error in self.errors if not any(pattern.search(error) for pattern in self.allowed)]


class Pages:
    """Every page a test opens, watched; checked when the test ends (`pages` fixture)."""

    def __init__(self, cafe: Cafe) -> None:
        self.cafe = cafe
        self.seen: list[Watched] = []
        self.contexts: list[BrowserContext] = []

    def watch(self, page: Page) -> Watched:
        seen = Watched(page)

        def on_console(message: ConsoleMessage) -> None:
            # A CSP violation is reported as a console error too.
            where = message.location.get("url", "")
            if message.type in ("error", "warning"):
                seen.errors.append(f"console {message.type}: {message.text} ({where})")

        page.on("request", lambda request: seen.requests.append(request.url))
        page.on("response", lambda r: seen.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.on("console", on_console)
        page.on("pageerror", lambda error: seen.errors.append(f"uncaught: {error}"))
        self.seen.append(seen)
        return seen

    def keep(self, context: BrowserContext) -> BrowserContext:
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        return context

    def open(self, browser: Browser, viewport: ViewportSize, **options: Any) -> Watched:
        """A page in a fresh context (its own storage) of `browser`."""
        context = self.keep(browser.new_context(viewport=viewport, **options))
        return self.watch(context.new_page())

    def check(self) -> None:
        """Nothing from another origin, and a quiet console, on every page."""
        for seen in self.seen:
            foreign = [u for u in seen.requests if not u.startswith(self.cafe.url + "/")]
            assert not foreign, f"requests to other origins: {foreign}"
            assert not seen.unexpected_errors(), seen.unexpected_errors()


@pytest.fixture
def pages(cafe: Cafe) -> Iterator[Pages]:
    opened = Pages(cafe)
    yield opened
    for context in opened.contexts:
        context.close()
    opened.check()


@pytest.fixture
def watched(pages: Pages, browser: Browser) -> Watched:
    return pages.open(browser, {"width": 1280, "height": 900})


@pytest.fixture(scope="session")
def camera(tmp_path_factory: pytest.TempPathFactory) -> Camera:
    return Camera(tmp_path_factory.mktemp("camera") / "camera.y4m")


def camera_arguments(camera: Camera) -> list[str]:
    """Chromium's fake camera playing `camera`'s file, granted without asking."""
    return [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={camera.path}",
    ]


@pytest.fixture(scope="session")
def camera_browser(playwright: Playwright, camera: Camera) -> Iterator[Browser]:
    """A second Chromium, whose camera is `camera`: the till's."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=camera_arguments(camera))
    yield browser
    browser.close()


def sign_in(page: Page, cafe: Cafe, email: str) -> None:
    """Through the form, as a person would."""
    page.goto(f"{cafe.url}/console/sign-in")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/console/(?!sign-in)"))
