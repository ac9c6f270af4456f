"""Staff accounts: the first owner, sign-in at a scanner, roles and revocation."""

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from cards.database import write_transaction
from cards.errors import DomainError
from cards.tables import Business, Scanner, SetupCode, Staff, Store
from crypto.passwords import hash_password, verify_password
from mobile_contract import auth as wire_auth
from mobile_contract import stores as wire
from mobile_contract.problems import Problem

MANAGING_ROLES = frozenset({"owner", "manager"})


@dataclass(frozen=True, slots=True)
class StaffIdentity:
    """Who is acting, as read from the database on this request (so revocation is immediate)."""

    staff_id: UUID
    business_id: UUID
    role: str
    store_id: UUID | None
    scanner_id: UUID | None = None
    store_time_zone: str | None = None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _member(row: dict[str, Any]) -> wire.StaffMember:
    return wire.StaffMember(
        id=row["id"],
        business_id=row["business"],
        name=row["name"],
        email=row["email"],
        role=row["role"],
        store_id=row["store"],
        active=row["active"],
        created_at=row["created_at"],
    )


_MEMBER_COLUMNS = (
    Staff.id,
    Staff.business,
    Staff.name,
    Staff.email,
    Staff.role,
    Staff.store,
    Staff.active,
    Staff.created_at,
)

# --- the first owner --------------------------------------------------------------


async def has_staff() -> bool:
    return await Staff.exists().run()


async def new_setup_code() -> str | None:
    """On an empty database, replace any earlier setup code with a fresh one and return it.

    Only a hash is stored: someone who reads the database cannot claim the café.
    """
    if await has_staff():
        return None
    code = "-".join(secrets.token_hex(3).upper() for _ in range(4))
    async with write_transaction():
        await SetupCode.delete(force=True)
        await SetupCode.insert(SetupCode(code_hash=_sha256(code)))
    return code


async def set_up_first_owner(request: wire_auth.OwnerSetup) -> wire.StaffMember:
    """Create the business and its first owner, consuming the one-time setup code."""
    async with write_transaction():
        # Deleting the code is the claim: of two racing requests, one deletes it.
        used = (
            await SetupCode.delete()
            .where(SetupCode.code_hash == _sha256(request.setup_code.upper()))
            .returning(SetupCode.id)
        )
        if not used or await Staff.exists().run():
            raise DomainError(Problem.INVALID_SETUP_CODE)
        business = Business(name=request.business_name)
        await business.save()
        owner = Staff(
            business=business.id,
            name=request.name,
            email=request.email.lower(),
            password_hash=await asyncio.to_thread(hash_password, request.password),
            role="owner",
            store=None,
        )
        await owner.save()
    return await get_member(business.id, owner.id)


# --- sign-in ------------------------------------------------------------------------


async def authenticate(request: wire_auth.Login) -> StaffIdentity:
    """Check e-mail, password and, for a scanner-bound sign-in, the scanner's secret.

    Every failure reads the same (T13): no answer tells a known e-mail from an unknown one.
    """
    row = (
        await Staff.select(Staff.id, Staff.business, Staff.role, Staff.store, Staff.password_hash, Staff.active)
        .where(Staff.email == request.email.lower())
        .first()
    )
    # Argon2 takes ~0.1 s of CPU on purpose; off the event loop, so other requests go on.
    password_ok = await asyncio.to_thread(verify_password, row["password_hash"] if row else None, request.password)
    if row is None or not password_ok or not row["active"]:
        raise DomainError(Problem.INVALID_CREDENTIALS)
    if request.scanner_id is None:
        if row["role"] == "cashier":
            raise DomainError(Problem.SCANNER_REQUIRED)
        return StaffIdentity(row["id"], row["business"], row["role"], None)
    scanner = (
        await Scanner.select(
            Scanner.store,
            Scanner.secret_hash,
            Scanner.active,
            Scanner.store.business.as_alias("business"),
            Scanner.store.time_zone.as_alias("time_zone"),
        )
        .where(Scanner.id == request.scanner_id)
        .first()
    )
    if (
        scanner is None
        or not scanner["active"]
        or scanner["business"] != row["business"]
        or not hmac.compare_digest(_sha256(request.scanner_secret or ""), scanner["secret_hash"])
        or (row["role"] == "cashier" and row["store"] != scanner["store"])
    ):
        raise DomainError(Problem.INVALID_CREDENTIALS)
    return StaffIdentity(
        row["id"], row["business"], row["role"], scanner["store"], request.scanner_id, scanner["time_zone"]
    )


# One round trip per request: the staff member and, for a scanner-bound token, the scanner
# and its store. Built once; the scan path depends on it staying a single query.
_IDENTITY_SQL = """
SELECT s.business AS business, s.role AS role, s.store AS home_store, s.active AS active,
       sc.store AS scanner_store, sc.active AS scanner_active, st.time_zone AS time_zone,
       st.business AS store_business
FROM staff s
LEFT JOIN scanner sc ON sc.id = {}
LEFT JOIN store st ON st.id = sc.store
WHERE s.id = {}
"""


async def current_identity(staff_id: UUID, scanner_id: UUID | None) -> StaffIdentity | None:
    """Re-read a token's staff member (and scanner) so a revocation bites on the next request."""
    rows = await Staff.raw(_IDENTITY_SQL, scanner_id, staff_id)
    if not rows or not rows[0]["active"]:
        return None
    row = rows[0]
    if scanner_id is None:
        if row["role"] == "cashier":
            return None
        return StaffIdentity(staff_id, row["business"], row["role"], None)
    if not row["scanner_active"] or row["store_business"] != row["business"]:
        return None
    if row["role"] == "cashier" and row["home_store"] != row["scanner_store"]:
        return None
    return StaffIdentity(staff_id, row["business"], row["role"], row["scanner_store"], scanner_id, row["time_zone"])


# --- managing staff -----------------------------------------------------------------


def _may_grant(actor: StaffIdentity, role: str) -> bool:
    # Managers run the floor; only owners make managers or other owners.
    return actor.role == "owner" or (actor.role == "manager" and role == "cashier")


async def _check_store(business_id: UUID, store_id: UUID | None, role: str) -> None:
    if role == "cashier" and store_id is None:
        raise DomainError(Problem.STORE_REQUIRED)
    if store_id is not None and not await Store.exists().where(
        (Store.id == store_id) & (Store.business == business_id)
    ):
        raise DomainError(Problem.NOT_FOUND, "No such store")


async def create_member(actor: StaffIdentity, request: wire.StaffCreate) -> wire.StaffMember:
    if not _may_grant(actor, request.role):
        raise DomainError(Problem.FORBIDDEN, f"A {actor.role} cannot create a {request.role}")
    await _check_store(actor.business_id, request.store_id, request.role)
    if await Staff.exists().where(Staff.email == request.email.lower()):
        raise DomainError(Problem.EMAIL_TAKEN)
    member = Staff(
        business=actor.business_id,
        name=request.name,
        email=request.email.lower(),
        password_hash=await asyncio.to_thread(hash_password, request.password),
        role=request.role,
        store=request.store_id,
    )
    await member.save()
    return await get_member(actor.business_id, member.id)


async def get_member(business_id: UUID, staff_id: UUID) -> wire.StaffMember:
    row = await Staff.select(*_MEMBER_COLUMNS).where((Staff.id == staff_id) & (Staff.business == business_id)).first()
    if row is None:
        raise DomainError(Problem.NOT_FOUND, "No such staff member")
    return _member(row)


async def list_members(business_id: UUID) -> list[wire.StaffMember]:
    rows = await Staff.select(*_MEMBER_COLUMNS).where(Staff.business == business_id).order_by(Staff.created_at)
    return [_member(row) for row in rows]


async def update_member(actor: StaffIdentity, staff_id: UUID, request: wire.StaffUpdate) -> wire.StaffMember:
    """Change a member's role, store or name, or disable them (effective on their next request)."""
    current = await get_member(actor.business_id, staff_id)
    if not _may_grant(actor, current.role) or (request.role and not _may_grant(actor, request.role)):
        raise DomainError(Problem.FORBIDDEN, f"A {actor.role} cannot change a {current.role}")
    if staff_id == actor.staff_id and (request.active is False or request.role not in (None, actor.role)):
        raise DomainError(Problem.FORBIDDEN, "You cannot disable or demote yourself")
    role = request.role or current.role
    store_id = request.store_id if request.store_id is not None else current.store_id
    await _check_store(actor.business_id, store_id, role)
    changes: dict[Any, Any] = {Staff.role: role, Staff.store: store_id}
    if request.name is not None:
        changes[Staff.name] = request.name
    if request.active is not None:
        changes[Staff.active] = request.active
    await Staff.update(changes).where(Staff.id == staff_id)
    return await get_member(actor.business_id, staff_id)
