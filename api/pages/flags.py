"""The review queue: open flags in the order to decide them, with their evidence, and deciding them."""

from typing import Any, Literal
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from api.pages.errors import error_page, is_htmx
from api.pages.forms import REASON_NEEDED, back, period, reason, uuid_or_none
from api.pages.words import RULE_TITLES
from cards import flag_review, stores
from cards import staff as staff_accounts
from cards.clock import Clock
from cards.errors import DomainError
from cards.flag_review import FlagFilter
from cards.identity import StaffIdentity
from crypto.keyring import Keyring
from mobile_contract import review as wire
from mobile_contract.stores import Scanner

QUEUE = "/console/flags"
QUEUE_LENGTH = 25  # a page the owner decides in one sitting; the next ones a click away
DECISIONS: dict[str, Literal["approved", "rejected"]] = {"approved": "approved", "rejected": "rejected"}


def _search(query: Any) -> tuple[FlagFilter, dict[str, str], list[str]]:
    """The queue's filters from the GET form: the filter, the values to show back, and what was not understood."""
    values = {
        k: str(query.get(k, "")).strip() for k in ("store", "cashier", "scanner", "rule", "card", "since", "until")
    }
    problems = []
    ids: dict[str, UUID | None] = {}
    for key, words in (("store", "store"), ("cashier", "cashier"), ("scanner", "scanner"), ("card", "card")):
        ids[key] = uuid_or_none(values[key])
        if values[key] and ids[key] is None:
            problems.append(f"The {words} “{values[key]}” is not an id this console knows; it was left out.")
    since, until, wrong_days = period(values["since"], values["until"])
    problems += wrong_days
    rule = values["rule"] if values["rule"].replace("_", "").isalnum() else None
    search = FlagFilter(
        store_id=ids["store"],
        staff_id=ids["cashier"],
        scanner_id=ids["scanner"],
        card_id=ids["card"],
        rule=rule or None,
        since=since,
        until=until,
    )
    return search, values, problems


def decide_all_at(flags: list[wire.FlagView]) -> dict[UUID, int]:
    """Where to offer deciding all of a card's open flags at once: at the first of them listed,
    with how many there are (only for cards with more than one)."""
    per_card: dict[UUID, list[UUID]] = {}
    for flag in flags:
        if flag.card_id is not None:
            per_card.setdefault(flag.card_id, []).append(flag.id)
    return {ids[0]: len(ids) for ids in per_card.values() if len(ids) > 1}


async def store_zones(business_id: UUID) -> dict[UUID, str]:
    """Each store's time zone, for showing a time where it happened."""
    return {store.id: store.time_zone for store in await stores.list_stores(business_id)}


async def evidence_for(business_id: UUID, flags: list[wire.FlagView]) -> dict[UUID, flag_review.EvidencePunch]:
    return await flag_review.evidence_punches(business_id, [p for f in flags for p in f.punch_ids])


class FlagQueueController(Controller):
    path = "/flags"

    @get(name="console.flags")
    async def queue(self, request: Request[Any, Any, Any], actor: NamedDependency[StaffIdentity]) -> Template:
        search, values, problems = _search(request.query_params)
        offset_text = str(request.query_params.get("offset", ""))
        offset = int(offset_text) if offset_text.isdigit() and len(offset_text) < 9 else 0
        try:
            found = await flag_review.review_queue(actor.business_id, search, QUEUE_LENGTH, offset)
        except DomainError as exc:  # e.g. a period that ends before it starts
            problems.append(exc.detail)
            found = flag_review.Queue(flags=[], total=0)
        store_list = await stores.list_stores(actor.business_id)
        by_store: dict[UUID, list[Scanner]] = {}
        for scanner in await stores.business_scanners(actor.business_id):
            by_store.setdefault(scanner.store_id, []).append(scanner)
        scanners = [(s, sc) for s in store_list for sc in by_store.get(s.id, [])]
        return Template(
            template_name="flags.html",
            context={
                "actor": actor,
                "flags": found.flags,
                "total": found.total,
                "offset": offset,
                "page_query": {k: v for k, v in values.items() if v},
                "page_size": QUEUE_LENGTH,
                "evidence": await evidence_for(actor.business_id, found.flags),
                "decide_all_at": decide_all_at(found.flags),
                "values": values,
                "problems": problems,
                "stores": store_list,
                "zones": {store.id: store.time_zone for store in store_list},
                "members": await staff_accounts.list_members(actor.business_id),
                "scanners": scanners,
                "rules": sorted(RULE_TITLES),
                "back": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
            },
        )

    @post("/{flag_id:uuid}/decide", status_code=200)
    async def decide(
        self,
        request: Request[Any, Any, Any],
        flag_id: FromPath[UUID],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
        keyring: NamedDependency[Keyring],
    ) -> Response[Any]:
        form = await request.form()
        decision = DECISIONS.get(str(form.get("decision", "")))
        why = reason(form)
        error, status = None, 400
        if decision is None:
            error = "Choose Approve or Reject."
        elif why is None:
            error = REASON_NEEDED
        else:
            try:
                await flag_review.review_flag(actor, flag_id, decision, why, clock(), keyring)
            except DomainError as exc:
                error, status = exc.detail, exc.problem.status
        if not is_htmx(request):
            if error is not None:
                return error_page(request, status, error)
            return Redirect(back(form, QUEUE), status_code=303)
        flag = await flag_review.get_flag(actor.business_id, flag_id)
        return Template(
            template_name="_flag.html",
            context={
                "actor": actor,
                "f": flag,
                "evidence": await evidence_for(actor.business_id, [flag]),
                "decide_all_at": {},
                "error": error,
                "back": back(form, QUEUE),
                "zones": await store_zones(actor.business_id),
            },
        )


class CardFlagsController(Controller):
    """Every open flag of one card decided at once, with one reason."""

    path = "/cards/{card_id:uuid}/flags"

    @post("/decide", status_code=200)
    async def decide_all(
        self,
        request: Request[Any, Any, Any],
        card_id: FromPath[UUID],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
        keyring: NamedDependency[Keyring],
    ) -> Response[Any]:
        form = await request.form()
        decision = DECISIONS.get(str(form.get("decision", "")))
        why = reason(form)
        if decision is None:
            return error_page(request, 400, "Choose Approve all or Reject all.")
        if why is None:
            return error_page(request, 400, REASON_NEEDED)
        done = await flag_review.review_card_flags(actor, card_id, decision, why, clock(), keyring)
        if not done.refused:
            return Redirect(back(form, QUEUE), status_code=303)
        return Template(
            template_name="decided.html",
            context={"actor": actor, "done": done, "decision": decision, "back": back(form, QUEUE)},
            status_code=200,
        )
