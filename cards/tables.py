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
    email = Varchar(length=254, unique=True)
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
    punches_per_reward = Integer(default=10)
    stamp_lifetime_s = Integer(default=30)
    cooldown_s = Integer(default=60)
    daily_cap = Integer(default=3)
    excess_policy = Varchar(length=8, default="flag")
    active = Boolean(default=True)
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
    """

    id = UUID(primary_key=True)
    card = ForeignKey(references=Card, null=False)
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
    recorded_at = Timestamptz()
    prev_hash = Varchar(length=64)
    entry_hash = Varchar(length=64)
    kid = Varchar(length=8)
    signature = Varchar(length=86)


class Flag(Table):
    """A suspicion with its evidence, waiting for an owner's review."""

    id = UUID(primary_key=True)
    business = ForeignKey(references=Business, null=False)
    card = ForeignKey(references=Card, null=True)
    store = ForeignKey(references=Store, null=True)
    rule = Varchar(length=32)
    severity = Varchar(length=8)
    status = Varchar(length=10, default="open")
    explanation = Text()
    evidence = JSON(default=[])
    created_at = Timestamptz()
