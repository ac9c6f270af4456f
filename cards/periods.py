"""A period as the owner's filters give it: `since <= t < until`, in UTC."""

from datetime import UTC, datetime

from cards.errors import DomainError
from mobile_contract.problems import Problem


def utc(moment: datetime | None) -> datetime | None:
    """A filter time in UTC; a time without an offset is taken as UTC. Refuses times that
    cannot be expressed in UTC (year 1 east of Greenwich) instead of failing later."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise DomainError(Problem.INVALID_REQUEST, "The time is out of range") from exc


def check_window(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since > until:
        raise DomainError(Problem.INVALID_REQUEST, "`since` must not be after `until`")
