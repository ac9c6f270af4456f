"""How often a bucket (a route group and a client address, or an account) was hit: one counter for
every worker and process of the server, in the database (T13, T18).

Hand-written because Litestar's rate-limit middleware keeps its history in a store it reads,
changes and writes back, which two processes interleave: each worker counted alone, so two
workers admitted twice the limit. Here a hit is one atomic upsert that both engines serialise
on the bucket's row, so a limit of N admits exactly N, whatever the number of processes.

A window opens at a bucket's first hit and lasts `window`; the first hit after it opens the
next. Buckets whose window ended are swept as new windows open, so the table stays as small
as the number of clients seen in the last window.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cards.database import stored_time
from cards.tables import RateLimitCounter

# SQLite (3.35+) and PostgreSQL both take this upsert; `excluded` is the row that was refused.
_HIT_SQL = """
INSERT INTO rate_limit_counter (bucket, window_start, hits) VALUES ({}, {}, 1)
ON CONFLICT (bucket) DO UPDATE SET
    hits = CASE WHEN rate_limit_counter.window_start > {} THEN rate_limit_counter.hits + 1 ELSE 1 END,
    window_start = CASE WHEN rate_limit_counter.window_start > {}
                        THEN rate_limit_counter.window_start ELSE excluded.window_start END
RETURNING hits, window_start
"""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    hits: int
    retry_after_s: int


async def hit(bucket: str, limit: int, window: timedelta, now: datetime) -> Decision:
    """Count one request in `bucket`; allowed while the window holds at most `limit` of them."""
    opened_before = now - window
    rows: list[dict[str, Any]] = await RateLimitCounter.raw(_HIT_SQL, bucket, now, opened_before, opened_before)
    hits, window_start = int(rows[0]["hits"]), stored_time(rows[0]["window_start"])
    if hits == 1:
        await sweep(now, window)
    # Another process may have opened the window a moment "after" this request's now: never more than a window.
    left = math.ceil((window_start + window - now).total_seconds())
    retry = max(1, min(left, math.ceil(window.total_seconds())))
    return Decision(allowed=hits <= limit, hits=hits, retry_after_s=retry)


async def sweep(now: datetime, window: timedelta) -> int:
    """Forget buckets whose window ended; returns how many."""
    rows = (
        await RateLimitCounter.delete()
        .where(RateLimitCounter.window_start <= now - window)
        .returning(RateLimitCounter.bucket)
    )
    return len(rows)
