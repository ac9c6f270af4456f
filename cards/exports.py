"""CSV files of flags and punches, for a spreadsheet or the accountant."""

import csv
import io
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from piccolo.custom_types import Combinable

from cards.database import stored_uuid
from cards.flag_review import FlagFilter, list_flags
from cards.flags import card_code
from cards.periods import check_window, utc
from cards.tables import (
    FlagPunch,
    LedgerEntry,
    RedeemedPunch,
)

# An export is one response held in memory; a café's year of punches fits well under this.
MAX_EXPORT_ROWS = 100_000
# Spreadsheets run a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# What may come before a formula without showing: spaces, no-break and zero-width spaces, the BOM.
_BLANKS = (" ", "\u00a0", "\u2007", "\u202f", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u3000", "\n")


@dataclass(frozen=True, slots=True)
class PunchFilter:
    """Which punches to export; `since <= recorded_at < until`."""

    store_id: UUID | None = None
    staff_id: UUID | None = None
    card_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


# --- exports -------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    # Names and receipts are typed by people; a leading apostrophe keeps a spreadsheet from running
    # them, judged on the first visible character (a spreadsheet may trim spaces and invisible marks
    # first) and on its full-width forms.
    first = text.lstrip("".join(_BLANKS))[:1]
    return f"'{text}" if first and unicodedata.normalize("NFKC", first).startswith(_FORMULA_STARTS) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text with a header row; every cell is made safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue()


FLAG_CSV_HEADER = (
    "flag_id",
    "created_at",
    "rule",
    "severity",
    "status",
    "card_code",
    "card_id",
    "store",
    "cashier",
    "scanner_id",
    "punch_ids",
    "explanation",
    "reviewed_by",
    "reviewed_at",
    "review_reason",
)


async def export_flags(business_id: UUID, search: FlagFilter) -> str:
    """The flags matching `search` as CSV, newest first (at most MAX_EXPORT_ROWS)."""
    page = await list_flags(business_id, search, MAX_EXPORT_ROWS)
    return to_csv(
        FLAG_CSV_HEADER,
        (
            (
                f.id,
                f.created_at,
                f.rule,
                f.severity,
                f.status,
                f.card_code,
                f.card_id,
                f.store_name,
                f.staff_name,
                f.scanner_id,
                " ".join(str(p) for p in f.punch_ids),
                f.explanation,
                f.reviewed_by_name,
                f.reviewed_at,
                f.review_reason,
            )
            for f in page.flags
        ),
    )


PUNCH_CSV_HEADER = (
    "punch_id",
    "recorded_at",
    "store",
    "cashier",
    "scanner",
    "card_code",
    "card_id",
    "receipt",
    "amount_cents",
    "items",
    "voided",
    "redeemed",
    "open_flag_rules",
)


async def export_punches(business_id: UUID, search: PunchFilter) -> str:
    """The business's punches matching `search` as CSV, oldest first (at most MAX_EXPORT_ROWS)."""
    since, until = utc(search.since), utc(search.until)
    check_window(since, until)
    of_business: Combinable = LedgerEntry.card._.program._.business == business_id
    if search.card_id is not None:
        of_business &= LedgerEntry.card == search.card_id
    where = of_business & (LedgerEntry.kind == "punch")
    if search.store_id is not None:
        where &= LedgerEntry.store == search.store_id
    if search.staff_id is not None:
        where &= LedgerEntry.staff == search.staff_id
    if since is not None:
        where &= LedgerEntry.recorded_at >= since
    if until is not None:
        where &= LedgerEntry.recorded_at < until
    rows = await (
        LedgerEntry.select(
            LedgerEntry.id,
            LedgerEntry.recorded_at,
            LedgerEntry.store.name.as_alias("store_name"),
            LedgerEntry.staff.name.as_alias("staff_name"),
            LedgerEntry.scanner.name.as_alias("scanner_name"),
            LedgerEntry.card,
            LedgerEntry.receipt,
            LedgerEntry.amount_cents,
            LedgerEntry.items,
        )
        .where(where)
        .order_by(LedgerEntry.recorded_at, LedgerEntry.id)
        .limit(MAX_EXPORT_ROWS)
    )
    voided = {
        stored_uuid(r["voids"])
        for r in await LedgerEntry.select(LedgerEntry.voids).where(of_business & (LedgerEntry.kind == "void"))
        if r["voids"] is not None
    }
    redeemed_where: Combinable = RedeemedPunch.card._.program._.business == business_id
    if search.card_id is not None:
        redeemed_where &= RedeemedPunch.card == search.card_id
    redeemed = {stored_uuid(r["punch"]) for r in await RedeemedPunch.select(RedeemedPunch.punch).where(redeemed_where)}
    open_rules: dict[UUID, set[str]] = defaultdict(set)
    for r in await FlagPunch.select(FlagPunch.punch, FlagPunch.flag._.rule.as_alias("rule")).where(
        (FlagPunch.flag._.business == business_id) & (FlagPunch.flag._.status == "open")
    ):
        open_rules[stored_uuid(r["punch"])].add(r["rule"])
    return to_csv(
        PUNCH_CSV_HEADER,
        (
            (
                r["id"],
                r["recorded_at"],
                r["store_name"],
                r["staff_name"],
                r["scanner_name"],
                card_code(r["card"]),
                r["card"],
                r["receipt"],
                r["amount_cents"],
                r["items"],
                r["id"] in voided,
                r["id"] in redeemed,
                " ".join(sorted(open_rules.get(r["id"], ()))),
            )
            for r in rows
        ),
    )
