"""Staff accounts: the first owner, sign-in at a scanner, roles and revocation.

Who may change whose power: owners make owners and managers; managers hire and manage
cashiers. Every change (hiring, role or store changes, disabling, re-enabling) is in the
audit log with before -> after, in the transaction that makes it (T16). Disabling a member
ends their sessions: re-enabling them later revives no token issued before (T19).
"""

import asyncio
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from cards import sessions
from cards.audit_log import changes, record_action
from cards.database import is_unique_violation, stored_uuid, write_transaction
from cards.errors import DomainError
from cards.identity import StaffIdentity
from cards.tables import Business, Scanner, SetupCode, Staff, Store
from crypto.passwords import hash_password, verify_password
from mobile_contract import auth as wire_auth
from mobile_contract import stores as wire
from mobile_contract.problems import Problem


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

# --- a business and its first owner ----------------------------------------------------
# A setup code is what the person at the server's console hands to a new business's first
# owner: made by the command line only, shown once, stored as a hash, good once and for
# SETUP_CODE_LIFETIME. `new_setup_code` is for the very first business (an empty database,
# and each new one replaces the last); `new_business_code` adds a business next to others.

SETUP_CODE_LIFETIME = timedelta(hours=24)


def _fresh_code() -> str:
    return "-".join(secrets.token_hex(3).upper() for _ in range(4))


async def has_staff() -> bool:
    return await Staff.exists().run()


async def new_setup_code() -> str | None:
    """On an empty database, replace any earlier setup code with a fresh one and return it.

    None once anyone has an account: further businesses come from `new_business_code`.
    Only a hash is stored: someone who reads the database cannot claim the café.
    """
    code = _fresh_code()
    async with write_transaction():
        # Checked inside the transaction, so that a code made as the first owner signs up does not
        # outlive the empty database it was meant for (exact on SQLite, whose write lock this holds;
        # on PostgreSQL a narrow race remains, and such a code still expires with SETUP_CODE_LIFETIME).
        if await has_staff():
            return None
        await SetupCode.delete(force=True)
        await SetupCode.insert(SetupCode(code_hash=_sha256(code)))
    return code


async def new_business_code() -> str:
    """A one-time code for one more business and its first owner, whatever the database holds.

    Earlier codes stay valid until used or expired: two businesses may be on their way at once.
    """
    code = _fresh_code()
    await SetupCode.insert(SetupCode(code_hash=_sha256(code)))
    return code


async def set_up_first_owner(request: wire_auth.OwnerSetup, now: datetime) -> wire.StaffMember:
    """Create a business and its first owner, consuming the one-time setup code.

    The owner sees their business only (every query is scoped by business), however many
    other businesses the server holds.
    """
    password_hash = await asyncio.to_thread(hash_password, request.password)
    async with write_transaction():
        # Deleting the code is the claim: of two racing requests, one deletes it.
        used = (
            await SetupCode.delete()
            .where(
                (SetupCode.code_hash == _sha256(request.setup_code.upper()))
                & (SetupCode.created_at > now - SETUP_CODE_LIFETIME)
            )
            .returning(SetupCode.id)
        )
        if not used:
            raise DomainError(Problem.INVALID_SETUP_CODE)
        business = Business(name=request.business_name)
        await business.save()
        owner = Staff(
            business=business.id,
            name=request.name,
            email=request.email.lower(),
            password_hash=password_hash,
            role="owner",
            store=None,
        )
        await owner.save()
        await record_action(
            actor=StaffIdentity(owner.id, business.id, "owner", None),
            action="business.set_up",
            subject_kind="business",
            subject_id=business.id,
            reason=None,
            now=now,
            details={"business_name": request.business_name, "owner_email": request.email.lower()},
        )
    return await get_member(business.id, owner.id)


async def sweep_setup_codes(now: datetime) -> int:
    """Delete the setup codes nobody used in time; returns how many."""
    rows = await SetupCode.delete().where(SetupCode.created_at <= now - SETUP_CODE_LIFETIME).returning(SetupCode.id)
    return len(rows)


# --- sign-in ------------------------------------------------------------------------


async def _password_matches(rows: list[dict[str, Any]], password: str) -> list[dict[str, Any]]:
    """The rows whose password this is. Argon2 takes ~0.1 s of CPU on purpose, off the event loop;
    the rows are checked side by side, and an unknown e-mail costs one check like a known one (T13)."""
    if not rows:
        await asyncio.to_thread(verify_password, None, password)
        return []
    verdicts = await asyncio.gather(*(asyncio.to_thread(verify_password, r["password_hash"], password) for r in rows))
    return [row for row, ok in zip(rows, verdicts, strict=True) if ok]


async def authenticate(request: wire_auth.Login) -> StaffIdentity:
    """Check e-mail, password and, for a scanner-bound sign-in, the scanner's secret and store.

    Every failure reads the same (T13): a wrong password, an unknown e-mail, a disabled member,
    a cashier without a scanner, a wrong or revoked scanner and a closed store all answer
    INVALID_CREDENTIALS, so no answer tells a right password from a wrong one. One e-mail may
    be staff at several businesses (T20); the password (or the scanner, or `business_id`)
    tells which account signs in, and a person whose one password opens several accounts
    is asked which business (BUSINESS_REQUIRED: they proved they hold every one of them).
    """
    rows = await Staff.select(
        Staff.id,
        Staff.business,
        Staff.business.name.as_alias("business_name"),
        Staff.role,
        Staff.store,
        Staff.password_hash,
        Staff.active,
    ).where(Staff.email == request.email.lower())
    matching = [row for row in await _password_matches(rows, request.password) if row["active"]]
    scanner = None
    if request.scanner_id is not None:
        scanner = await (
            Scanner.select(
                Scanner.store,
                Scanner.secret_hash,
                Scanner.active,
                Scanner.store.business.as_alias("business"),
                Scanner.store.time_zone.as_alias("time_zone"),
                Scanner.store.active.as_alias("store_active"),
            )
            .where(Scanner.id == request.scanner_id)
            .first()
        )
        usable = (
            scanner is not None
            and scanner["active"]
            and scanner["store_active"]
            and hmac.compare_digest(_sha256(request.scanner_secret or ""), scanner["secret_hash"])
        )
        matching = [
            row
            for row in matching
            if usable
            and scanner is not None
            and row["business"] == scanner["business"]
            and (row["role"] != "cashier" or row["store"] == scanner["store"])
        ]
    else:
        matching = [row for row in matching if row["role"] != "cashier"]
    if request.business_id is not None:
        matching = [row for row in matching if row["business"] == request.business_id]
    if not matching:
        raise DomainError(Problem.INVALID_CREDENTIALS)
    if len(matching) > 1:
        raise DomainError(
            Problem.BUSINESS_REQUIRED,
            "This e-mail and password open accounts at several businesses; say which with business_id.",
            extra={"businesses": [{"id": str(row["business"]), "name": row["business_name"]} for row in matching]},
        )
    row = matching[0]
    if scanner is None:
        return StaffIdentity(row["id"], row["business"], row["role"], None)
    return StaffIdentity(
        row["id"], row["business"], row["role"], scanner["store"], request.scanner_id, scanner["time_zone"]
    )


# One round trip per request: the staff member, their session and, for a scanner-bound token,
# the scanner and its store. Built once; the scan path depends on it staying a single query.
_IDENTITY_SQL = """
SELECT s.business AS business, s.role AS role, s.store AS home_store, s.active AS active,
       sc.store AS scanner_store, sc.active AS scanner_active, st.time_zone AS time_zone,
       st.business AS store_business, st.active AS store_active,
       ss.staff AS session_staff, ss.scanner AS session_scanner, ss.ended_at AS session_ended
FROM staff s
LEFT JOIN scanner sc ON sc.id = {}
LEFT JOIN store st ON st.id = sc.store
LEFT JOIN staff_session ss ON ss.id = {}
WHERE s.id = {}
"""


async def current_identity(staff_id: UUID, scanner_id: UUID | None, session_id: UUID) -> StaffIdentity | None:
    """Re-read a token's staff member, session (and scanner) so a revocation bites on the next request.

    None when the token no longer stands (member disabled, session ended, scanner revoked);
    STORE_INACTIVE when the scanner's store was closed, so the till can say why.
    """
    rows = await Staff.raw(_IDENTITY_SQL, scanner_id, session_id, staff_id)
    if not rows or not rows[0]["active"]:
        return None
    row = rows[0]
    if stored_uuid(row["session_staff"]) != staff_id or stored_uuid(row["session_scanner"]) != scanner_id:
        return None
    if scanner_id is not None and row["store_business"] == row["business"] and not row["store_active"]:
        raise DomainError(Problem.STORE_INACTIVE)
    if row["session_ended"] is not None:
        return None
    if scanner_id is None:
        if row["role"] == "cashier":
            return None
        return StaffIdentity(staff_id, row["business"], row["role"], None, session_id=session_id)
    if not row["scanner_active"] or row["store_business"] != row["business"]:
        return None
    if row["role"] == "cashier" and row["home_store"] != row["scanner_store"]:
        return None
    return StaffIdentity(
        staff_id, row["business"], row["role"], row["scanner_store"], scanner_id, row["time_zone"], session_id
    )


# --- managing staff -----------------------------------------------------------------


def _may_grant(actor: StaffIdentity, role: str) -> bool:
    # Managers run the floor; only owners make managers or other owners.
    return actor.role == "owner" or (actor.role == "manager" and role == "cashier")


async def _check_store(business_id: UUID, store_id: UUID | None, role: str) -> None:
    if role == "cashier" and store_id is None:
        raise DomainError(Problem.STORE_REQUIRED)
    if store_id is None:
        return
    store = await Store.select(Store.active).where((Store.id == store_id) & (Store.business == business_id)).first()
    if store is None:
        raise DomainError(Problem.NOT_FOUND, "No such store")
    if not store["active"]:
        raise DomainError(Problem.STORE_INACTIVE, "This store is closed: reopen it before assigning staff to it")


def _audit_view(member: wire.StaffMember) -> dict[str, Any]:
    return {"name": member.name, "role": member.role, "store_id": _text(member.store_id), "active": member.active}


def _article(role: str) -> str:
    """'an owner', 'a manager', 'a cashier'."""
    return f"an {role}" if role[:1] in "aeiou" else f"a {role}"


def _text(value: UUID | None) -> str | None:
    return None if value is None else str(value)


async def create_member(actor: StaffIdentity, request: wire.StaffCreate, now: datetime) -> wire.StaffMember:
    """Hire a member. An e-mail already used by this business's staff is EMAIL_TAKEN; one used at
    another business is no concern of this one's (T20)."""
    if not _may_grant(actor, request.role):
        raise DomainError(
            Problem.FORBIDDEN, f"{_article(actor.role).capitalize()} cannot hire {_article(request.role)}"
        )
    await _check_store(actor.business_id, request.store_id, request.role)
    email = request.email.lower()
    taken = DomainError(Problem.EMAIL_TAKEN)
    if await Staff.exists().where((Staff.email == email) & (Staff.business == actor.business_id)):
        raise taken
    password_hash = await asyncio.to_thread(hash_password, request.password)
    member = Staff(
        business=actor.business_id,
        name=request.name,
        email=email,
        password_hash=password_hash,
        role=request.role,
        store=request.store_id,
    )
    try:
        async with write_transaction():
            await member.save()
            await record_action(
                actor=actor,
                action="staff.hire",
                subject_kind="staff",
                subject_id=member.id,
                reason=None,
                now=now,
                details={"email": email, **_audit_view(await get_member(actor.business_id, member.id))},
            )
    except Exception as exc:
        if is_unique_violation(exc):  # a racing hire of the same e-mail in this business
            raise taken from exc
        raise
    return await get_member(actor.business_id, member.id)


async def get_member(business_id: UUID, staff_id: UUID) -> wire.StaffMember:
    row = await Staff.select(*_MEMBER_COLUMNS).where((Staff.id == staff_id) & (Staff.business == business_id)).first()
    if row is None:
        raise DomainError(Problem.NOT_FOUND, "No such staff member")
    return _member(row)


async def list_members(business_id: UUID) -> list[wire.StaffMember]:
    rows = await Staff.select(*_MEMBER_COLUMNS).where(Staff.business == business_id).order_by(Staff.created_at)
    return [_member(row) for row in rows]


async def update_member(
    actor: StaffIdentity, staff_id: UUID, request: wire.StaffUpdate, now: datetime
) -> wire.StaffMember:
    """Change a member's role, store or name, or disable them (effective on their next request).

    Logged as `staff.update` with before -> after (and `staff.disable` / `staff.enable` when it
    switches them). Disabling ends the member's sessions; re-enabling opens none.
    """
    current = await get_member(actor.business_id, staff_id)
    if not _may_grant(actor, current.role) or (request.role and not _may_grant(actor, request.role)):
        who = current.role if not _may_grant(actor, current.role) else request.role
        raise DomainError(
            Problem.FORBIDDEN,
            f"{_article(actor.role).capitalize()} cannot make anyone {_article(str(who))}"
            if who != current.role
            else f"{_article(actor.role).capitalize()} cannot change {_article(current.role)}'s account",
        )
    if staff_id == actor.staff_id and (request.active is False or request.role not in (None, actor.role)):
        raise DomainError(Problem.FORBIDDEN, "You cannot disable or demote yourself")
    role = request.role or current.role
    store_id = request.store_id if request.store_id is not None else current.store_id
    if store_id != current.store_id or role != current.role:
        await _check_store(actor.business_id, store_id, role)
    update: dict[Any, Any] = {Staff.role: role, Staff.store: store_id}
    if request.name is not None:
        update[Staff.name] = request.name
    if request.active is not None:
        update[Staff.active] = request.active
    async with write_transaction():
        await Staff.update(update).where(Staff.id == staff_id)
        member = await get_member(actor.business_id, staff_id)
        diff = changes(_audit_view(current), _audit_view(member))
        if diff["after"]:
            action = "staff.update"
            if member.active != current.active:
                action = "staff.enable" if member.active else "staff.disable"
            await record_action(
                actor=actor,
                action=action,
                subject_kind="staff",
                subject_id=staff_id,
                reason=request.reason,
                now=now,
                details=diff,
            )
    if current.active and not member.active:
        await sessions.end_member_sessions(staff_id, now, "staff member disabled")
    elif member.role != current.role:
        # A sign-in carries what its role allowed then: a new role signs in afresh.
        await sessions.end_member_sessions(staff_id, now, "role changed")
    return member
