"""The suite runs whole against SQLite (default) or PostgreSQL (DATABASE_URL=postgresql://…)."""

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

if not os.environ.get("DATABASE_URL"):
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix='punchguard-test-')}/test.sqlite3"

import httpx
from piccolo.engine.postgres import PostgresEngine

import cards  # noqa: F401  (must follow DATABASE_URL)
from api.app import create_app, database_pool
from api.settings import DEFAULT_RATE_LIMITS, Settings
from cards.database import current_engine
from cards.migrate import migrate
from cards.tables import (
    AuditLog,
    Business,
    Card,
    Challenge,
    Customer,
    Device,
    DeviceBlock,
    Flag,
    FlagPunch,
    LedgerEntry,
    MetricCard,
    MetricCell,
    MetricDirty,
    MetricSettings,
    Program,
    RateLimitCounter,
    RedeemedPunch,
    Redemption,
    Scanner,
    SetupCode,
    Staff,
    StaffSession,
    Store,
    StoreSales,
)
from crypto.keyring import Keyring, load_or_create_keyring
from tests.support import FakeClock, app_client

# Children before parents, so deleting works whether or not the engine enforces foreign keys.
TABLES = [
    MetricCell,
    MetricCard,
    MetricDirty,
    MetricSettings,
    StoreSales,
    AuditLog,
    RateLimitCounter,
    DeviceBlock,
    StaffSession,
    RedeemedPunch,
    Redemption,
    FlagPunch,
    Flag,
    LedgerEntry,
    Card,
    Device,
    Customer,
    Challenge,
    SetupCode,
    Scanner,
    Staff,
    Program,
    Store,
    Business,
]

ENGINE = "postgres" if isinstance(current_engine(), PostgresEngine) else "sqlite"


def pytest_report_header() -> str:
    return f"database engine: {ENGINE} ({os.environ['DATABASE_URL'].split('@')[-1]})"


@pytest.fixture(scope="session", autouse=True)
def migrated_database() -> None:
    asyncio.run(migrate())


@pytest.fixture(autouse=True)
async def clean_database(migrated_database: None) -> None:
    engine = current_engine()
    if isinstance(engine, PostgresEngine):
        names = ", ".join(t._meta.tablename for t in TABLES)
        await engine.run_ddl(f"TRUNCATE {names} CASCADE")
    else:
        for table in TABLES:
            await table.delete(force=True)


@pytest.fixture(scope="session")
def keyring_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys") / "keyring.json"


@pytest.fixture(scope="session")
def keyring(keyring_path: Path) -> Keyring:
    return load_or_create_keyring(keyring_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        keyring_path=tmp_path / "keyring.json",
        rate_limits=dict.fromkeys(DEFAULT_RATE_LIMITS, 1000),
        log_requests=False,
    )


@pytest.fixture
async def client(settings: Settings, clock: FakeClock, keyring: Keyring) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client calling the app in this test's event loop.

    Litestar's httpx.AsyncClient runs the app's lifespan in a portal thread with its own
    loop, where an asyncpg pool would be unusable from the test; so the test starts the
    pool itself, as the app's lifespan does, and calls the app through httpx.
    """
    app = create_app(settings, clock=clock, keyring=keyring)
    async with (
        database_pool(),
        app_client(app) as test_client,
    ):
        yield test_client
