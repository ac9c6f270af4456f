"""Where a free item is given: the bound phone asks for a code, the cashier scans it (T3, T11, T12).

A code is single use, short-lived and bound to the card and the phone that asked for it;
only its SHA-256 is stored. At the till the card is audited (`cards/audit.py`) before the
coffee is poured. Granting is one transaction that a conditional UPDATE and unique
indexes make exactly-once: the redemption leaves `pending` once, the card's next ledger
position is taken once, and a punch is used up by one free item only.
"""

import base64
import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import Any, NamedTuple, NoReturn
from uuid import UUID, uuid4

import msgspec

from cards.audit import Audit, audit_card
from cards.database import is_unique_violation, stored_time, write_transaction
from cards.duties import ONE_CASHIER_RULE
from cards.errors import DomainError
from cards.flags import HELD_RULE, card_code, raise_flag
from cards.identity import StaffIdentity
from cards.ledger import Entry
from cards.punches import insert_entry
from cards.stamps import advance_counter, refuse_counter_regression, verify_device_request
from cards.standing import Standing, card_standing
from cards.tables import Card, Flag, FlagPunch, LedgerEntry, RedeemedPunch, Redemption
from crypto.keyring import Keyring
from mobile_contract import redemptions as wire
from mobile_contract.problems import Problem

LIFETIME = timedelta(seconds=wire.REDEMPTION_CODE_LIFETIME_S)
_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(wire.RedemptionResult)
_CODE = re.compile(wire.REDEMPTION_CODE_PATTERN)
_MAX_ATTEMPTS = 5

# The phone and the card.
_REQUEST_CONTEXT_SQL = """
SELECT d.public_key AS public_key,
       (d.active AND NOT EXISTS (SELECT 1 FROM device_block b WHERE b.device = d.id AND b.business = p.business))
          AS device_active, c.status AS card_status,
       c.customer AS card_customer, p.business AS business, p.reward_name AS reward_name,
       p.punches_per_reward AS per_reward
FROM device d, card c JOIN program p ON p.id = c.program
WHERE d.id = {} AND d.customer = {} AND c.id = {}
"""


def _new_code() -> tuple[str, str]:
    """A fresh code and its SHA-256: 'R1' and 128 random bits in base32 (QR alphanumeric mode)."""
    code = "R1" + base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=")
    return code, _code_hash(code)


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def request_code(
    *,
    customer_id: UUID,
    device_id: UUID,
    card_id: UUID,
    request: wire.RedemptionRequest,
    now: datetime,
    keyring: Keyring,
) -> wire.RedemptionCode:
    """A redemption code for the card, if the bound device proves itself with a rising counter.

    The counter is the device's stamp counter: a repeated or lower one freezes the card
    (T3). Resending the same request (a retry after a timeout) answers a fresh code for
    the same pending redemption, and the earlier code stops working. A card without
    enough punches (counting or under review) is refused before the counter is used, so that
    retrying that refusal is never mistaken for a clone; a reward pending review gets its code,
    which says so, and the till holds it. A new request supersedes the card's pending code,
    which stops working: a card has one code at a time.
    """
    rows = await Redemption.raw(_REQUEST_CONTEXT_SQL, device_id, customer_id, card_id)
    if not rows or rows[0]["card_customer"] != customer_id:
        raise DomainError(Problem.NOT_FOUND, "No such card")
    row = rows[0]
    verify_device_request(row, request.signature, wire.redemption_request_message(card_id, request.counter))
    standing = await card_standing(card_id, row["per_reward"], keyring, now)
    if standing.reward_status == "collecting":
        raise DomainError(Problem.NOT_ENOUGH_PUNCHES, _short_of(standing, row["per_reward"], row["reward_name"]))

    code, code_hash = _new_code()
    expires_at = now + LIFETIME
    redemption_id: UUID | None
    # One transaction: a concurrent request with the same counter waits for this one, then
    # finds its redemption and is answered as a retry rather than taken for a clone.
    async with write_transaction():
        current = await advance_counter(device_id, request.counter)
        if current is None:
            redemption_id = uuid4()
            # A new request supersedes the card's pending code: at most one waits per card (T21).
            await Redemption.delete().where((Redemption.card == card_id) & (Redemption.status == "pending"))
            await Redemption.insert(
                Redemption(
                    id=redemption_id,
                    card=card_id,
                    device=device_id,
                    code_hash=code_hash,
                    counter=request.counter,
                    status="pending",
                    requested_at=now,
                    expires_at=expires_at,
                )
            )
        else:
            redemption_id = await _retry(device_id, card_id, request.counter, current.counter, now, code_hash)
    if redemption_id is None:
        assert current is not None
        await refuse_counter_regression(
            business_id=row["business"],
            card_id=card_id,
            device_id=device_id,
            counter=request.counter,
            now=now,
            asked_for="a free item",
        )
    return wire.RedemptionCode(
        code=code,
        redemption_id=redemption_id,
        card_id=card_id,
        reward_name=row["reward_name"],
        reward_status=standing.reward_status,
        expires_at=expires_at,
    )


def _short_of(standing: Standing, per_reward: int, reward_name: str) -> str:
    waiting = f", and {standing.under_review} more wait for the café's review" if standing.under_review else ""
    return f"This card holds {standing.balance} of the {per_reward} punches needed for {reward_name}{waiting}."


async def _retry(
    device_id: UUID, card_id: UUID, counter: int, current: int, now: datetime, code_hash: str
) -> UUID | None:
    """If this counter already asked for a code for this card, still unused and in time, give that
    redemption the new code (the old one stops working) and return its id; else None (a clone)."""
    if current != counter:
        return None
    pending = await (
        Redemption.select(Redemption.id, Redemption.requested_at)
        .where(
            (Redemption.device == device_id)
            & (Redemption.card == card_id)
            & (Redemption.counter == counter)
            & (Redemption.status == "pending")
        )
        .first()
    )
    # A retry follows its request within seconds; a request resent after its code's whole
    # lifetime is someone replaying it, not a phone that missed the answer.
    if pending is None or now > stored_time(pending["requested_at"]) + LIFETIME:
        return None
    redemption_id: UUID = pending["id"]
    await Redemption.update({Redemption.code_hash: code_hash, Redemption.expires_at: now + LIFETIME}).where(
        Redemption.id == redemption_id
    )
    return redemption_id


class Redeemed(NamedTuple):
    """A redemption's answer, and whether it is the first answer given again to a retry."""

    result: wire.RedemptionResult
    replayed: bool


async def redeem(identity: StaffIdentity, request: wire.Redeem, now: datetime, keyring: Keyring) -> Redeemed:
    """Give the free item for a scanned code, once, after the card's audit passes; else refuse or hold it.

    A retry of the same code by the same cashier at the same scanner gets the first answer
    (`replayed`, so that the till can tell it from a grant of its own).
    A held reward answers REWARD_HELD with its reasons and leaves a flag for the owner.
    """
    if identity.scanner_id is None or identity.store_id is None:
        raise DomainError(Problem.SCANNER_REQUIRED)
    code = request.code.strip().upper()
    if not _CODE.fullmatch(code):
        raise DomainError(Problem.REDEMPTION_CODE_INVALID)
    redemption = await _redemption(code_hash=_code_hash(code))
    # Another business's code reads exactly like an unknown one: no oracle for ids (T13).
    if redemption is None or redemption["business"] != identity.business_id:
        raise DomainError(Problem.REDEMPTION_CODE_INVALID)
    if redemption["status"] != "pending":
        return Redeemed(await _answer_again(redemption, identity, keyring, now), replayed=True)
    if now > stored_time(redemption["expires_at"]):
        raise DomainError(Problem.REDEMPTION_CODE_EXPIRED)
    if redemption["card_status"] == "frozen":
        raise DomainError(Problem.CARD_FROZEN)
    if redemption["card_status"] != "active":
        raise DomainError(Problem.CARD_INACTIVE)

    redemption_id: UUID = redemption["id"]
    card_id: UUID = redemption["card"]
    for _ in range(_MAX_ATTEMPTS):
        audit = await audit_card(card_id, keyring, now, device_id=redemption["device"])
        if audit.reasons:
            # _hold answers only when another scan of this code decided it first (else it refuses).
            return Redeemed(await _hold(redemption_id, audit, identity, now, keyring), replayed=True)
        if not audit.passed:
            latest = await _decided(redemption_id)
            if latest["status"] == "granted":  # another till granted this very code a moment ago
                return Redeemed(await _answer_again(latest, identity, keyring, now), replayed=True)
            standing = await card_standing(card_id, audit.punches_per_reward, keyring, now)
            raise DomainError(
                Problem.NOT_ENOUGH_PUNCHES, _short_of(standing, audit.punches_per_reward, audit.reward_name)
            )
        try:
            await _grant(redemption_id, redemption["device"], audit, identity, now, keyring)
        except _Taken:
            return Redeemed(await _answer_again(await _decided(redemption_id), identity, keyring, now), replayed=True)
        except _Stale:
            continue  # the card changed since its audit (a flag, a freeze): audit again
        except Exception as exc:
            if not is_unique_violation(exc):
                raise
            # Another till may have granted this very code meanwhile: then it is used, not short of punches.
            latest = await _decided(redemption_id)
            if latest["status"] != "pending":
                return Redeemed(await _answer_again(latest, identity, keyring, now), replayed=True)
            continue  # another free item or punch took the card's next position: audit again
        answer = await _granted(await _decided(redemption_id), keyring, now)
        await Redemption.update({Redemption.answer: _ENCODER.encode(answer).decode()}).where(
            (Redemption.id == redemption_id) & Redemption.answer.is_null()
        )
        return Redeemed(answer, replayed=False)
    raise DomainError(Problem.UNAVAILABLE, "This card is busy; scan the code again")


class _Taken(Exception):
    """Another till decided this redemption first."""


class _Stale(Exception):
    """The card changed between its audit and the grant: audit it again."""


# An open flag that holds this card's reward as a whole (it names no punch); the audit
# passed, so it saw none: any found at the grant is new.
_CARD_FLAG_SQL = """
SELECT 1 AS found FROM flag f
WHERE f.card = {} AND f.status = 'open' AND NOT EXISTS (SELECT 1 FROM flag_punch fp WHERE fp.flag = f.id)
LIMIT 1
"""


async def _redemption(*, code_hash: str | None = None, redemption_id: UUID | None = None) -> dict[str, Any] | None:
    query = Redemption.select(
        Redemption.id,
        Redemption.card,
        Redemption.device,
        Redemption.status,
        Redemption.expires_at,
        Redemption.scanner,
        Redemption.staff,
        Redemption.decided_at,
        Redemption.reasons,
        Redemption.entry,
        Redemption.answer,
        Redemption.card._.status.as_alias("card_status"),
        Redemption.card._.program._.business.as_alias("business"),
        Redemption.card._.program._.reward_name.as_alias("reward_name"),
    ).output(load_json=True)
    if code_hash is not None:
        query = query.where(Redemption.code_hash == code_hash)
    else:
        query = query.where(Redemption.id == redemption_id)
    row: dict[str, Any] | None = await query.first()
    return row


async def _decided(redemption_id: UUID) -> dict[str, Any]:
    row = await _redemption(redemption_id=redemption_id)
    assert row is not None, "a redemption is never deleted"
    return row


async def _grant(
    redemption_id: UUID, device_id: UUID, audit: Audit, identity: StaffIdentity, now: datetime, keyring: Keyring
) -> None:
    """One transaction: the redemption leaves `pending`, the redeem entry takes the card's next
    position, and each punch used is recorded once. Raises _Taken or a unique violation on a lost race,
    and _Stale when, since the audit, the card stopped being active or a flag put it or one of the
    punches chosen under review (the transaction is left without granting)."""
    entry_id = uuid4()
    entry = Entry(
        card=audit.card_id,
        seq=audit.head_seq + 1,
        kind="redeem",
        recorded_at=now,
        prev_hash=audit.head_hash,
        device=device_id,
        store=identity.store_id,
        scanner=identity.scanner_id,
        staff=identity.staff_id,
        consumes=",".join(sorted(str(punch) for punch in audit.punches)),
    )
    async with write_transaction():
        await _still_as_audited(audit)
        taken = (
            await Redemption.update(
                {
                    Redemption.status: "granted",
                    Redemption.store: identity.store_id,
                    Redemption.scanner: identity.scanner_id,
                    Redemption.staff: identity.staff_id,
                    Redemption.decided_at: now,
                    Redemption.entry: entry_id,
                }
            )
            .where((Redemption.id == redemption_id) & (Redemption.status == "pending"))
            .returning(Redemption.id)
        )
        if not taken:
            raise _Taken
        await insert_entry(entry, entry_id, keyring, business_id=audit.business_id)
        await RedeemedPunch.insert(
            *(RedeemedPunch(redemption=redemption_id, card=audit.card_id, punch=punch) for punch in audit.punches)
        )


async def _still_as_audited(audit: Audit) -> None:
    """Raise _Stale unless the card is still active and no open flag holds it or the punches chosen."""
    if not await Card.exists().where((Card.id == audit.card_id) & (Card.status == "active")):
        raise _Stale
    if audit.punches and await FlagPunch.exists().where(
        FlagPunch.punch.is_in(audit.punches) & (FlagPunch.flag._.status == "open")
    ):
        raise _Stale
    if await Flag.raw(_CARD_FLAG_SQL, audit.card_id):
        raise _Stale


async def _hold(
    redemption_id: UUID, audit: Audit, identity: StaffIdentity, now: datetime, keyring: Keyring
) -> wire.RedemptionResult:
    """Hold the reward for the owner: the redemption keeps its reasons and the card gets a flag.

    Refuses with REWARD_HELD; if another till decided the redemption first, answers as for a
    code already decided (the first answer, a grant included, for the till that decided it)."""
    async with write_transaction():
        taken = (
            await Redemption.update(
                {
                    Redemption.status: "held",
                    Redemption.store: identity.store_id,
                    Redemption.scanner: identity.scanner_id,
                    Redemption.staff: identity.staff_id,
                    Redemption.decided_at: now,
                    Redemption.reasons: audit.reasons,
                }
            )
            .where((Redemption.id == redemption_id) & (Redemption.status == "pending"))
            .returning(Redemption.id)
        )
        if taken:
            await _flag_held(redemption_id, audit, identity, now)
    if not taken:
        return await _answer_again(await _decided(redemption_id), identity, keyring, now)
    _refuse_held(redemption_id, audit.reward_name, audit.card_id, audit.reasons)


async def _flag_held(redemption_id: UUID, audit: Audit, identity: StaffIdentity, now: datetime) -> None:
    """One open `reward_held` flag per card (and one `ledger_tampered` when the chain is broken):
    a customer trying again must not flood the owner's review queue."""
    open_rules = {
        row["rule"]
        for row in await Flag.select(Flag.rule).where((Flag.card == audit.card_id) & (Flag.status == "open"))
    }
    code = card_code(audit.card_id)
    if audit.ledger_problems and "ledger_tampered" not in open_rules:
        await raise_flag(
            business_id=audit.business_id,
            card_id=audit.card_id,
            store_id=identity.store_id,
            rule="ledger_tampered",
            severity="high",
            now=now,
            explanation=(
                f"Card {code}'s ledger does not match what the server signed: someone may have edited the "
                "database to add or change punches. " + " ".join(audit.ledger_problems)
            ),
            evidence={"redemption_id": str(redemption_id), "problems": audit.ledger_problems},
        )
    if audit.one_cashier is not None and ONE_CASHIER_RULE not in open_rules:
        # Names the cashier's punches: they wait for the owner, who approves them (they count) or
        # rejects them (they are voided). The cashier cannot decide it (cards/duties.py).
        await raise_flag(
            business_id=audit.business_id,
            card_id=audit.card_id,
            store_id=identity.store_id,
            staff_id=audit.one_cashier.staff_id,
            rule=ONE_CASHIER_RULE,
            severity="high",
            now=now,
            explanation=f"Card {code}: {audit.one_cashier.explanation}",
            evidence={"redemption_id": str(redemption_id), "chance": audit.one_cashier.chance},
            punch_ids=audit.one_cashier.punches,
        )
    if HELD_RULE not in open_rules:
        await raise_flag(
            business_id=audit.business_id,
            card_id=audit.card_id,
            store_id=identity.store_id,
            rule=HELD_RULE,
            severity="medium",
            now=now,
            explanation=f"{audit.reward_name} for card {code} was held at the till: " + " ".join(audit.reasons),
            # The candidates are evidence only: they are not put under review by this flag.
            evidence={
                "redemption_id": str(redemption_id),
                "reasons": audit.reasons,
                "candidate_punch_ids": [str(punch) for punch in audit.candidates],
            },
        )


def _refuse_held(redemption_id: UUID, reward_name: str, card_id: UUID, reasons: list[str]) -> NoReturn:
    """REWARD_HELD: one line for the till in `detail`, the reasons for the owner in `reasons`."""
    count = f"{len(reasons)} reason" if len(reasons) == 1 else f"{len(reasons)} reasons"
    raise DomainError(
        Problem.REWARD_HELD,
        f"{reward_name} for card {card_code(card_id)} is pending the owner's review ({count}): no free item now.",
        extra={"redemption_id": str(redemption_id), "reward_status": "pending_review", "reasons": reasons},
    )


async def _answer_again(
    redemption: dict[str, Any], identity: StaffIdentity, keyring: Keyring, now: datetime
) -> wire.RedemptionResult:
    """The answer for a code already decided: the first answer again for the till that decided
    it (a retry after a timeout), a refusal for anyone else (T12)."""
    same_till = redemption["scanner"] == identity.scanner_id and redemption["staff"] == identity.staff_id
    if not same_till or redemption["status"] == "pending":
        raise DomainError(Problem.REDEMPTION_CODE_USED)
    if redemption["status"] == "held":
        _refuse_held(redemption["id"], redemption["reward_name"], redemption["card"], list(redemption["reasons"] or []))
    if redemption["answer"] is not None:
        return _DECODER.decode(redemption["answer"])
    return await _granted(redemption, keyring, now)


async def _granted(redemption: dict[str, Any], keyring: Keyring, now: datetime) -> wire.RedemptionResult:
    """A granted redemption's answer: the punches it used, and where the card stands now (kept as
    the redemption's `answer` once given, so that a retry reads the same)."""
    card_id: UUID = redemption["card"]
    redeemed = RedeemedPunch.select(RedeemedPunch.punch).where(RedeemedPunch.redemption == redemption["id"])
    used = [
        row["id"]
        for row in await LedgerEntry.select(LedgerEntry.id)
        .where(LedgerEntry.id.is_in([row["punch"] for row in await redeemed] or [redemption["id"]]))
        .order_by(LedgerEntry.seq)
    ]
    per_reward = (
        await Card.select(Card.program._.punches_per_reward.as_alias("per_reward")).where(Card.id == card_id).first()
    )
    assert per_reward is not None, "a card is never deleted"
    standing = await card_standing(card_id, per_reward["per_reward"], keyring, now)
    return wire.RedemptionResult(
        redemption_id=redemption["id"],
        card_id=card_id,
        granted=True,
        reward_name=redemption["reward_name"],
        message=f"{redemption['reward_name']} for card {card_code(card_id)}: granted",
        punches_used=used,
        balance=standing.balance,
        under_review=standing.under_review,
        decided_at=stored_time(redemption["decided_at"]),
    )
