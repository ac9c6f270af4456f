"""The database engine, chosen by DATABASE_URL: SQLite in the data folder by default, PostgreSQL in production."""

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload
from urllib.parse import quote, unquote, urlparse
from uuid import UUID

import msgspec
from piccolo.engine import engine_finder
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from cards.sqlite_engine import SQLiteDatabase

# The one folder that holds what a server keeps on disk: the SQLite file, the signing keys
# (api/settings.py) and the checkpoints. Read here because the engine is chosen at import time.
DATA_DIR_ENV = "PUNCHGUARD_DATA_DIR"
SQLITE_FILE = "punchguard.sqlite3"


def data_dir() -> Path:
    """The data folder: PUNCHGUARD_DATA_DIR, or `data` in the working directory."""
    return Path(os.environ.get(DATA_DIR_ENV) or "data")


def database_url() -> str:
    """DATABASE_URL if set, else the SQLite file in the data folder."""
    return os.environ.get("DATABASE_URL") or f"sqlite:///{quote(str(data_dir() / SQLITE_FILE))}"


def describe(url: str) -> str:
    """The database for a log line: the SQLite file, or only the engine (a PostgreSQL URL may hold a password)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        return f"sqlite: {_sqlite_path(parsed.path)}"
    return parsed.scheme


def _sqlite_path(url_path: str) -> Path:
    # sqlite:///relative/path has the path "/relative/path"; sqlite:////abs/path has "//abs/path".
    return Path(unquote(url_path[1:] if url_path.startswith("/") else url_path))


def engine_from_url(url: str) -> Engine:  # type: ignore[type-arg]
    """Build a piccolo engine for `sqlite:///relative/path`, `sqlite:////abs/path` or `postgresql://…`."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = _sqlite_path(parsed.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A generous busy timeout: SQLite serialises writers, and a scan must wait, not fail.
        return SQLiteDatabase(path=str(path), timeout=30)
    if parsed.scheme in ("postgres", "postgresql"):
        # No extensions: ids are made in Python, so the role needs no CREATE EXTENSION right.
        return PostgresEngine(config={"dsn": url}, extensions=())
    raise ValueError(f"DATABASE_URL must be sqlite:/// or postgresql://, not {parsed.scheme!r}")


def current_engine() -> Engine:  # type: ignore[type-arg]
    """The engine piccolo_conf configured; it always exists once `cards` is imported."""
    engine = engine_finder()
    if engine is None:  # pragma: no cover - piccolo_conf always defines DB
        raise RuntimeError("piccolo found no engine: is PICCOLO_CONF set?")
    return engine


def write_transaction() -> Any:
    """A transaction for work that writes. On SQLite it takes the write lock at BEGIN
    (IMMEDIATE): a DEFERRED transaction that reads first and then writes cannot wait for
    the lock and fails with "database is locked" while another writer holds it."""
    engine = current_engine()
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


def is_postgres(engine: Engine) -> bool:  # type: ignore[type-arg]
    return isinstance(engine, PostgresEngine)


def is_unique_violation(exc: BaseException) -> bool:
    """True for a unique-constraint failure on either engine (the signal of a lost race)."""
    import sqlite3

    from asyncpg.exceptions import UniqueViolationError

    return isinstance(exc, UniqueViolationError) or (
        isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc).upper()
    )


# --- Values as the engines hand them back ---------------------------------------------------


@overload
def stored_time(value: datetime | str) -> datetime: ...
@overload
def stored_time(value: None) -> None: ...
def stored_time(value: datetime | str | None) -> datetime | None:
    """A stored time as an aware UTC datetime: SQLite hands back computed columns as text,
    and some times without an offset (they are UTC)."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@overload
def stored_uuid(value: UUID | str) -> UUID: ...
@overload
def stored_uuid(value: None) -> None: ...
def stored_uuid(value: UUID | str | None) -> UUID | None:
    """A stored id as a UUID: raw SELECTs on SQLite hand ids back as text."""
    if value is None or isinstance(value, UUID):
        return value
    return UUID(str(value))


def stored_json(value: Any) -> Any:
    """A JSON column's value decoded: both engines hand JSON back as text unless piccolo is asked to decode it."""
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value
