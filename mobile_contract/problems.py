"""Every RFC 9457 problem `type` the server answers with, in one place.

A client switches on `type`, never on `title` or `detail`: the values below are
stable. Each is a relative URI under `/problems/`, where the server documents it.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Any

import msgspec


@dataclass(frozen=True, slots=True)
class _Problem:
    slug: str
    status: int
    title: str


class Problem(Enum):
    """A problem type: `.type` is the stable URI, `.status` and `.title` its defaults."""

    # Requests the server cannot read.
    INVALID_REQUEST = _Problem("invalid-request", 400, "The request body or parameters are invalid")
    MALFORMED_BODY = _Problem("malformed-body", 400, "The request body is not valid JSON")
    BODY_TOO_LARGE = _Problem("body-too-large", 413, "The request body is too large")
    UNSUPPORTED_MEDIA_TYPE = _Problem("unsupported-media-type", 415, "The request body must be JSON")
    NOT_FOUND = _Problem("not-found", 404, "No such resource")
    METHOD_NOT_ALLOWED = _Problem("method-not-allowed", 405, "Method not allowed here")
    RATE_LIMITED = _Problem("rate-limited", 429, "Too many requests; slow down")
    INTERNAL = _Problem("internal", 500, "Something went wrong on our side")
    UNAVAILABLE = _Problem("unavailable", 503, "The service is not ready")

    # Who is asking.
    UNAUTHENTICATED = _Problem("unauthenticated", 401, "Sign in first")
    INVALID_CREDENTIALS = _Problem("invalid-credentials", 401, "Wrong e-mail, password or scanner")
    INVALID_TOKEN = _Problem("invalid-token", 401, "The token is invalid or has expired")
    FORBIDDEN = _Problem("forbidden", 403, "Your role does not allow this")
    SCANNER_REQUIRED = _Problem("scanner-required", 403, "Cashiers sign in at a registered scanner")
    INVALID_SETUP_CODE = _Problem("invalid-setup-code", 403, "The setup code is wrong or was already used")
    BUSINESS_REQUIRED = _Problem(
        "business-required", 409, "This e-mail and password open accounts at several businesses: name one"
    )
    OWNER_REQUIRED = _Problem(
        "owner-required", 403, "Only an owner may make the program easier to earn or relax a risk rule"
    )

    # Phones and proofs of possession.
    INVALID_CHALLENGE = _Problem("invalid-challenge", 401, "The challenge is unknown, used or expired")
    INVALID_PUBLIC_KEY = _Problem("invalid-public-key", 400, "The public key is not a usable Ed25519 or P-256 key")
    INVALID_PROOF = _Problem("invalid-proof", 401, "The signature does not prove possession of the device key")
    DEVICE_ALREADY_ENROLLED = _Problem("device-already-enrolled", 409, "This device key is already enrolled")

    # The café's set-up.
    INVALID_TIME_ZONE = _Problem("invalid-time-zone", 400, "Unknown IANA time zone")
    EMAIL_TAKEN = _Problem("email-taken", 409, "A staff member already uses this e-mail")
    SCANNER_REGISTERED = _Problem("scanner-registered", 409, "This scanner is registered already")
    STORE_REQUIRED = _Problem("store-required", 400, "A cashier belongs to one store")
    STORE_INACTIVE = _Problem(
        "store-inactive", 403, "This store is closed in PunchGuard: its tills cannot punch or give free items"
    )
    PROGRAM_INACTIVE = _Problem(
        "program-inactive", 409, "This program is closed: it takes no new members, stamps or punches"
    )
    ALREADY_JOINED = _Problem("already-joined", 409, "This customer already has a card in this program")

    # Stamps and scans: what the scanner app shows the cashier.
    STAMP_MALFORMED = _Problem("stamp-malformed", 400, "This is not a PunchGuard stamp; scan the customer's code again")
    STAMP_FORGED = _Problem("stamp-forged", 400, "This stamp was not signed by PunchGuard")
    STAMP_EXPIRED = _Problem("stamp-expired", 409, "This stamp has expired; ask the customer to refresh their code")
    STAMP_ALREADY_USED = _Problem("stamp-already-used", 409, "This stamp was already used for another purchase")
    RECEIPT_ALREADY_PUNCHED = _Problem("receipt-already-punched", 409, "This receipt already earned a punch")
    CARD_FROZEN = _Problem("card-frozen", 409, "This card is frozen pending review by the owner")
    CARD_INACTIVE = _Problem("card-inactive", 409, "This card is closed")
    CARD_NOT_VALID_HERE = _Problem("card-not-valid-here", 409, "This card belongs to another business's program")
    DEVICE_NOT_BOUND = _Problem("device-not-bound", 409, "This stamp comes from a phone no longer bound to the card")
    OWN_CARD = _Problem("own-card", 403, "Staff cannot punch their own card")
    COOLDOWN = _Problem("cooldown", 409, "This card was punched moments ago; wait before punching it again")
    DAILY_CAP = _Problem("daily-cap", 409, "This card reached today's punch limit")
    COUNTER_REGRESSED = _Problem(
        "counter-regressed", 409, "This phone's counter went back: the card is frozen for review"
    )
    PUNCH_NOT_FOUND = _Problem("punch-not-found", 404, "No punch with this receipt at this store")

    # Redemptions: what the cashier sees when a free item is asked for.
    NOT_ENOUGH_PUNCHES = _Problem("not-enough-punches", 409, "This card does not hold enough punches for a reward yet")
    REDEMPTION_CODE_INVALID = _Problem(
        "redemption-code-invalid", 400, "This is not a valid redemption code; ask the customer to show it again"
    )
    REDEMPTION_CODE_EXPIRED = _Problem(
        "redemption-code-expired", 409, "This redemption code has expired; ask the customer for a fresh one"
    )
    REDEMPTION_CODE_USED = _Problem("redemption-code-used", 409, "This redemption code was already used")
    REWARD_HELD = _Problem("reward-held", 409, "No free item: the reward is held for the owner's review")

    # The owner's review.
    FLAG_ALREADY_REVIEWED = _Problem("flag-already-reviewed", 409, "This flag was already approved or rejected")
    CHECKPOINT_INVALID = _Problem("checkpoint-invalid", 400, "This checkpoint was not signed by this server")
    PHONE_MOVE_REFUSED = _Problem(
        "phone-move-refused", 409, "This card's balance cannot move to that new phone; the detail says why"
    )

    # The owner's metrics.
    METRICS_PERIOD_INVALID = _Problem(
        "metrics-period-invalid", 400, "This period cannot be measured: it is empty, reversed or too long"
    )
    SALES_INVALID = _Problem("sales-invalid", 400, "These transaction counts cannot be read; the detail says where")

    @property
    def type(self) -> str:
        return f"/problems/{self.value.slug}"

    @property
    def status(self) -> int:
        return self.value.status

    @property
    def title(self) -> str:
        return self.value.title

    @classmethod
    def by_slug(cls, slug: str) -> "Problem | None":
        return next((p for p in cls if p.value.slug == slug), None)


class ProblemBody(msgspec.Struct, frozen=True, kw_only=True):
    """The body of every error answer (RFC 9457 `application/problem+json`).

    Switch on `type`. Some problems carry extension members: `errors` (which fields of the
    request were invalid), `reasons` and `redemption_id` (a held reward: `detail` is a line for
    the till, `reasons` the owner's sentences), `relaxed` (the settings only an owner may relax),
    `businesses` (which business to sign in to). Members may be added; ignore unknown ones.
    """

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None
    reasons: list[str] | None = None
    redemption_id: str | None = None
    relaxed: list[str] | None = None
    businesses: list[dict[str, str]] | None = None
