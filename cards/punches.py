"""Where a punch is verified and recorded: the scan at the till, refunds, and the card's history.

A scan is one read that gathers everything the checks need, then one transaction: the
INSERT of the punch and the flags the risk rules raise on it, so that no audit sees the
punch without its flags and a failing rule leaves no unflagged punch behind. Unique
indexes make the INSERT safe under any number of workers: the stamp id is unique (single
use, T2), a receipt punches once per store, and a card's chain position is unique, so a
racing writer loses its INSERT, leaves its transaction and re-reads.
"""

import zoneinfo
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple
from uuid import UUID, uuid4

import msgspec

from cards import risk
from cards.audit_log import record_action
from cards.database import is_unique_violation, stored_time, stored_uuid, write_transaction
from cards.errors import DomainError
from cards.flags import settle_flags_of_voided
from cards.identity import StaffIdentity
from cards.ledger import GENESIS_HASH, Entry, seal
from cards.programs import program_open
from cards.standing import Standing, card_standing
from cards.tables import Card, FlagPunch, LedgerEntry, ScanAnswer
from crypto.keyring import Keyring
from mobile_contract import scans as wire
from mobile_contract.problems import Problem
from mobile_contract.stamps import StampError, decode_stamp, verify_stamp_signature

LEEWAY = timedelta(seconds=5)
_MAX_ATTEMPTS = 5

# A punch stands unless a void entry names it.
_STANDS = "NOT EXISTS (SELECT 1 FROM ledger_entry v WHERE v.card = e.card AND v.voids = e.id)"

# A punch counts toward the reward while no free item used it up and no open flag holds it (cards/standing.py).
_UNUSED = "NOT EXISTS (SELECT 1 FROM redeemed_punch r WHERE r.punch = e.id)"
_HELD = "EXISTS (SELECT 1 FROM flag_punch fp JOIN flag f ON f.id = fp.flag WHERE fp.punch = e.id AND f.status = 'open')"

# Only the constants above are interpolated; every value goes in as a {} parameter.
_SCAN_CONTEXT_SQL = f"""
SELECT c.status AS card_status, p.business AS business, p.punches_per_reward AS per_reward,
       p.active AS program_active, p.ends_at AS program_ends_at,
       p.cooldown_s AS cooldown_s, p.daily_cap AS daily_cap, p.excess_policy AS excess_policy, p.risk AS risk,
       cu.email AS customer_email,
       (SELECT s.email FROM staff s WHERE s.id = {{}}) AS staff_email,
       (SELECT d.id FROM device d WHERE d.customer = c.customer AND d.active = {{}}
          AND substr(CAST(d.id AS TEXT), 1, 18) = {{}}
          AND NOT EXISTS (SELECT 1 FROM device_block b WHERE b.device = d.id AND b.business = p.business)) AS device,
       (SELECT e.seq FROM ledger_entry e WHERE e.card = c.id ORDER BY e.seq DESC LIMIT 1) AS last_seq,
       (SELECT e.entry_hash FROM ledger_entry e WHERE e.card = c.id ORDER BY e.seq DESC LIMIT 1) AS last_hash,
       (SELECT e.recorded_at FROM ledger_entry e WHERE e.card = c.id AND e.kind = 'punch' AND {_STANDS}
          ORDER BY e.seq DESC LIMIT 1) AS last_punch_at,
       (SELECT count(*) FROM ledger_entry e WHERE e.card = c.id AND e.kind = 'punch' AND e.recorded_at >= {{}}
          AND {_STANDS}) AS today,
       (SELECT e.id FROM ledger_entry e WHERE e.stamp_id = {{}}) AS stamp_used_by,
       (SELECT count(*) FROM ledger_entry e WHERE e.card = c.id AND e.kind = 'punch' AND {_STANDS} AND {_UNUSED}
          AND NOT {_HELD}) AS balance,
       (SELECT count(*) FROM ledger_entry e WHERE e.card = c.id AND e.kind = 'punch' AND {_STANDS} AND {_UNUSED}
          AND {_HELD}) AS under_review
FROM card c JOIN program p ON p.id = c.program JOIN customer cu ON cu.id = c.customer
WHERE c.id = {{}}
"""  # noqa: S608

# `business` is stored beside the entry, not signed with it (see LedgerEntry).
_INSERT_SQL = """
INSERT INTO ledger_entry (id, card, business, seq, kind, stamp_id, device, store, scanner, staff, receipt, amount_cents,
                          items, voids, stamp_issued_at, consumes, recorded_at, prev_hash, entry_hash, kid, signature)
VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})
"""

_FIRST_ANSWER_SQL = """
SELECT e.id AS id, e.card AS card, e.store AS store, e.receipt AS receipt, e.recorded_at AS recorded_at,
       p.punches_per_reward AS per_reward, a.body AS body
FROM ledger_entry e JOIN card c ON c.id = e.card JOIN program p ON p.id = c.program
     LEFT JOIN scan_answer a ON a.punch = e.id
WHERE e.stamp_id = {}
"""
_ANSWER_SQL = "INSERT INTO scan_answer (punch, body) VALUES ({}, {})"
_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(wire.ScanResult)
del _STANDS, _UNUSED, _HELD


@lru_cache(maxsize=256)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _local_day_start(now: datetime, time_zone: str | None) -> datetime:
    zone = _zone(time_zone or "UTC")
    local = now.astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


async def insert_entry(entry: Entry, entry_id: UUID, keyring: Keyring, *, business_id: UUID) -> None:
    """Seal and insert one ledger entry. Raises a unique violation if `entry.seq` is taken
    (another writer got there first: read the card's head again and retry).

    `business_id` must be the business of the card's program: it is stored beside the entry
    (unsigned) for splitting the ledger by business, and nothing here checks it."""
    await LedgerEntry.raw(_INSERT_SQL, *_row(entry, entry_id, keyring, business_id))


async def card_head(card_id: UUID) -> tuple[int, str]:
    """The card's last (seq, entry_hash), or (0, GENESIS_HASH) for an empty ledger."""
    head = await (
        LedgerEntry.select(LedgerEntry.seq, LedgerEntry.entry_hash)
        .where(LedgerEntry.card == card_id)
        .order_by(LedgerEntry.seq, ascending=False)
        .first()
    )
    return (0, GENESIS_HASH) if head is None else (head["seq"], head["entry_hash"])


def _row(entry: Entry, entry_id: UUID, keyring: Keyring, business_id: UUID) -> tuple[Any, ...]:
    sealed = seal(entry, keyring)
    return (
        entry_id,
        entry.card,
        business_id,
        entry.seq,
        entry.kind,
        entry.stamp_id,
        entry.device,
        entry.store,
        entry.scanner,
        entry.staff,
        entry.receipt,
        entry.amount_cents,
        entry.items,
        entry.voids,
        entry.stamp_issued_at,
        entry.consumes,
        entry.recorded_at,
        entry.prev_hash,
        sealed.entry_hash,
        sealed.kid,
        sealed.signature,
    )


class Scanned(NamedTuple):
    """A scan's answer, and whether it is the first answer given again to a retry."""

    result: wire.ScanResult
    replayed: bool


async def scan(identity: StaffIdentity, request: wire.Scan, now: datetime, keyring: Keyring) -> Scanned:
    """Verify a scanned stamp and append a punch to its card, or refuse with the reason (T1-T3, T5-T8)."""
    if identity.scanner_id is None or identity.store_id is None:
        raise DomainError(Problem.SCANNER_REQUIRED)
    # 1. The stamp itself, before any database work: format, key, signature, time.
    try:
        stamp, signed, signature = decode_stamp(request.stamp)
    except StampError as exc:
        raise DomainError(Problem.STAMP_MALFORMED) from exc
    key = keyring.public_key(stamp.kid)
    try:
        if key is None:
            raise StampError("unknown key")
        verify_stamp_signature(key, signed, signature)
    except StampError as exc:
        raise DomainError(Problem.STAMP_FORGED) from exc
    timestamp = now.timestamp()
    stamp_id = stamp.stamp_id.hex()
    receipt = request.receipt
    if timestamp > stamp.expires_at + LEEWAY.total_seconds() or stamp.issued_at > timestamp + LEEWAY.total_seconds():
        # A till re-sending a scan whose answer it lost gets that first answer, even once the
        # stamp has since expired; anything else with an expired stamp is refused (T2).
        replay = await _first_answer(stamp_id, identity, receipt.reference, keyring, now)
        if replay is not None:
            return replay
        raise DomainError(Problem.STAMP_EXPIRED)

    for _ in range(_MAX_ATTEMPTS):
        # 2. One read: the card, its program, its bound device, its chain head and its counts.
        rows = await LedgerEntry.raw(
            _SCAN_CONTEXT_SQL,
            identity.staff_id,
            True,
            _device_prefix(stamp.device_ref),
            _local_day_start(now, identity.store_time_zone),
            stamp_id,
            stamp.card_id,
        )
        if not rows:
            raise DomainError(Problem.STAMP_FORGED)
        ctx = rows[0]
        if ctx["stamp_used_by"] is not None:
            # A retry of the same scan gets the first answer; any other second use is a replay (T2).
            replay = await _first_answer(stamp_id, identity, receipt.reference, keyring, now)
            if replay is not None:
                return replay
        if ctx["business"] != identity.business_id:
            raise DomainError(Problem.CARD_NOT_VALID_HERE)
        if not program_open(ctx["program_active"], ctx["program_ends_at"], now):
            raise DomainError(Problem.PROGRAM_INACTIVE)
        if ctx["card_status"] == "frozen":
            raise DomainError(Problem.CARD_FROZEN)
        if ctx["card_status"] != "active":
            raise DomainError(Problem.CARD_INACTIVE)
        if ctx["device"] is None:
            raise DomainError(Problem.DEVICE_NOT_BOUND)
        if ctx["customer_email"] and ctx["customer_email"] == ctx["staff_email"]:
            raise DomainError(Problem.OWN_CARD)
        excess = risk.excess(ctx, now, stamp.card_id)
        if excess and ctx["excess_policy"] == "refuse":
            first = excess[0]
            problem = Problem.COOLDOWN if first.rule == "cooldown" else Problem.DAILY_CAP
            raise DomainError(problem, " ".join(found.explanation for found in excess))

        entry_id = uuid4()
        entry = Entry(
            card=stamp.card_id,
            seq=(ctx["last_seq"] or 0) + 1,
            kind="punch",
            recorded_at=now,
            prev_hash=ctx["last_hash"] or GENESIS_HASH,
            stamp_id=stamp_id,
            device=stored_uuid(ctx["device"]),
            store=identity.store_id,
            scanner=identity.scanner_id,
            staff=identity.staff_id,
            receipt=receipt.reference,
            amount_cents=receipt.amount_cents,
            items=receipt.items,
            stamp_issued_at=stamp.issued_at_datetime,
        )
        # 3. One transaction: the signed, chained entry and the flags the risk rules raise on it
        # (never a refusal: the punch stands either way, under review if flagged). On
        # PostgreSQL an error aborts the transaction, so a lost race is handled once it is left.
        try:
            async with write_transaction():
                await insert_entry(entry, entry_id, keyring, business_id=identity.business_id)
                raised: list[UUID | None] = []
                for found in excess:
                    raised.append(
                        await risk.flag_excess(
                            found,
                            business_id=ctx["business"],
                            card_id=stamp.card_id,
                            punch_id=entry_id,
                            store_id=identity.store_id,
                            staff_id=identity.staff_id,
                            scanner_id=identity.scanner_id,
                            now=now,
                        )
                    )
                raised += await risk.assess_punch(
                    punch_id=entry_id,
                    seq=entry.seq,
                    card_id=stamp.card_id,
                    business_id=stored_uuid(ctx["business"]),
                    store_id=identity.store_id,
                    staff_id=identity.staff_id,
                    scanner_id=identity.scanner_id,
                    customer_email=ctx["customer_email"],
                    risk=ctx["risk"],
                    now=now,
                )
                # The common scan (no flag, card still collecting) knows its answer already: kept in
                # the same transaction. A flag may hold other punches of the card, and a card that
                # could earn its reward needs the audit: those are answered after the transaction.
                answer = _collecting_answer(ctx, entry_id, stamp.card_id, now) if not any(raised) else None
                if answer is not None:
                    await _keep_answer(answer)
        except Exception as exc:
            if not is_unique_violation(exc):
                raise
            replay = await _first_answer(stamp_id, identity, receipt.reference, keyring, now)
            if replay is not None:
                return replay
            if await LedgerEntry.exists().where(
                (LedgerEntry.store == identity.store_id) & (LedgerEntry.receipt == receipt.reference)
            ):
                raise DomainError(Problem.RECEIPT_ALREADY_PUNCHED) from exc
            continue  # another punch on this card took the chain position: read again
        if answer is not None:
            return Scanned(answer, replayed=False)
        # 4. Otherwise where the card stands, and the answer kept for a retry: after the transaction,
        # so that the card's audit (once it holds enough punches) never lengthens the one that writes
        # the punch. A retry in the moment between is answered from the card as it stands (see below).
        standing = await card_standing(stamp.card_id, ctx["per_reward"], keyring, now)
        answer = _result(entry_id, stamp.card_id, ctx["per_reward"], standing, now, flagged=any(raised))
        await _keep_answer(answer)
        return Scanned(answer, replayed=False)
    raise DomainError(Problem.UNAVAILABLE, "This card is busy; scan again")


def _collecting_answer(ctx: dict[str, Any], punch_id: UUID, card_id: UUID, now: datetime) -> wire.ScanResult | None:
    """The answer to an unflagged punch from the counts read before it, if the card is still
    collecting afterwards (so that no audit could change the reward's status); else None."""
    balance, under_review = int(ctx["balance"]) + 1, int(ctx["under_review"])
    if balance + under_review >= ctx["per_reward"]:
        return None
    collecting = Standing(balance, under_review, "collecting")
    return _result(punch_id, card_id, ctx["per_reward"], collecting, now, flagged=False)


def _result(
    punch_id: UUID, card_id: UUID, per_reward: int, standing: Standing, recorded_at: datetime, *, flagged: bool
) -> wire.ScanResult:
    """A scan's answer: the punch, and where its card stands."""
    return wire.ScanResult(
        punch_id=punch_id,
        card_id=card_id,
        balance=standing.balance,
        under_review=standing.under_review,
        punches_per_reward=per_reward,
        reward_status=standing.reward_status,
        reward_available=standing.reward_available,
        recorded_at=recorded_at,
        flagged=flagged,
    )


async def _keep_answer(answer: wire.ScanResult) -> None:
    """Keep a scan's answer, for a till that re-sends the scan after losing it."""
    await ScanAnswer.raw(_ANSWER_SQL, answer.punch_id, _ENCODER.encode(answer).decode())


def _device_prefix(ref: bytes) -> str:
    hex_ = ref.hex()
    return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}"


async def _first_answer(
    stamp_id: str, identity: StaffIdentity, receipt: str, keyring: Keyring, now: datetime
) -> Scanned | None:
    """If this stamp already punched, return that scan's very answer for the same receipt and store,
    or refuse a replay (T2)."""
    rows = await LedgerEntry.raw(_FIRST_ANSWER_SQL, stamp_id)
    if not rows:
        return None
    first = rows[0]
    if first["receipt"] != receipt or stored_uuid(first["store"]) != identity.store_id:
        raise DomainError(Problem.STAMP_ALREADY_USED)
    if first["body"] is not None:
        return Scanned(_DECODER.decode(first["body"]), replayed=True)
    # A punch whose answer is not kept (yet: it is written just after the punch's transaction; or
    # from before answers were kept): answer with where its card stands now.
    card_id = stored_uuid(first["card"])
    standing = await card_standing(card_id, first["per_reward"], keyring, now)
    result = _result(
        stored_uuid(first["id"]),
        card_id,
        first["per_reward"],
        standing,
        stored_time(first["recorded_at"]),
        flagged=await FlagPunch.exists().where(FlagPunch.punch == first["id"]),
    )
    return Scanned(result, replayed=True)


async def void_punch(identity: StaffIdentity, request: wire.Void, now: datetime, keyring: Keyring) -> wire.VoidResult:
    """Refund (T8): append a void entry for the receipt's punch, which then no longer counts."""
    store_id = request.store_id or identity.store_id
    if store_id is None:
        raise DomainError(Problem.INVALID_REQUEST, "store_id is required when not signed in at a scanner")
    punch = await (
        LedgerEntry.select(
            LedgerEntry.id,
            LedgerEntry.card,
            LedgerEntry.card._.program._.punches_per_reward.as_alias("per_reward"),
        )
        .where(
            (LedgerEntry.store == store_id)
            & (LedgerEntry.receipt == request.receipt)
            & (LedgerEntry.kind == "punch")
            & (LedgerEntry.card._.program._.business == identity.business_id)
        )
        .first()
    )
    if punch is None:
        raise DomainError(Problem.PUNCH_NOT_FOUND)
    void_id, first_void = await append_void(
        card_id=punch["card"],
        punch_id=punch["id"],
        now=now,
        keyring=keyring,
        store_id=store_id,
        scanner_id=identity.scanner_id,
        staff_id=identity.staff_id,
    )
    settled: list[UUID] = []
    if first_void:  # a repeated refund is the same refund: one flag, one audit row at most
        settled = await settle_flags_of_voided([punch["id"]], now, f"Refunded: receipt {request.receipt}.")
        await record_action(
            actor=identity,
            action="punch.void",
            subject_kind="punch",
            subject_id=punch["id"],
            reason=request.reason,
            now=now,
            details={"receipt": request.receipt, "store_id": str(store_id), "card_id": str(punch["card"])},
        )
        await risk.assess_refund(
            punch_id=punch["id"],
            card_id=punch["card"],
            business_id=identity.business_id,
            store_id=store_id,
            staff_id=identity.staff_id,
            now=now,
        )
    standing = await card_standing(punch["card"], punch["per_reward"], keyring, now)
    return wire.VoidResult(
        void_id=void_id,
        punch_id=punch["id"],
        card_id=punch["card"],
        balance=standing.balance,
        under_review=standing.under_review,
        settled_flag_ids=settled,
    )


async def append_void(
    *,
    card_id: UUID,
    punch_id: UUID,
    now: datetime,
    keyring: Keyring,
    store_id: UUID | None,
    scanner_id: UUID | None = None,
    staff_id: UUID | None = None,
) -> tuple[UUID, bool]:
    """Append a void entry for `punch_id` (which must be a punch on `card_id`); returns its id, and
    whether this call wrote it.

    A punch is voided once (a unique index): voiding it again returns the first void's id and False.
    """
    # The void is written where its punch is: the business it carries is the punch's.
    punch = await (
        LedgerEntry.select(LedgerEntry.business)
        .where((LedgerEntry.id == punch_id) & (LedgerEntry.card == card_id) & (LedgerEntry.kind == "punch"))
        .first()
    )
    if punch is None:
        raise DomainError(Problem.PUNCH_NOT_FOUND)
    for _ in range(_MAX_ATTEMPTS):
        existing = await LedgerEntry.select(LedgerEntry.id).where(LedgerEntry.voids == punch_id).first()
        if existing is not None:
            return UUID(str(existing["id"])), False
        seq, prev_hash = await card_head(card_id)
        entry_id = uuid4()
        entry = Entry(
            card=card_id,
            seq=seq + 1,
            kind="void",
            recorded_at=now,
            prev_hash=prev_hash,
            store=store_id,
            scanner=scanner_id,
            staff=staff_id,
            voids=punch_id,
        )
        try:
            await insert_entry(entry, entry_id, keyring, business_id=stored_uuid(punch["business"]))
        except Exception as exc:
            if not is_unique_violation(exc):
                raise
            continue
        return entry_id, True
    raise DomainError(Problem.UNAVAILABLE, "This card is busy; try again")


async def card_detail(customer_id: UUID, card_id: UUID, keyring: Keyring, now: datetime) -> wire.CardDetail:
    """The customer's card: where it stands (`cards/standing.py`) and its history with store names and times."""
    card = await (
        Card.select(
            Card.id,
            Card.status,
            Card.program,
            Card.program.name.as_alias("program_name"),
            Card.program.reward_name.as_alias("reward_name"),
            Card.program.punches_per_reward.as_alias("per_reward"),
        )
        .where((Card.id == card_id) & (Card.customer == customer_id))
        .first()
    )
    if card is None:
        raise DomainError(Problem.NOT_FOUND, "No such card")
    entries = await (
        LedgerEntry.select(
            LedgerEntry.id,
            LedgerEntry.kind,
            LedgerEntry.recorded_at,
            LedgerEntry.voids,
            LedgerEntry.store.name.as_alias("store_name"),
        )
        .where(LedgerEntry.card == card_id)
        .order_by(LedgerEntry.seq, ascending=False)
    )
    voided = {e["voids"] for e in entries if e["kind"] == "void"}
    punches = [e["id"] for e in entries if e["kind"] == "punch"]
    held = (
        {
            row["punch"]
            for row in await FlagPunch.select(FlagPunch.punch).where(
                FlagPunch.punch.is_in(punches) & (FlagPunch.flag._.status == "open")
            )
        }
        if punches
        else set()
    )
    standing = await card_standing(card_id, card["per_reward"], keyring, now)
    return wire.CardDetail(
        id=card["id"],
        program_id=card["program"],
        program_name=card["program_name"],
        reward_name=card["reward_name"],
        punches_per_reward=card["per_reward"],
        status=card["status"],
        balance=standing.balance,
        under_review=standing.under_review,
        reward_status=standing.reward_status,
        reward_available=standing.reward_available,
        history=[
            wire.HistoryItem(
                kind=e["kind"],
                at=e["recorded_at"],
                store_name=e["store_name"],
                voided=e["id"] in voided,
                under_review=e["id"] in held and e["id"] not in voided,
            )
            for e in entries
        ],
    )
