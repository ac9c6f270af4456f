"""Who is acting: a staff member as read from the database on this request."""

from dataclasses import dataclass
from uuid import UUID

MANAGING_ROLES = frozenset({"owner", "manager"})


@dataclass(frozen=True, slots=True)
class StaffIdentity:
    """Who is acting, as read from the database on this request (so a revocation bites at once).

    `session_id` is the sign-in session the request's token belongs to (see `cards/sessions.py`):
    the audit log records it beside the staff member, so an owner can tell which sign-in did what.
    """

    staff_id: UUID
    business_id: UUID
    role: str
    store_id: UUID | None
    scanner_id: UUID | None = None
    store_time_zone: str | None = None
    session_id: UUID | None = None

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"
