"""The app factory: plugins, middleware, dependencies and controllers assembled in one place."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from litestar import Litestar, get
from litestar.config.app import AppConfig
from litestar.config.cors import CORSConfig
from litestar.datastructures import CacheControlHeader, MutableScopeHeaders
from litestar.di import Provide
from litestar.exceptions import MethodNotAllowedException, NotFoundException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.response import Redirect
from litestar.router import Router
from litestar.static_files import create_static_files_router
from piccolo.engine.postgres import PostgresEngine

from api.auth import BearerAuthMiddleware, provide_customer, provide_staff
from api.controllers.auth import AuthController
from api.controllers.checkpoints import CheckpointController
from api.controllers.customers import EnrollmentController, MeController
from api.controllers.metrics import MetricsController, MetricSettingsController, StoreSalesController
from api.controllers.operations import OperationsController
from api.controllers.programs import ProgramController, PublicProgramController
from api.controllers.punches import ScanController, StampController
from api.controllers.redemptions import RedeemController, RedemptionCodeController
from api.controllers.review import (
    AuditLogController,
    CardReviewController,
    DeviceController,
    ExportController,
    FlagController,
)
from api.controllers.staff import StaffController
from api.controllers.stores import ScannerController, StoreController
from api.openapi import SECURITY_SCHEMES, document
from api.pages import console_routers, csrf_config, security_headers, template_config
from api.pages.errors import unrouted
from api.problems import ProblemRequest, exception_handlers, problem_details_plugin
from api.rate_limits import rate_limit_guard
from api.request_log import RequestLog, request_state
from api.settings import Settings
from api.vendor import STATIC, URL_PREFIX, Manifest
from cards import sweep
from cards.clock import Clock, system_clock
from cards.database import current_engine
from cards.sqlite_engine import SQLiteDatabase
from crypto.keyring import Keyring, load_or_create_keyring
from crypto.tokens import TokenService

API_VERSION = "1.0.0"
log = logging.getLogger("punchguard")


async def _keep_session(_: object) -> None:
    """asyncpg's default reset costs a round trip (RESET ALL, UNLISTEN…) each time piccolo hands a
    connection back, i.e. after every query. The app keeps no session state (no LISTEN, no SET,
    no advisory locks; migrations use their own connection), and asyncpg still rolls back any
    open transaction before calling this, so there is nothing to reset."""


@asynccontextmanager
async def database_pool(_: Litestar | None = None) -> AsyncIterator[None]:
    """One connection pool per worker: asyncpg's on PostgreSQL, long-lived connections on SQLite
    (cards/sqlite_engine.py)."""
    engine = current_engine()
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=10, reset=_keep_session)
    elif isinstance(engine, SQLiteDatabase):
        await engine.start_connection_pool()
    try:
        yield
    finally:
        if isinstance(engine, PostgresEngine | SQLiteDatabase):
            await engine.close_connection_pool()


def periodic_sweep(settings: Settings, clock: Clock) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """A lifespan task: every `sweep_every_s`, delete what expired (cards/sweep.py)."""

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                await asyncio.sleep(settings.sweep_every_s)
                try:
                    await sweep.sweep(clock())
                except Exception:  # a failed sweep is retried next time; it must not stop serving
                    log.exception("sweep failed")

        task = asyncio.create_task(loop()) if settings.sweep_every_s > 0 else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()

    return lifespan


class PunchGuard(Litestar):
    """The Litestar app, with what only the outermost layer can do.

    - Every request gets its id and start time as it arrives, so the request log and
      X-Request-ID cover responses the router and middleware make themselves (api/request_log.py).
    - HEAD is answered for every GET route, as RFC 9110 asks: the GET runs and its body is
      dropped (Litestar routes HEAD only to handlers declared for it).
    - OPTIONS says every method of the path in `Allow`. Litestar's generated OPTIONS handler
      keeps the methods of the first controller that declared the path, so a path served by
      a GET and a POST could answer "Allow: OPTIONS, POST"; the right list replaces it.
    """

    def allowed_methods(self, path_template: str) -> str | None:
        """The methods a route path answers, HEAD included with GET, as an Allow header."""
        if not hasattr(self, "_allowed"):
            self._allowed: dict[str, str] = {}
            for route in self.routes:
                methods = set(getattr(route, "methods", ()))
                if "GET" in methods:
                    methods.add("HEAD")
                self._allowed[route.path_format] = ", ".join(sorted(methods))
        return self._allowed.get(path_template)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:  # ASGI's typed scopes, loosely
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request_state(scope)
        if scope["method"] != "HEAD":
            await super().__call__(scope, receive, send)
            return

        async def headers_only(message: Any) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        as_get: Any = {**scope, "method": "GET"}
        await super().__call__(as_get, receive, headers_only)


def create_app(
    settings: Settings | None = None, clock: Clock = system_clock, keyring: Keyring | None = None
) -> Litestar:
    """Build the application. Tests pass their own settings, clock and keyring."""
    settings = settings or Settings.from_env()
    keyring = keyring or load_or_create_keyring(settings.keyring_path)
    tokens = TokenService(keyring, settings.issuer, clock)

    def constant(value: Any) -> Provide:
        return Provide(lambda: value, use_cache=True, sync_to_thread=False)

    middleware: list[Any] = [DefineMiddleware(BearerAuthMiddleware, tokens=tokens, exclude=["^/schema"])]
    if settings.log_requests:
        logging.basicConfig(level=logging.INFO, format="%(message)s")

    config = AppConfig(
        route_handlers=[
            OperationsController,
            AuthController,
            StaffController,
            StoreController,
            ScannerController,
            ProgramController,
            PublicProgramController,
            EnrollmentController,
            MeController,
            StampController,
            ScanController,
            FlagController,
            CardReviewController,
            DeviceController,
            AuditLogController,
            ExportController,
            RedemptionCodeController,
            RedeemController,
            CheckpointController,
            MetricsController,
            MetricSettingsController,
            StoreSalesController,
            static_files(),
            *console_routers(settings, clock),
            to_the_console,
        ],
        dependencies={
            "settings": constant(settings),
            "keyring": constant(keyring),
            "tokens": constant(tokens),
            "clock": constant(clock),
            "actor": Provide(provide_staff),
            "customer": Provide(provide_customer),
        },
        middleware=middleware,
        before_send=[RequestLog(enabled=settings.log_requests), _allow_header, security_headers],
        template_config=template_config(),
        csrf_config=csrf_config(settings),
        cors_config=cors(settings),
        guards=[rate_limit_guard(settings, clock)],
        plugins=[problem_details_plugin()],
        # No route took it: the console's page under /console, problem+json elsewhere.
        exception_handlers={**exception_handlers, NotFoundException: unrouted, MethodNotAllowedException: unrouted},  # type: ignore[dict-item]
        lifespan=[database_pool, periodic_sweep(settings, clock)],
        request_max_body_size=settings.max_body_bytes,
        request_class=ProblemRequest,
        openapi_config=OpenAPIConfig(
            title="PunchGuard",
            version=API_VERSION,
            description="Fraud-resistant digital punch cards: staff, stores, programs and customers.",
            path="/schema",
            components=SECURITY_SCHEMES,
            render_plugins=[api_docs()],
        ),
    )
    app = PunchGuard.from_config(config)
    document(app)
    return app


@get("/", include_in_schema=False, opt={"exclude_from_auth": True}, status_code=303)
async def to_the_console() -> Redirect:
    """A browser pointed at the server lands on the owner's console."""
    return Redirect("/console", status_code=303)


def static_files() -> Router:
    """`api/static/` at /static: the vendored front-end files, whose paths carry their version, so a
    browser may keep each for good. No token needed: they are the same for everyone."""
    router = create_static_files_router(
        path=URL_PREFIX,
        directories=[STATIC],
        opt={"exclude_from_auth": True},
        cache_control=CacheControlHeader(public=True, max_age=365 * 24 * 3600, immutable=True),
    )
    # Out of the schema: the router says so for itself, but `document` (api/openapi.py) reads each
    # handler's own flag, which the router leaves unset.
    for route in router.routes:
        for handler in getattr(route, "route_handlers", ()):
            handler.include_in_schema = False
    return router


def api_docs() -> SwaggerRenderPlugin:
    """Swagger UI at /schema, from our own copy (api/vendor.py): Litestar's default loads it from a
    CDN, which leaves a white page wherever the internet is out of reach."""
    manifest = Manifest.read()

    def asset(name: str) -> str:
        return manifest.find("swagger-ui-dist", name).url

    return SwaggerRenderPlugin(
        js_url=asset("swagger-ui-bundle.js"),
        css_url=asset("swagger-ui.css"),
        standalone_preset_js_url=asset("swagger-ui-standalone-preset.js"),
        favicon=f"<link rel='icon' type='image/png' href='{asset('favicon-32x32.png')}'>",
        path="/swagger",
    )


async def _allow_header(message: Any, scope: Any) -> None:
    """Give an answer to OPTIONS the path's whole Allow list (see `PunchGuard`)."""
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    app, template = scope.get("app"), scope.get("path_template")
    allow = app.allowed_methods(template) if isinstance(app, PunchGuard) and template else None
    if allow is not None and message["status"] == 204:
        MutableScopeHeaders.from_message(message)["allow"] = allow


def cors(settings: Settings) -> CORSConfig | None:
    """CORS for the origins the settings allow (none by default: the apps are not web pages on other sites).

    Staff and customer tokens travel in the Authorization header, never in cookies, so no
    credentials are allowed; the headers a client reads (request id, retry delay, a stamp's
    expiry) are exposed.
    """
    if not settings.cors_origins:
        return None
    return CORSConfig(
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "PATCH", "OPTIONS", "HEAD"],
        allow_headers=["authorization", "content-type", "x-request-id"],
        expose_headers=["x-request-id", "retry-after", "x-stamp-expires-at"],
        allow_credentials=False,
        max_age=600,
    )
