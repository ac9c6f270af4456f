"""The append-only audit log: who did what to which subject, when, from which session, and why.

Every change of power or rules writes one row here, in the same transaction as the change it
records (T16). A database trigger refuses UPDATE (and DELETE on PostgreSQL).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from piccolo.custom_types import Combinable

from cards.database import stored_json, stored_uuid
from cards.identity import StaffIdentity
from cards.periods import check_window, utc
from cards.tables import AuditLog
from mobile_contract import review as wire

SubjectKind = Literal["flag", "card", "device", "staff", "scanner", "store", "program", "business", "punch", "keyring"]
# What the audit log says for an action taken by one of the server's commands (no staff session).
COMMAND_LINE = "command line"


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which audit entries to list; `since <= at < until`."""

    action: str | None = None
    subject_id: UUID | None = None
    actor_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


async def record_action(
    *,
    actor: StaffIdentity | None,
    action: str,
    subject_kind: SubjectKind,
    subject_id: UUID,
    reason: str | None,
    now: datetime,
    details: dict[str, Any] | None = None,
    business_id: UUID | None = None,
) -> None:
    """Append one row to the audit log: `actor` and their session, or the command line when None
    (then `business_id` says whose log it goes to). Call it inside the transaction that makes
    the change, so that a change is never without its row, nor a row without its change."""
    business = actor.business_id if actor is not None else business_id
    if business is None:
        raise ValueError("an action by the command line names its business")
    await AuditLog.insert(
        AuditLog(
            business=business,
            actor=actor.staff_id if actor is not None else None,
            session=str(actor.session_id) if actor is not None and actor.session_id else COMMAND_LINE,
            action=action,
            subject_kind=subject_kind,
            subject_id=subject_id,
            reason=reason,
            details=details or {},
            at=now,
        )
    )


AUDIT_COLUMNS = (
    AuditLog.id,
    AuditLog.action,
    AuditLog.actor,
    AuditLog.actor.name.as_alias("actor_name"),
    AuditLog.subject_kind,
    AuditLog.subject_id,
    AuditLog.reason,
    AuditLog.details,
    AuditLog.at,
    AuditLog.session,
)


def audit_entry(row: dict[str, Any]) -> wire.AuditEntry:
    details = stored_json(row["details"])
    return wire.AuditEntry(
        id=row["id"],
        action=row["action"],
        actor_id=row["actor"],
        actor_name=row["actor_name"],
        subject_kind=row["subject_kind"],
        subject_id=stored_uuid(row["subject_id"]),
        reason=row["reason"],
        details=details if isinstance(details, dict) else {"value": details},
        at=row["at"],
        session=row["session"],
    )


async def list_audit(business_id: UUID, search: AuditFilter, limit: int, offset: int = 0) -> wire.AuditPage:
    """The business's audit log, newest first."""
    since, until = utc(search.since), utc(search.until)
    check_window(since, until)
    where: Combinable = AuditLog.business == business_id
    if search.action is not None:
        where &= AuditLog.action == search.action
    if search.subject_id is not None:
        where &= AuditLog.subject_id == search.subject_id
    if search.actor_id is not None:
        where &= AuditLog.actor == search.actor_id
    if since is not None:
        where &= AuditLog.at >= since
    if until is not None:
        where &= AuditLog.at < until
    rows = await (
        AuditLog.select(*AUDIT_COLUMNS)
        .where(where)
        .order_by(AuditLog.at, AuditLog.id, ascending=False)
        .limit(limit + 1)
        .offset(offset)
    )
    return wire.AuditPage(
        entries=[audit_entry(row) for row in rows[:limit]],
        next_offset=offset + limit if len(rows) > limit else None,
    )


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The audit details of an edit: each field that changed, before -> after (JSON values)."""
    changed = [key for key in after if before.get(key) != after[key]]
    return {"before": {key: before.get(key) for key in changed}, "after": {key: after[key] for key in changed}}
