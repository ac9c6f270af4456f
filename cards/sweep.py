"""What the server deletes once it is of no more use, so that no table a client can grow grows
without end (T21). Each server process runs `sweep` every few minutes (api/app.py); it is
idempotent, so several processes or a cron job (`python -m api sweep`) may run it at once.

- challenges: when they expire (also as new ones are made);
- redemption codes never scanned: 10 minutes after they expire (until then the till is told
  "expired" rather than "invalid"); a card has at most one pending code, since a new request
  supersedes the old;
- rate-limit counters: once their window ended (also as new windows open);
- staff sessions: 30 days after they ended or expired;
- setup codes: once their lifetime is over (cards/staff.py);
- the metrics' marks of cards whose ledger changed: consumed by bringing the rollup up to date
  (cards/metric_refresh.py), which a read of the metrics also does.
"""

from datetime import datetime, timedelta

from cards import metric_refresh, rate_limits, sessions, staff
from cards.tables import Challenge, Redemption

PENDING_CODE_GRACE = timedelta(minutes=10)
RATE_LIMIT_WINDOW = timedelta(minutes=1)


async def expired_challenges(now: datetime) -> int:
    return len(await Challenge.delete().where(Challenge.expires_at < now).returning(Challenge.id))


async def expired_codes(now: datetime) -> int:
    rows = await (
        Redemption.delete()
        .where((Redemption.status == "pending") & (Redemption.expires_at < now - PENDING_CODE_GRACE))
        .returning(Redemption.id)
    )
    return len(rows)


async def sweep(now: datetime) -> dict[str, int]:
    """Delete what has expired everywhere; returns how many rows of each kind went."""
    return {
        "challenges": await expired_challenges(now),
        "redemption_codes": await expired_codes(now),
        "rate_limit_counters": await rate_limits.sweep(now, RATE_LIMIT_WINDOW),
        "staff_sessions": await sessions.sweep(now),
        "setup_codes": await staff.sweep_setup_codes(now),
        "metric_cards_refreshed": await metric_refresh.refresh_marked(),
    }
