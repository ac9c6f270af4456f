"""Staff sign-in sessions and their refresh tokens (T9, T19).

A sign-in opens one session. Its refresh tokens form a family: only the newest may be traded,
once, and trading it gives the next. A token shown again after it was traded means two
parties hold the family (a thief and the scanner app): the whole session ends, so the thief's
copy and the honest one stop together and the member signs in again. A session lives at
most its first `ttl`, however often it is refreshed. Logging out, disabling the member,
revoking the scanner or closing the store ends sessions for good: re-enabling revives none.
Access tokens name their session, and `cards/staff.py` checks it on every request.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from cards.database import stored_time, stored_uuid, write_transaction
from cards.identity import StaffIdentity
from cards.tables import Scanner, StaffSession

# Kept this long after they end, then swept: long enough to tell who did what from the audit log.
RETENTION = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Session:
    """An open session and the one refresh token id it accepts next."""

    id: UUID
    refresh_jti: str
    expires_at: datetime


class SessionRefused(Exception):
    """The refresh token's session is over, or the token was already traded (its session now is)."""


def _jti() -> str:
    return secrets.token_urlsafe(16)


async def open_session(identity: StaffIdentity, now: datetime, ttl: timedelta) -> Session:
    """Start a session for a member who just proved who they are."""
    session = Session(uuid4(), _jti(), now + ttl)
    await StaffSession.insert(
        StaffSession(
            id=session.id,
            business=identity.business_id,
            staff=identity.staff_id,
            scanner=identity.scanner_id,
            refresh_jti=session.refresh_jti,
            created_at=now,
            expires_at=session.expires_at,
        )
    )
    return session


@dataclass(frozen=True, slots=True)
class Rotated:
    session: Session
    staff_id: UUID
    scanner_id: UUID | None


# One conditional write: of two requests trading the same token, exactly one moves the family on.
_ROTATE_SQL = """
UPDATE staff_session SET refresh_jti = {}, refreshed_at = {}
WHERE id = {} AND staff = {} AND refresh_jti = {} AND ended_at IS NULL AND expires_at > {}
RETURNING staff, scanner, expires_at
"""


async def rotate(session_id: UUID, staff_id: UUID, presented_jti: str, now: datetime) -> Rotated:
    """Trade the family's current refresh token for the next; SessionRefused otherwise.

    A token of the family that is not the current one ends the session (reuse, RFC 9700 §4.14.2)."""
    fresh = _jti()
    rows: list[dict[str, Any]] = await StaffSession.raw(
        _ROTATE_SQL, fresh, now, session_id, staff_id, presented_jti, now
    )
    if rows:
        row = rows[0]
        return Rotated(
            Session(session_id, fresh, stored_time(row["expires_at"])), staff_id, stored_uuid(row["scanner"])
        )
    await end_sessions(StaffSession.id == session_id, now, "refresh token reused")
    raise SessionRefused


# --- console sign-ins -------------------------------------------------------------------
# The owner's console is a web page: its sign-in is the same session row as the API's, held by
# a cookie instead of refresh tokens, so that logging out, disabling the member and the
# session's absolute lifetime end it exactly as they end API tokens. The cookie's token is
# random and stored only as its sha256: whoever reads the database cannot sign in with it.


def console_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_console_session(identity: StaffIdentity, now: datetime, ttl: timedelta) -> tuple[Session, str]:
    """Start a console session for a member who just proved who they are: the session and the
    cookie's token (shown to this browser once, stored only as a hash)."""
    token = secrets.token_urlsafe(32)
    session = Session(uuid4(), _jti(), now + ttl)
    await StaffSession.insert(
        StaffSession(
            id=session.id,
            business=identity.business_id,
            staff=identity.staff_id,
            scanner=None,
            refresh_jti=session.refresh_jti,  # never issued: a console session has no refresh token
            created_at=now,
            expires_at=session.expires_at,
            console_token_hash=console_token_hash(token),
            seen_at=now,
        )
    )
    return session, token


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    id: UUID
    staff_id: UUID


async def console_session(token: str, now: datetime, idle: timedelta) -> ConsoleSession | None:
    """The open console session a cookie's token names, marked as used now; None when there is
    none, it ended or expired, or it lay idle longer than `idle` (which ends it for good)."""
    row = await (
        StaffSession.select(StaffSession.id, StaffSession.staff, StaffSession.seen_at, StaffSession.created_at)
        .where(
            (StaffSession.console_token_hash == console_token_hash(token))
            & StaffSession.ended_at.is_null()
            & (StaffSession.expires_at > now)
        )
        .first()
    )
    if row is None:
        return None
    session_id = stored_uuid(row["id"])
    last = stored_time(row["seen_at"] or row["created_at"])
    if now - last > idle:
        await end_session(session_id, now, "idle")
        return None
    await StaffSession.update({StaffSession.seen_at: now}).where(StaffSession.id == session_id)
    return ConsoleSession(session_id, stored_uuid(row["staff"]))


async def end_sessions(where: Any, now: datetime, reason: str) -> list[UUID]:
    """End every open session matching `where` (a piccolo condition); returns the ids it ended."""
    async with write_transaction():
        rows = await (
            StaffSession.update({StaffSession.ended_at: now, StaffSession.end_reason: reason})
            .where(where & StaffSession.ended_at.is_null())
            .returning(StaffSession.id)
        )
    return [stored_uuid(row["id"]) for row in rows]


async def end_session(session_id: UUID, now: datetime, reason: str) -> bool:
    """End one session (logging out); False if it had already ended."""
    return bool(await end_sessions(StaffSession.id == session_id, now, reason))


async def end_member_sessions(staff_id: UUID, now: datetime, reason: str) -> None:
    await end_sessions(StaffSession.staff == staff_id, now, reason)


async def end_scanner_sessions(scanner_ids: list[UUID], now: datetime, reason: str) -> None:
    if scanner_ids:
        await end_sessions(StaffSession.scanner.is_in(scanner_ids), now, reason)


async def end_store_sessions(store_id: UUID, now: datetime, reason: str) -> None:
    scanners = [stored_uuid(r["id"]) for r in await Scanner.select(Scanner.id).where(Scanner.store == store_id)]
    await end_scanner_sessions(scanners, now, reason)


async def sweep(now: datetime) -> int:
    """Delete sessions that ended or expired more than RETENTION ago; returns how many."""
    cutoff = now - RETENTION
    rows = await (
        StaffSession.delete()
        .where((StaffSession.expires_at < cutoff) | (StaffSession.ended_at < cutoff))
        .returning(StaffSession.id)
    )
    return len(rows)
