"""What the OpenAPI document says about security and errors: every status an operation can answer.

Litestar documents a 400 as its own `{status_code, detail, extra}` JSON and no other error; the
server answers RFC 9457 `application/problem+json` for all of them. So each operation's
answers are listed here: the problems that follow from what the operation is (a body can be
malformed, too large or not JSON; a token can be missing or stale; a guard can refuse; a path
id can be unknown; a group can be rate limited), and the problems its domain code raises, in
`OPERATION_PROBLEMS`. Schemathesis (tests/test_schema.py) holds the server to it.

A rate-limited operation also says which group it counts against and the group's default
limit: in its description, for people, and as the `x-rate-limit-group` and `x-rate-limits`
extensions, for tools. mobile_contract/CONTRACT.md lists the groups; a test holds the two
to the routes.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Components, Operation, SecurityScheme

from api.auth import customers_only
from api.rate_limits import WINDOW
from api.settings import DEFAULT_RATE_LIMITS
from mobile_contract.problems import Problem, ProblemBody

P = Problem
STAMP_REQUEST = (
    P.NOT_FOUND,
    P.INVALID_PROOF,
    P.CARD_FROZEN,
    P.CARD_INACTIVE,
    P.PROGRAM_INACTIVE,
    P.COUNTER_REGRESSED,
)
# The problems each operation's own code may answer, beyond what follows from its shape.
OPERATION_PROBLEMS: dict[str, tuple[Problem, ...]] = {
    "health": (),
    "ready": (P.UNAVAILABLE,),
    "jwks": (),
    "problemType": (P.NOT_FOUND,),
    "setUpFirstOwner": (P.INVALID_SETUP_CODE,),
    "logIn": (P.INVALID_CREDENTIALS, P.BUSINESS_REQUIRED),
    "refreshTokens": (P.INVALID_TOKEN,),
    "logOut": (),
    "getMe": (P.NOT_FOUND,),
    "createStaff": (P.EMAIL_TAKEN, P.STORE_REQUIRED, P.STORE_INACTIVE, P.NOT_FOUND),
    "listStaff": (),
    "getStaff": (P.NOT_FOUND,),
    "updateStaff": (P.NOT_FOUND, P.STORE_REQUIRED, P.STORE_INACTIVE),
    "createStore": (P.INVALID_TIME_ZONE,),
    "listStores": (),
    "getStore": (P.NOT_FOUND,),
    "updateStore": (P.NOT_FOUND, P.INVALID_TIME_ZONE),
    "registerScanner": (P.NOT_FOUND, P.STORE_INACTIVE),
    "listScanners": (P.NOT_FOUND,),
    "getScanner": (P.NOT_FOUND,),
    "revokeScanner": (P.NOT_FOUND,),
    "createProgram": (P.OWNER_REQUIRED,),
    "listPrograms": (),
    "getProgram": (P.NOT_FOUND,),
    "updateProgram": (P.NOT_FOUND, P.OWNER_REQUIRED),
    "listActivePrograms": (),
    "createChallenge": (),
    "enroll": (P.INVALID_PUBLIC_KEY, P.INVALID_PROOF, P.INVALID_CHALLENGE, P.DEVICE_ALREADY_ENROLLED),
    "resumeSession": (P.INVALID_PROOF, P.INVALID_CHALLENGE),
    "getCustomer": (P.NOT_FOUND,),
    "listCards": (),
    "joinProgram": (P.NOT_FOUND, P.PROGRAM_INACTIVE, P.ALREADY_JOINED),
    "issueStamp": STAMP_REQUEST,
    "issueStampSvg": STAMP_REQUEST,
    "issueStampPng": STAMP_REQUEST,
    "getCard": (P.NOT_FOUND,),
    "scanStamp": (
        P.SCANNER_REQUIRED,
        P.STAMP_MALFORMED,
        P.STAMP_FORGED,
        P.STAMP_EXPIRED,
        P.STAMP_ALREADY_USED,
        P.RECEIPT_ALREADY_PUNCHED,
        P.CARD_FROZEN,
        P.CARD_INACTIVE,
        P.CARD_NOT_VALID_HERE,
        P.DEVICE_NOT_BOUND,
        P.OWN_CARD,
        P.COOLDOWN,
        P.DAILY_CAP,
        P.PROGRAM_INACTIVE,
        P.UNAVAILABLE,
    ),
    "voidPunch": (P.PUNCH_NOT_FOUND, P.UNAVAILABLE),
    "requestRedemptionCode": (
        P.NOT_FOUND,
        P.INVALID_PROOF,
        P.CARD_FROZEN,
        P.CARD_INACTIVE,
        P.NOT_ENOUGH_PUNCHES,
        P.COUNTER_REGRESSED,
    ),
    "redeemReward": (
        P.SCANNER_REQUIRED,
        P.REDEMPTION_CODE_INVALID,
        P.REDEMPTION_CODE_EXPIRED,
        P.REDEMPTION_CODE_USED,
        P.REWARD_HELD,
        P.NOT_ENOUGH_PUNCHES,
        P.CARD_FROZEN,
        P.CARD_INACTIVE,
        P.UNAVAILABLE,
    ),
    "listFlags": (),
    "getFlag": (P.NOT_FOUND,),
    "approveFlag": (P.NOT_FOUND, P.FLAG_ALREADY_REVIEWED, P.UNAVAILABLE),
    "rejectFlag": (P.NOT_FOUND, P.FLAG_ALREADY_REVIEWED, P.UNAVAILABLE),
    "getCardTimeline": (P.NOT_FOUND,),
    "freezeCard": (P.NOT_FOUND, P.CARD_INACTIVE),
    "unfreezeCard": (P.NOT_FOUND, P.CARD_INACTIVE),
    "revokeDevice": (P.NOT_FOUND,),
    "listAuditLog": (),
    "listFreeItemsUnderChange": (P.NOT_FOUND,),
    "exportFlags": (),
    "exportPunches": (),
    "getCheckpoint": (P.NOT_FOUND,),
    "verifyCheckpoint": (P.NOT_FOUND, P.CHECKPOINT_INVALID),
    "getMetrics": (P.NOT_FOUND, P.METRICS_PERIOD_INVALID),
    "enterStoreSales": (P.NOT_FOUND, P.SALES_INVALID),
    "listStoreSales": (),
    "getMetricSettings": (),
    "setMetricSettings": (),
}

# What each group counts per. A handler's own group (`opt["rate_limit"]`) counts per client
# address; sign-in also counts each guess against the account it names, in its handler.
COUNTED_PER = {"login_account": "e-mail address in the body"}
ADDRESS = "client address"
# The groups an operation's handler enforces itself, beyond its `opt` group.
HANDLER_RATE_LIMITS: dict[str, tuple[str, ...]] = {"logIn": ("login_account",)}

STAFF_SCHEME, CUSTOMER_SCHEME = "staffToken", "customerSession"
SECURITY_SCHEMES = Components(
    security_schemes={
        STAFF_SCHEME: SecurityScheme(
            type="http",
            scheme="bearer",
            bearer_format="JWT",
            description="A staff access token from POST /v1/auth/login (15 minutes; renew with POST /v1/auth/refresh)",
        ),
        CUSTOMER_SCHEME: SecurityScheme(
            type="http",
            scheme="bearer",
            bearer_format="JWT",
            description="A phone's session from POST /v1/customers or /v1/customers/sessions (an hour)",
        ),
    }
)
# Values injected by the app, not sent by the caller.
_INJECTED = {"self", "settings", "keyring", "tokens", "clock", "actor", "customer", "request"}


def _shape_problems(handler: HTTPRouteHandler, path: str) -> tuple[list[Problem], str | None]:
    """The problems that follow from what the operation is, and the security scheme it needs."""
    problems: list[Problem] = []
    parameters = set(handler.parsed_fn_signature.parameters) - _INJECTED
    if "data" in parameters:
        problems += [P.MALFORMED_BODY, P.INVALID_REQUEST, P.BODY_TOO_LARGE, P.UNSUPPORTED_MEDIA_TYPE]
    elif parameters or "{" in path:
        problems.append(P.INVALID_REQUEST)
    if "{" in path:
        problems.append(P.NOT_FOUND)
    scheme = None
    if not handler.opt.get("exclude_from_auth"):
        problems += [P.UNAUTHENTICATED, P.INVALID_TOKEN, P.FORBIDDEN]
        guards = set(handler.resolve_guards())
        scheme = CUSTOMER_SCHEME if customers_only in guards else STAFF_SCHEME
        if scheme == STAFF_SCHEME:
            problems.append(P.STORE_INACTIVE)  # a till's token at a store that was closed
    if handler.opt.get("rate_limit"):
        problems.append(P.RATE_LIMITED)
    return problems, scheme


def _responses(problems: Iterable[Problem]) -> dict[int, ResponseSpec]:
    by_status: dict[int, list[Problem]] = defaultdict(list)
    for kind in dict.fromkeys(problems):
        by_status[kind.status].append(kind)
    return {
        status: ResponseSpec(
            data_container=ProblemBody,
            media_type="application/problem+json",
            description="; ".join(f"`{kind.type}`: {kind.title}" for kind in kinds),
            generate_examples=False,
        )
        for status, kinds in sorted(by_status.items())
    }


def setting_name(group: str) -> str:
    """The environment variable that sets a group's limit (read by `Settings.from_env`)."""
    return f"PUNCHGUARD_{group.upper()}_PER_MINUTE"


def rate_limits(handler: HTTPRouteHandler) -> list[dict[str, Any]]:
    """The groups an operation counts against, its own first, each with its default limit."""
    own = handler.opt.get("rate_limit")
    if own is None:
        return []
    operation = handler.operation_id if isinstance(handler.operation_id, str) else ""
    return [
        {
            "group": group,
            "limit": DEFAULT_RATE_LIMITS[group],
            "window_s": int(WINDOW.total_seconds()),
            "counted_per": COUNTED_PER.get(group, ADDRESS),
            "setting": setting_name(group),
        }
        for group in (own, *HANDLER_RATE_LIMITS.get(operation, ()))
    ]


def _rate_limit_sentence(limits: list[dict[str, Any]], shared_with: list[str]) -> str:
    own, *also = limits
    parts = [
        f"Rate limited, group `{own['group']}`: by default {own['limit']} requests a minute per {own['counted_per']} "
        f"(`{own['setting']}`)"
    ]
    parts += [
        f"and {more['limit']} a minute per {more['counted_per']} (group `{more['group']}`, `{more['setting']}`)"
        for more in also
    ]
    sentence = ", ".join(parts) + "."
    if shared_with:
        sentence += " The count is shared with " + ", ".join(f"`{name}`" for name in shared_with) + "."
    return sentence + " Beyond it: 429 `/problems/rate-limited` with `Retry-After`."


def _operation_class(limits: list[dict[str, Any]]) -> type[Operation]:
    """An Operation that carries the rate-limit extensions (Litestar's has no field for `x-` members)."""

    @dataclass
    class RateLimitedOperation(Operation):
        def to_schema(self) -> dict[str, Any]:
            return {**super().to_schema(), "x-rate-limit-group": limits[0]["group"], "x-rate-limits": limits}

    return RateLimitedOperation


def schema_handlers(app: Litestar) -> list[tuple[str, HTTPRouteHandler]]:
    """Each (path, handler) the OpenAPI document shows: every operation of the API."""
    return [
        (route.path, handler)
        for route in app.routes
        if not route.path.startswith("/schema")  # the document itself, and the pages that show it
        for handler in getattr(route, "route_handlers", ())
        if isinstance(handler, HTTPRouteHandler) and handler.include_in_schema is not False
    ]


def document(app: Litestar) -> None:
    """Give every operation its security scheme, its error answers and its rate limits, before the schema is built."""
    handlers = schema_handlers(app)
    by_group: dict[str, list[str]] = defaultdict(list)
    for _, handler in handlers:
        if handler.opt.get("rate_limit") and isinstance(handler.operation_id, str):
            by_group[handler.opt["rate_limit"]].append(handler.operation_id)
    for path, handler in handlers:
        operation = handler.operation_id if isinstance(handler.operation_id, str) else None
        if operation is None or operation not in OPERATION_PROBLEMS:
            raise RuntimeError(f"{handler}: say which problems it answers in api/openapi.py")
        shape, scheme = _shape_problems(handler, path)
        extra: dict[int, Any] = _responses([*shape, *OPERATION_PROBLEMS[operation]])
        handler.responses = {**(handler.responses or {}), **extra}
        handler.security = [{scheme: []}] if scheme else None
        limits = rate_limits(handler)
        if limits:
            shared = [name for name in by_group[limits[0]["group"]] if name != operation]
            sentence = _rate_limit_sentence(limits, shared)
            handler.description = f"{handler.description}\n\n{sentence}" if handler.description else sentence
            handler.operation_class = _operation_class(limits)
