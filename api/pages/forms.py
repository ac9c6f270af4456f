"""Reading the console's forms: a reason checked by the API's own rule, and where to go back to."""

from typing import Any
from uuid import UUID

import msgspec

from mobile_contract import review as wire

REASON_NEEDED = "Give a reason (up to 500 characters): it is kept in the audit log beside your name."


def reason(form: Any) -> str | None:
    """The form's reason if it is one the API would take (`ReviewReason`), else None."""
    try:
        return msgspec.convert({"reason": str(form.get("reason", ""))}, wire.ReviewReason).reason
    except msgspec.ValidationError:
        return None


def back(form: Any, default: str) -> str:
    """Where a form came from, if it is a console page (never another site: no open redirect)."""
    target = str(form.get("back", ""))
    return target if target.startswith("/console/") and not target.startswith("/console//") else default


def uuid_or_none(text: Any) -> UUID | None:
    try:
        return UUID(str(text)) if text else None
    except ValueError:
        return None
