"""The app factory: plugins, middleware, dependencies and controllers assembled in one place."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from piccolo.engine.postgres import PostgresEngine

from api.auth import BearerAuthMiddleware, provide_customer, provide_staff
from api.controllers.auth import AuthController
from api.controllers.checkpoints import CheckpointController
from api.controllers.customers import EnrollmentController, MeController
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
from api.problems import ProblemRequest, exception_handlers, problem_details_plugin
from api.rate_limits import rate_limit_guard
from api.request_log import RequestLogMiddleware
from api.settings import Settings
from cards import sweep
from cards.clock import Clock, system_clock
from cards.database import current_engine
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
    """One connection pool per worker on PostgreSQL; SQLite opens its file per query."""
    engine = current_engine()
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=10, reset=_keep_session)
        try:
            yield
        finally:
            await engine.close_connection_pool()
    else:
        yield


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


def create_app(
    settings: Settings | None = None, clock: Clock = system_clock, keyring: Keyring | None = None
) -> Litestar:
    """Build the application. Tests pass their own settings, clock and keyring."""
    settings = settings or Settings.from_env()
    keyring = keyring or load_or_create_keyring(settings.keyring_path)
    tokens = TokenService(keyring, settings.issuer, clock)

    def constant(value: Any) -> Provide:
        return Provide(lambda: value, use_cache=True, sync_to_thread=False)

    middleware: list[Any] = [
        RequestLogMiddleware(log=settings.log_requests),
        DefineMiddleware(BearerAuthMiddleware, tokens=tokens, exclude=["^/schema"]),
    ]
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
        guards=[rate_limit_guard(settings, clock)],
        plugins=[problem_details_plugin()],
        exception_handlers=exception_handlers,  # type: ignore[arg-type]
        lifespan=[database_pool, periodic_sweep(settings, clock)],
        request_max_body_size=settings.max_body_bytes,
        request_class=ProblemRequest,
        openapi_config=OpenAPIConfig(
            title="PunchGuard",
            version=API_VERSION,
            description="Fraud-resistant digital punch cards: staff, stores, programs and customers.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        ),
    )
    return Litestar.from_config(config)
