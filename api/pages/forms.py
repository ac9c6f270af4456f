"""Reading the console's forms: a reason checked by the API's own rule, and where to go back to."""

from datetime import UTC, date, datetime, time, timedelta
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


# The days a filter takes: any café's history, and the day after each is still a date (9999-12-31
# is not: "through that day" would overflow).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


def day_start(text: str | None) -> datetime | None:
    """A year-month-day typed in a filter, as that day's start in UTC; None when it is not one the
    console can use (not a date, or outside FIRST_DAY..LAST_DAY)."""
    try:
        day = date.fromisoformat(text) if text and len(text) == 10 else None
    except ValueError:
        return None
    return datetime.combine(day, time(), UTC) if day and FIRST_DAY <= day <= LAST_DAY else None


def not_a_day(text: str, then: str = "it was left out") -> str:
    return f"“{text}” is not a date (year-month-day, from {FIRST_DAY.year} to {LAST_DAY.year}); {then}."


def period(since_text: str, until_text: str) -> tuple[datetime | None, datetime | None, list[str]]:
    """A filter's period from its two typed days: `since <= t < until`, through the whole of the
    last day; what was not understood is left out and said, and two days in the wrong order are
    swapped (and said)."""
    problems = []
    since, through = day_start(since_text), day_start(until_text)
    for text, moment in ((since_text, since), (until_text, through)):
        if text and moment is None:
            problems.append(not_a_day(text))
    if since and through and since > through:
        problems.append("The period started after it ended; the two dates were swapped.")
        since, through = through, since
    return since, through + timedelta(days=1) if through else None, problems
