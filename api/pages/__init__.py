"""The owner's console: server-rendered pages at /console for owners and managers.

Every page calls the same functions in `cards/` as the JSON API and is guarded by the API's
own guards (`api/auth.py`); only the way a browser proves who it is differs: a cookie naming
a staff session (`api/pages/session.py`) instead of a bearer token, and a CSRF token on every
form and htmx request (Litestar's CSRF middleware, `csrf_config`). Every console answer
carries a strict Content-Security-Policy (`security_headers`): no inline script or style at
all, so the pages load only our own files (`api/pages/static/`, `api/static/vendor/`).
"""

import os
import secrets
from pathlib import Path
from typing import Any

from litestar import Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.middleware import DefineMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

import mobile_contract
from api.auth import managers_only
from api.pages import words
from api.pages.audit import AuditLogPageController, ExportPagesController
from api.pages.cards import CardPageController, CardSearchController
from api.pages.checkpoints import CheckpointPagesController
from api.pages.customer_card import CustomerCardController
from api.pages.errors import console_exception_handlers
from api.pages.flags import CardFlagsController, FlagQueueController
from api.pages.metrics import MetricsPageController
from api.pages.programs import ProgramPagesController
from api.pages.session import ConsoleAuthMiddleware
from api.pages.setup import SetupController
from api.pages.sign_in import HomeController, SignInController
from api.pages.staff import StaffPageController
from api.pages.stores import StorePagesController
from api.pages.till import TillController
from api.pages.worth import GuardWorthPageController
from api.settings import Settings
from api.vendor import Manifest
from cards.clock import Clock

CONSOLE = "/console"
# Paths whose answers carry the pages' headers (`security_headers`).
PAGES = (CONSOLE, "/till", "/card", "/contract")
# The JavaScript reference client of the contract, which the till and the card import.
CONTRACT_SCRIPTS = Path(mobile_contract.__file__).parent / "web"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def console_routers(settings: Settings, clock: Clock) -> list[Router]:
    """The console's pages (signed in or not) and its own static files."""
    signed_in = Router(
        path=CONSOLE,
        route_handlers=[
            HomeController,
            FlagQueueController,
            CardFlagsController,
            CardPageController,
            CardSearchController,
            StaffPageController,
            StorePagesController,
            ProgramPagesController,
            AuditLogPageController,
            ExportPagesController,
            CheckpointPagesController,
            GuardWorthPageController,
            MetricsPageController,
        ],
        guards=[managers_only],
        # The clock inside a function: Litestar deep-copies a router's middleware arguments, and a
        # copy of a test's fake clock would stop moving with it.
        middleware=[DefineMiddleware(ConsoleAuthMiddleware, settings=settings, clock=lambda: clock())],
        opt={"exclude_from_auth": True},  # no bearer token here: the console's cookie instead
        include_in_schema=False,
        exception_handlers=console_exception_handlers,
    )
    public = Router(
        path=CONSOLE,
        route_handlers=[SignInController, SetupController],
        opt={"exclude_from_auth": True},
        include_in_schema=False,
        exception_handlers=console_exception_handlers,
    )
    static = create_static_files_router(
        path=f"{CONSOLE}/static",
        directories=[STATIC],
        opt={"exclude_from_auth": True},
        include_in_schema=False,
        exception_handlers=console_exception_handlers,
    )
    # The till and the customer's card: shells whose scripts speak only the public JSON API.
    apps = Router(path="/", route_handlers=[TillController, CustomerCardController], include_in_schema=False)
    contract = create_static_files_router(
        path="/contract",
        directories=[CONTRACT_SCRIPTS],
        opt={"exclude_from_auth": True},
        include_in_schema=False,
    )
    routers = [signed_in, public, static, apps, contract]
    for router in routers:  # see api.app.static_files: `document` reads each handler's own flag
        for route in router.routes:
            for handler in getattr(route, "route_handlers", ()):
                handler.include_in_schema = False
    return routers


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja with autoescaping (Litestar's default for Jinja), the console's filters, and the
    vendored files' URLs read once from the manifest."""
    manifest = Manifest.read()
    assets = {
        "htmx": manifest.find("htmx.org", "dist/htmx.min.js").url,
        "pico": manifest.find("@picocss/pico", "css/pico.min.css").url,
        "console_js": f"{CONSOLE}/static/console.js",
        "console_css": f"{CONSOLE}/static/console.css",
        "jsqr": manifest.find("jsqr", "dist/jsQR.js").url,
        "qrcode": manifest.find("qrcode-generator", "qrcode.js").url,
        "static": f"{CONSOLE}/static",
    }

    def configure(engine: JinjaTemplateEngine) -> None:
        engine.engine.globals["assets"] = assets
        engine.engine.filters.update(words.FILTERS)
        engine.engine.globals.update(words.GLOBALS)

    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=configure)


def csrf_config(settings: Settings) -> CSRFConfig:
    """CSRF tokens for the console's forms and htmx requests. The JSON API is left out: it takes
    bearer tokens in a header, which no other site can make a browser send."""
    return CSRFConfig(
        secret=_csrf_secret(settings.keyring_path.parent / "console-csrf.secret"),
        cookie_name="punchguard_csrf",
        cookie_path=CONSOLE,
        cookie_httponly=True,  # the pages carry the token themselves; scripts never read the cookie
        cookie_samesite="strict",
        # Everything but the console: the API's paths (a pattern that also matched "/" alone would
        # make Litestar warn that it excludes everything, which it does not).
        exclude=[f"^/(?!{CONSOLE.strip('/')}(/|$)).+"],
    )


def _csrf_secret(path: Path) -> str:
    """One secret for every worker (each signs tokens the others must accept), kept beside the keys."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first
            pass
        else:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


async def security_headers(message: Any, scope: Any) -> None:
    """A `before_send` hook: the console's headers on every console answer, errors and redirects
    included (and nosniff on the vendored files)."""
    if message["type"] != "http.response.start":
        return
    path = str(scope.get("path", ""))
    if path.startswith("/static/"):  # the vendored files the pages load: never sniffed as another type
        MutableScopeHeaders.from_message(message)["x-content-type-options"] = "nosniff"
    if not path.startswith(PAGES):
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS.items():
        headers[name] = value
    if "cache-control" not in headers:
        headers["cache-control"] = "no-store"  # pages show customers and decisions: never cached
