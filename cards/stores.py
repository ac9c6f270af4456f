"""Stores, with time zone, coordinates and opening hours, and their registered scanners.

Every store edit and every scanner registered or revoked is in the audit log (T16).
"""

import hashlib
import secrets
import zoneinfo
from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID

import msgspec

from cards import sessions
from cards.audit_log import changes, record_action
from cards.database import write_transaction
from cards.errors import DomainError
from cards.identity import StaffIdentity
from cards.tables import Scanner, Store
from mobile_contract import stores as wire
from mobile_contract.problems import Problem

_STORE_COLUMNS = (
    Store.id,
    Store.name,
    Store.time_zone,
    Store.latitude,
    Store.longitude,
    Store.opening_hours,
    Store.active,
    Store.created_at,
)
_SCANNER_COLUMNS = (Scanner.id, Scanner.store, Scanner.name, Scanner.active, Scanner.created_at)


@cache
def _time_zones() -> frozenset[str]:
    # The list, not ZoneInfo(name): that also opens tzdata folders ("America") and oddities ("posixrules").
    return frozenset(zoneinfo.available_timezones())


def _check_time_zone(name: str) -> None:
    if name not in _time_zones():
        raise DomainError(Problem.INVALID_TIME_ZONE, f"Unknown time zone {name!r}")


def _store(row: dict[str, Any]) -> wire.Store:
    hours = row["opening_hours"]
    return wire.Store(
        id=row["id"],
        name=row["name"],
        time_zone=row["time_zone"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        opening_hours=msgspec.json.decode(hours, type=list[wire.OpeningPeriod])
        if isinstance(hours, str | bytes)
        else msgspec.convert(hours, list[wire.OpeningPeriod]),
        active=row["active"],
        created_at=row["created_at"],
    )


def _scanner(row: dict[str, Any]) -> wire.Scanner:
    return wire.Scanner(
        id=row["id"], store_id=row["store"], name=row["name"], active=row["active"], created_at=row["created_at"]
    )


def _audit_view(store: wire.Store) -> dict[str, Any]:
    """A store as the audit log records it (JSON values), without what never changes."""
    return {k: v for k, v in msgspec.to_builtins(store).items() if k not in ("id", "created_at")}


async def create_store(actor: StaffIdentity, request: wire.StoreCreate, now: datetime) -> wire.Store:
    _check_time_zone(request.time_zone)
    store = Store(
        business=actor.business_id,
        name=request.name,
        time_zone=request.time_zone,
        latitude=request.latitude,
        longitude=request.longitude,
        opening_hours=msgspec.json.encode(request.opening_hours).decode(),
    )
    async with write_transaction():
        await store.save()
        created = await get_store(actor.business_id, store.id)
        await record_action(
            actor=actor,
            action="store.create",
            subject_kind="store",
            subject_id=store.id,
            reason=None,
            now=now,
            details=changes({}, _audit_view(created))["after"],
        )
    return created


async def get_store(business_id: UUID, store_id: UUID) -> wire.Store:
    """A store of this business; another business's store reads as missing, not as forbidden."""
    row = await Store.select(*_STORE_COLUMNS).where((Store.id == store_id) & (Store.business == business_id)).first()
    if row is None:
        raise DomainError(Problem.NOT_FOUND, "No such store")
    return _store(row)


async def list_stores(business_id: UUID) -> list[wire.Store]:
    rows = await Store.select(*_STORE_COLUMNS).where(Store.business == business_id).order_by(Store.created_at)
    return [_store(row) for row in rows]


async def update_store(actor: StaffIdentity, store_id: UUID, request: wire.StoreUpdate, now: datetime) -> wire.Store:
    """Edit a store, logged as `store.update` with before -> after.

    `active: false` closes the store: its tills' sessions end, its cashiers cannot sign in at
    them, and scans and free items there are refused (STORE_INACTIVE). Refunds of its punches
    still go through, so a customer can be refunded after a store closes.
    """
    before = await get_store(actor.business_id, store_id)
    update: dict[Any, Any] = {}
    if request.time_zone is not None:
        _check_time_zone(request.time_zone)
        update[Store.time_zone] = request.time_zone
    for column, value in (
        (Store.name, request.name),
        (Store.latitude, request.latitude),
        (Store.longitude, request.longitude),
        (Store.active, request.active),
    ):
        if value is not None:
            update[column] = value
    if request.opening_hours is not None:
        update[Store.opening_hours] = msgspec.json.encode(request.opening_hours).decode()
    if not update:
        return before
    async with write_transaction():
        await Store.update(update).where(Store.id == store_id)
        after = await get_store(actor.business_id, store_id)
        diff = changes(_audit_view(before), _audit_view(after))
        if diff["after"]:
            await record_action(
                actor=actor,
                action="store.update",
                subject_kind="store",
                subject_id=store_id,
                reason=None,
                now=now,
                details=diff,
            )
    if before.active and not after.active:
        await sessions.end_store_sessions(store_id, now, "store closed")
    return after


async def register_scanner(
    actor: StaffIdentity, store_id: UUID, request: wire.ScannerCreate, now: datetime, scanner_id: UUID | None = None
) -> wire.ScannerRegistered:
    """Register a scanning device; its secret is returned once and only its hash is kept.

    `scanner_id`, when the caller chose one (the console's form carries one, so that sending the
    form again registers nothing more), is refused with SCANNER_REGISTERED if this store has it
    already; one used anywhere else is not taken (nothing is told about it)."""
    store = await get_store(actor.business_id, store_id)
    if not store.active:
        raise DomainError(Problem.STORE_INACTIVE, "This store is closed: reopen it before registering a scanner")
    if scanner_id is not None and await Scanner.exists().where(Scanner.id == scanner_id):
        if await Scanner.exists().where((Scanner.id == scanner_id) & (Scanner.store == store_id)):
            raise DomainError(
                Problem.SCANNER_REGISTERED,
                "This scanner is registered already: its secret was shown once, when it was registered. "
                "To pair another till, register a new scanner; to stop a lost one, revoke it.",
            )
        scanner_id = None
    secret = secrets.token_urlsafe(32)
    scanner = Scanner(store=store_id, name=request.name, secret_hash=hashlib.sha256(secret.encode()).hexdigest())
    if scanner_id is not None:
        scanner.id = scanner_id
    async with write_transaction():
        await scanner.save()
        await record_action(
            actor=actor,
            action="scanner.register",
            subject_kind="scanner",
            subject_id=scanner.id,
            reason=None,
            now=now,
            details={"store_id": str(store_id), "name": request.name},
        )
    return wire.ScannerRegistered(scanner=await get_scanner(actor.business_id, scanner.id), scanner_secret=secret)


async def get_scanner(business_id: UUID, scanner_id: UUID) -> wire.Scanner:
    row = (
        await Scanner.select(*_SCANNER_COLUMNS)
        .where((Scanner.id == scanner_id) & (Scanner.store.business == business_id))
        .first()
    )
    if row is None:
        raise DomainError(Problem.NOT_FOUND, "No such scanner")
    return _scanner(row)


async def list_scanners(business_id: UUID, store_id: UUID) -> list[wire.Scanner]:
    await get_store(business_id, store_id)
    rows = await Scanner.select(*_SCANNER_COLUMNS).where(Scanner.store == store_id).order_by(Scanner.created_at)
    return [_scanner(row) for row in rows]


async def business_scanners(business_id: UUID) -> list[wire.Scanner]:
    """Every scanner of the business's stores, in one query (the filters that list them all)."""
    rows = (
        await Scanner.select(*_SCANNER_COLUMNS)
        .where(Scanner.store._.business == business_id)
        .order_by(Scanner.created_at)
    )
    return [_scanner(row) for row in rows]


async def revoke_scanner(actor: StaffIdentity, scanner_id: UUID, reason: str | None, now: datetime) -> wire.Scanner:
    """Revoke a lost or stolen scanner: its sessions end at once (T9); logged the first time."""
    await get_scanner(actor.business_id, scanner_id)  # another business's scanner reads as missing
    async with write_transaction():
        revoked = (
            await Scanner.update({Scanner.active: False})
            .where((Scanner.id == scanner_id) & Scanner.active.eq(True))
            .returning(Scanner.id)
        )
        if revoked:
            await record_action(
                actor=actor,
                action="scanner.revoke",
                subject_kind="scanner",
                subject_id=scanner_id,
                reason=reason,
                now=now,
            )
    scanner = await get_scanner(actor.business_id, scanner_id)
    await sessions.end_scanner_sessions([scanner_id], now, "scanner revoked")
    return scanner
