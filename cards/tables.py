"""The tables. Ids are random UUIDv4s so that none can be guessed from another (T13)."""

from piccolo.columns import (
    JSON,
    UUID,
    BigInt,
    Boolean,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Business(Table):
    """A café business: its owner's stores, staff and programs belong to it."""

    id = UUID(primary_key=True)
    name = Varchar(length=120)
    created_at = Timestamptz(default=TimestamptzNow())


class Store(Table):
    id = UUID(primary_key=True)
    business = ForeignKey(references=Business, null=False)
    name = Varchar(length=120)
    time_zone = Varchar(length=64)
    latitude = DoublePrecision()
    longitude = DoublePrecision()
    opening_hours = JSON(default=[])
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Staff(Table):
    id = UUID(primary_key=True)
    business = ForeignKey(references=Business, null=False)
    name = Varchar(length=120)
    # Unique per business (a migration's index), not across businesses: a business creating a
    # staff member must learn nothing about another business's staff (T20). Sign-in tells
    # accounts with one e-mail apart by their passwords (see cards/staff.py).
    email = Varchar(length=254, index=True)
    password_hash = Text()
    role = Varchar(length=16)
    store = ForeignKey(references=Store, null=True)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Scanner(Table):
    """A store's registered scanning device; cashiers sign in at one with its secret."""

    id = UUID(primary_key=True)
    store = ForeignKey(references=Store, null=False)
    name = Varchar(length=120)
    secret_hash = Varchar(length=64)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Program(Table):
    id = UUID(primary_key=True)
    business = ForeignKey(references=Business, null=False)
    name = Varchar(length=120)
    reward_name = Varchar(length=120)
    # What one free item costs the café, in cents (the console's "what the guard is worth"); None: not said.
    reward_value_cents = Integer(null=True, default=None)
    punches_per_reward = Integer(default=10)
    stamp_lifetime_s = Integer(default=30)
    cooldown_s = Integer(default=60)
    daily_cap = Integer(default=3)
    excess_policy = Varchar(length=8, default="flag")
    # The risk rules' thresholds (mobile_contract.programs.RiskThresholds); a missing key means its default.
    risk = JSON(default={})
    active = Boolean(default=True)
    # After this moment the program behaves as inactive (see cards/programs.py); None: no end.
    ends_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class Customer(Table):
    """Only what is needed: every contact field is optional."""

    id = UUID(primary_key=True)
    display_name = Varchar(length=120, null=True, default=None)
    email = Varchar(length=254, null=True, default=None, index=True)
    phone = Varchar(length=16, null=True, default=None, index=True)
    birthday = Date(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class Device(Table):
    """A customer's bound phone: its public key and the last counter it used."""

    id = UUID(primary_key=True)
    customer = ForeignKey(references=Customer, null=False, index=True)
    thumbprint = Varchar(length=43, unique=True)
    algorithm = Varchar(length=8)
    public_key = JSON()
    counter = BigInt(default=0)
    # The stamp answered to the last counter, so a retried request gets the same stamp back.
    last_stamp = Varchar(length=173, null=True, default=None)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Card(Table):
    """A customer's card in one program; a migration makes (customer, program) unique."""

    id = UUID(primary_key=True)
    customer = ForeignKey(references=Customer, null=False, index=True)
    program = ForeignKey(references=Program, null=False)
    status = Varchar(length=8, default="active")
    created_at = Timestamptz(default=TimestamptzNow())


class Challenge(Table):
    """A single-use nonce a phone signs to prove it holds its key; consumed by deleting it."""

    id = UUID(primary_key=True)
    nonce = Varchar(length=43, unique=True)
    expires_at = Timestamptz()


class SetupCode(Table):
    """The one-time code that lets the first owner set their account; deleted when used."""

    id = UUID(primary_key=True)
    code_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())


class LedgerEntry(Table):
    """One entry in a card's append-only ledger: a punch, or the void of one.

    Each entry is signed by a server key kept outside the database and chained to the
    card's previous entry by hash (T10). Unique indexes (see the migrations) make a
    stamp single-use, a receipt punch once per store, and the chain linear per card.

    `business` is the business of the card's program, written with every entry so that the
    ledger can be split by business (docs/scaling.md). It is not signed (`cards.ledger.Entry`
    leaves it out, so entries written before it keep their signatures) and no rule trusts it
    over the card: whose an entry is, is still decided by its card.
    """

    id = UUID(primary_key=True)
    card = ForeignKey(references=Card, null=False)
    # Added by hand with a backfill (migration 2026-12-03T12:00:00), not by piccolo's auto
    # migrations, which therefore offer to add it again: leave that out of a generated migration.
    business = ForeignKey(references=Business, null=False)
    seq = Integer()
    kind = Varchar(length=8)
    stamp_id = Varchar(length=16, null=True, default=None, unique=True)
    device = ForeignKey(references=Device, null=True)
    store = ForeignKey(references=Store, null=True)
    scanner = ForeignKey(references=Scanner, null=True)
    staff = ForeignKey(references=Staff, null=True)
    receipt = Varchar(length=64, null=True, default=None)
    amount_cents = Integer(null=True, default=None)
    items = Integer(null=True, default=None)
    voids = UUID(null=True, default=None)
    stamp_issued_at = Timestamptz(null=True, default=None)
    # A redemption's entry names the punches it used up (sorted ids, comma-separated), so the
    # signature covers which punches earned each free item.
    consumes = Text(null=True, default=None)
    recorded_at = Timestamptz()
    prev_hash = Varchar(length=64)
    entry_hash = Varchar(length=64)
    kid = Varchar(length=8)
    signature = Varchar(length=86)


class Flag(Table):
    """A suspicion with its evidence, waiting for an owner's review.

    While a flag is open, the punches it names (see FlagPunch) do not count toward a
    reward; approving it makes them count again, rejecting it voids them.
    """

    id = UUID(primary_key=True)
    business = ForeignKey(references=Business, null=False)
    card = ForeignKey(references=Card, null=True)
    store = ForeignKey(references=Store, null=True)
    staff = ForeignKey(references=Staff, null=True)
    scanner = ForeignKey(references=Scanner, null=True)
    rule = Varchar(length=32)
    severity = Varchar(length=8)
    status = Varchar(length=10, default="open")
    explanation = Text()
    evidence = JSON(default=[])
    created_at = Timestamptz()
    reviewed_by = ForeignKey(references=Staff, null=True)
    reviewed_at = Timestamptz(null=True, default=None)
    review_reason = Text(null=True, default=None)


class FlagPunch(Table):
    """A punch named as evidence by a flag: while the flag is open, the punch is under review."""

    id = UUID(primary_key=True)
    flag = ForeignKey(references=Flag, null=False, index=True)
    punch = UUID(index=True)


class Redemption(Table):
    """A redemption code the bound device asked for, and what became of it at the till.

    Only the code's SHA-256 is stored. Status: `pending` until scanned, then `granted`
    (a free item: its ledger entry is `entry`) or `held` for the owner with `reasons`.
    """

    id = UUID(primary_key=True)
    card = ForeignKey(references=Card, null=False, index=True)
    device = ForeignKey(references=Device, null=False)
    code_hash = Varchar(length=64, unique=True)
    counter = BigInt()
    status = Varchar(length=8, default="pending")
    requested_at = Timestamptz()
    expires_at = Timestamptz()
    store = ForeignKey(references=Store, null=True)
    scanner = ForeignKey(references=Scanner, null=True)
    staff = ForeignKey(references=Staff, null=True)
    decided_at = Timestamptz(null=True, default=None)
    reasons = JSON(default=[])
    entry = UUID(null=True, default=None)
    # The first answer given at the till, as sent (JSON): a retry by that till gets it again.
    answer = Text(null=True, default=None)


class ScanAnswer(Table):
    """The answer a scan got, as sent (JSON), so that a till retrying the scan gets that very
    answer again rather than one recomputed later. One per punch; `punch` is its ledger entry."""

    punch = UUID(primary_key=True)
    body = Text()


class RedeemedPunch(Table):
    """A punch used up by a free item. `punch` is unique: no punch earns two free items (T11)."""

    id = UUID(primary_key=True)
    redemption = ForeignKey(references=Redemption, null=False)
    card = ForeignKey(references=Card, null=False, index=True)
    punch = UUID(unique=True)


class AuditLog(Table):
    """Append-only: who did what to which card, flag, device, staff member or scanner, when and why."""

    id = UUID(primary_key=True)
    business = ForeignKey(references=Business, null=False)
    actor = ForeignKey(references=Staff, null=True)
    action = Varchar(length=32)
    subject_kind = Varchar(length=16)
    subject_id = UUID()
    reason = Text(null=True, default=None)
    details = JSON(default={})
    at = Timestamptz()
    # The sign-in session that acted (a StaffSession id), or "command line" for the server's commands.
    session = Varchar(length=64, null=True, default=None)


class StaffSession(Table):
    """One sign-in: the family of its refresh tokens (T19).

    Only the refresh token whose id is `refresh_jti` may be traded, once; trading it gives
    the next one. A token of the family shown again after it was traded is a stolen copy
    (or its thief's retry): the whole family ends. A session lives at most until
    `expires_at`, however often it is refreshed; logging out, disabling the staff member,
    revoking the scanner or closing the store ends it, and nothing revives it.
    """

    id = UUID(primary_key=True)
    business = ForeignKey(references=Business, null=False)
    staff = ForeignKey(references=Staff, null=False, index=True)
    scanner = ForeignKey(references=Scanner, null=True)
    refresh_jti = Varchar(length=32)
    created_at = Timestamptz()
    refreshed_at = Timestamptz(null=True, default=None)
    expires_at = Timestamptz()
    ended_at = Timestamptz(null=True, default=None)
    end_reason = Varchar(length=32, null=True, default=None)
    # A sign-in to the owner's console is held by a browser cookie instead of refresh tokens: the
    # sha256 of the cookie's random token (never the token), and when it was last used, for the
    # idle timeout. Both null for a sign-in through the API.
    console_token_hash = Varchar(length=64, null=True, default=None, index=True)
    seen_at = Timestamptz(null=True, default=None)


class RateLimitCounter(Table):
    """How many requests one bucket (a route group and a client address, or an account) made
    in its current window. One row per bucket, advanced by an atomic upsert, so every worker
    and process of the server counts against the same number (T18). Swept once its window ends."""

    bucket = Varchar(length=300, primary_key=True)
    window_start = Timestamptz()
    hits = Integer(default=0)


class DeviceBlock(Table):
    """A phone one business no longer accepts (its owner revoked it there).

    Scoped to the business, because a phone is the customer's, for every café: one café's
    revocation must neither disable it elsewhere nor tell that café where else it is used (T20).
    """

    id = UUID(primary_key=True)
    device = ForeignKey(references=Device, null=False)
    business = ForeignKey(references=Business, null=False)
    reason = Text()
    at = Timestamptz()


# --- The owner's metrics (cards/metrics.py) ---------------------------------------------------


class MetricSettings(Table):
    """A business's choices for its metrics; a business without a row has the defaults."""

    business = UUID(primary_key=True)
    # A member with no counted punch for this many days is lost (churn).
    lost_after_days = Integer(default=60)


class StoreSales(Table):
    """All of a store's transactions on one local day, as the owner entered or imported them:
    the denominator of adoption, which the ledger cannot see. A migration makes (store, day) unique."""

    id = UUID(primary_key=True)
    store = ForeignKey(references=Store, null=False)
    day = Date()
    transactions = Integer()
    entered_at = Timestamptz()


class MetricDirty(Table):
    """A card whose part of the metrics' rollup must be computed again: written in the same
    transaction as whatever changed it (a ledger entry, a flag raised or decided), deleted by the
    refresh that recomputed it. An auto id, so a mark made during a refresh is never taken for one
    the refresh read."""

    card = UUID(index=True)


class MetricCard(Table):
    """A card's part of the rollup as last computed from its ledger and flags (JSON cells), so
    that a refresh subtracts exactly what the card added before."""

    card = UUID(primary_key=True)
    business = UUID(index=True)
    cells = Text()


class MetricCell(Table):
    """The sum of every card's part for one business, scope (a store's id or `all`), kind (`day`,
    `week`, `month` or `cohort`), bucket (a day's ordinal: the day, the week's Monday or the month's
    first) and cohort (the first week's Monday, for `cohort`; else 0). `key` joins those five."""

    key = Varchar(length=160, primary_key=True)
    business = UUID()
    scope = Varchar(length=36)
    kind = Varchar(length=8)
    bucket = Integer()
    cohort = Integer()
    active = Integer(default=0)
    new_members = Integer(default=0)
    punches = Integer(default=0)
    revenue_cents = BigInt(default=0)
    priced_orders = Integer(default=0)
    under_review = Integer(default=0)
    free_items = Integer(default=0)
    spent = Integer(default=0)
    rejected = Integer(default=0)
    rejected_value_ucents = BigInt(default=0)
    held = Integer(default=0)
    joined = Integer(default=0)
    lost = Integer(default=0)
    lost_days = BigInt(default=0)
