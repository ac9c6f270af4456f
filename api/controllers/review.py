"""The owner's review desk: flags, a card's timeline, freezes, phone revocations, the audit log and CSV exports."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from api.auth import managers_only
from cards import audit_log, devices, exports, flag_review, programs, timeline
from cards.clock import Clock
from cards.identity import StaffIdentity
from crypto.keyring import Keyring
from mobile_contract import review as wire

Limit = Annotated[int, QueryParameter(ge=1, le=1000, description="At most this many, newest first")]
# Bounded so that a huge number is a 400, not an overflow in the database driver.
Offset = Annotated[
    int,
    QueryParameter(
        ge=0,
        le=10_000_000,
        description="Skip this many (the previous page's next_offset)",
        schema_extra={"minimum": 0},  # Litestar drops a minimum of 0 (falsy) from the schema
    ),
]
Since = Annotated[
    datetime | None, QueryParameter(description="From this time on (ISO 8601; UTC when no offset is given)")
]
Until = Annotated[
    datetime | None, QueryParameter(description="Before this time (ISO 8601; UTC when no offset is given)")
]
Rule = Annotated[
    str | None, QueryParameter(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$", description="e.g. daily_cap")
]
Action = Annotated[
    str | None,
    QueryParameter(min_length=1, max_length=32, pattern=r"^[a-z_]+\.[a-z_]+$", description="e.g. flag.reject"),
]


async def provide_flag_filter(
    store_id: FromQuery[UUID | None] = None,
    staff_id: Annotated[
        UUID | None, QueryParameter(description="A cashier: flags naming them or their punches")
    ] = None,
    card_id: FromQuery[UUID | None] = None,
    rule: Rule = None,
    status: FromQuery[wire.FlagStatus | None] = None,
    since: Since = None,
    until: Until = None,
) -> flag_review.FlagFilter:
    return flag_review.FlagFilter(
        store_id=store_id, staff_id=staff_id, card_id=card_id, rule=rule, status=status, since=since, until=until
    )


async def provide_punch_filter(
    store_id: FromQuery[UUID | None] = None,
    staff_id: Annotated[UUID | None, QueryParameter(description="The cashier who punched")] = None,
    card_id: FromQuery[UUID | None] = None,
    since: Since = None,
    until: Until = None,
) -> exports.PunchFilter:
    return exports.PunchFilter(store_id=store_id, staff_id=staff_id, card_id=card_id, since=since, until=until)


def _csv(text: str, filename: str) -> Response[str]:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


class FlagController(Controller):
    """Flags waiting for (or after) the owner's decision."""

    path = "/v1/flags"
    tags = ["review"]
    guards = [managers_only]
    dependencies = {"search": Provide(provide_flag_filter)}

    @get(operation_id="listFlags", summary="Flags, newest first, filtered by store, cashier, card, rule, status, time")
    async def list_all(
        self,
        actor: NamedDependency[StaffIdentity],
        search: NamedDependency[flag_review.FlagFilter],
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> wire.FlagPage:
        return await flag_review.list_flags(actor.business_id, search, limit, offset)

    @get("/{flag_id:uuid}", operation_id="getFlag", summary="One flag, with its explanation and evidence")
    async def read(self, flag_id: FromPath[UUID], actor: NamedDependency[StaffIdentity]) -> wire.FlagView:
        return await flag_review.get_flag(actor.business_id, flag_id)

    @post(
        "/{flag_id:uuid}/approve",
        operation_id="approveFlag",
        status_code=200,
        summary="The suspicion was unfounded: the flag's punches count again",
    )
    async def approve(
        self,
        flag_id: FromPath[UUID],
        data: JSONBody[wire.ReviewReason],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
        keyring: NamedDependency[Keyring],
    ) -> wire.FlagReviewed:
        return await flag_review.review_flag(actor, flag_id, "approved", data.reason, clock(), keyring)

    @post(
        "/{flag_id:uuid}/reject",
        operation_id="rejectFlag",
        status_code=200,
        summary="The suspicion was right: every punch the flag names is voided",
    )
    async def reject(
        self,
        flag_id: FromPath[UUID],
        data: JSONBody[wire.ReviewReason],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
        keyring: NamedDependency[Keyring],
    ) -> wire.FlagReviewed:
        return await flag_review.review_flag(actor, flag_id, "rejected", data.reason, clock(), keyring)


class CardReviewController(Controller):
    """One card as the owner sees it, and freezing it."""

    path = "/v1/cards/{card_id:uuid}"
    tags = ["review"]
    guards = [managers_only]

    @get("/timeline", operation_id="getCardTimeline", summary="The card, its phones, ledger, flags and audit entries")
    async def timeline(self, card_id: FromPath[UUID], actor: NamedDependency[StaffIdentity]) -> wire.CardTimeline:
        return await timeline.card_timeline(actor.business_id, card_id)

    @post(
        "/freeze", operation_id="freezeCard", status_code=200, summary="No stamps, punches or free items until unfrozen"
    )
    async def freeze(
        self,
        card_id: FromPath[UUID],
        data: JSONBody[wire.ReviewReason],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> wire.CardOverview:
        return await timeline.set_card_frozen(actor, card_id, frozen=True, reason=data.reason, now=clock())

    @post(
        "/unfreeze",
        operation_id="unfreezeCard",
        status_code=200,
        summary="Let a frozen card get stamps, punches and free items again",
    )
    async def unfreeze(
        self,
        card_id: FromPath[UUID],
        data: JSONBody[wire.ReviewReason],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> wire.CardOverview:
        return await timeline.set_card_frozen(actor, card_id, frozen=False, reason=data.reason, now=clock())


class DeviceController(Controller):
    """Customers' phones, as far as the owner may act on them."""

    path = "/v1/devices"
    tags = ["review"]
    guards = [managers_only]

    @post(
        "/{device_id:uuid}/revoke",
        operation_id="revokeDevice",
        status_code=200,
        summary="Stop accepting a phone here: no stamps or codes for this business's cards; its stamps are refused",
    )
    async def revoke(
        self,
        device_id: FromPath[UUID],
        data: JSONBody[wire.ReviewReason],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> wire.DeviceView:
        return await devices.revoke_device(actor, device_id, data.reason, clock())


class AuditLogController(Controller):
    path = "/v1/audit-log"
    tags = ["review"]
    guards = [managers_only]

    @get(operation_id="listAuditLog", summary="Who did what, to which subject, when and why; newest first")
    async def list_all(
        self,
        actor: NamedDependency[StaffIdentity],
        action: Action = None,
        subject_id: FromQuery[UUID | None] = None,
        actor_id: Annotated[UUID | None, QueryParameter(name="actor", description="The staff member who acted")] = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> wire.AuditPage:
        search = audit_log.AuditFilter(
            action=action, subject_id=subject_id, actor_id=actor_id, since=since, until=until
        )
        return await audit_log.list_audit(actor.business_id, search, limit, offset)

    @get(
        "/{entry_id:uuid}/free-items",
        operation_id="listFreeItemsUnderChange",
        summary="For a change of a program: the free items it granted while that change was in force",
    )
    async def free_items(
        self, entry_id: FromPath[UUID], actor: NamedDependency[StaffIdentity]
    ) -> wire.FreeItemsUnderChange:
        return await programs.free_items_under(actor.business_id, entry_id)


class ExportController(Controller):
    """CSV files for a spreadsheet or the accountant."""

    path = "/v1/exports"
    tags = ["review"]
    guards = [managers_only]

    @get(
        "/flags.csv",
        operation_id="exportFlags",
        media_type="text/csv",
        dependencies={"search": Provide(provide_flag_filter)},
        summary="The flags matching the same filters as listFlags, as CSV",
    )
    async def flags(
        self, actor: NamedDependency[StaffIdentity], search: NamedDependency[flag_review.FlagFilter]
    ) -> Response[str]:
        return _csv(await exports.export_flags(actor.business_id, search), "punchguard-flags.csv")

    @get(
        "/punches.csv",
        operation_id="exportPunches",
        media_type="text/csv",
        dependencies={"search": Provide(provide_punch_filter)},
        summary="Punches with store, cashier, scanner, receipt, and whether voided, redeemed or under review",
    )
    async def punches(
        self, actor: NamedDependency[StaffIdentity], search: NamedDependency[exports.PunchFilter]
    ) -> Response[str]:
        return _csv(await exports.export_punches(actor.business_id, search), "punchguard-punches.csv")
