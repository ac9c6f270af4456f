"""The owner's metrics, and the daily transaction counts that adoption is measured against."""

from datetime import date, timedelta
from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, QueryParameter

from api.auth import managers_only
from cards import metric_refresh, metrics, store_sales
from cards.clock import Clock
from cards.identity import StaffIdentity
from mobile_contract import metrics as wire

Since = Annotated[
    date | None, QueryParameter(description="The first day (YYYY-MM-DD), widened to its interval's start")
]
Until = Annotated[date | None, QueryParameter(description="The day after the last (YYYY-MM-DD), widened likewise")]


class MetricsController(Controller):
    path = "/v1/metrics"
    tags = ["metrics"]
    guards = [managers_only]

    @get(
        operation_id="getMetrics",
        summary="Is the program working? Every metric by name, per interval and for the period, and weekly cohorts",
        description=(
            "Computed from the ledger (voided and rejected punches never count; punches under review are "
            "shown apart). Defaults: the last 12 weeks, 30 days or 12 months up to today. Each answer lists "
            "the definitions. A period that is empty, reversed, outside 2000 to 2999 or longer than 400 days, "
            "260 weeks or 120 months is `metrics-period-invalid`."
        ),
    )
    async def read(
        self,
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
        since: Since = None,
        until: Until = None,
        interval: FromQuery[wire.Interval] = "week",
        store_id: Annotated[UUID | None, QueryParameter(description="One store; every store when left out")] = None,
    ) -> wire.Metrics:
        return await metrics.metrics(
            actor.business_id, since=since, until=until, interval=interval, store_id=store_id, now=clock()
        )


class MetricSettingsController(Controller):
    path = "/v1/metrics/settings"
    tags = ["metrics"]
    guards = [managers_only]

    @get(operation_id="getMetricSettings", summary="When a member counts as lost")
    async def read(self, actor: NamedDependency[StaffIdentity]) -> wire.MetricSettings:
        return wire.MetricSettings(lost_after_days=await metric_refresh.lost_after_days(actor.business_id))

    @put(
        operation_id="setMetricSettings",
        summary="Set when a member counts as lost (owner only); every figure is computed again",
    )
    async def update(
        self,
        data: JSONBody[wire.MetricSettings],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> wire.MetricSettings:
        await metric_refresh.set_lost_after_days(actor, data.lost_after_days, clock())
        return data


class StoreSalesController(Controller):
    path = "/v1/store-sales"
    tags = ["metrics"]
    guards = [managers_only]

    @post(operation_id="enterStoreSales", status_code=200, summary="Enter stores' daily transaction counts")
    async def enter(
        self,
        data: JSONBody[wire.StoreSalesUpload],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> wire.StoreSalesSaved:
        return wire.StoreSalesSaved(saved=await store_sales.enter_sales(actor, data.days, clock(), how="api"))

    @get(operation_id="listStoreSales", summary="The daily transaction counts entered, oldest first")
    async def list_all(
        self,
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
        since: Since = None,
        until: Until = None,
    ) -> list[wire.StoreSalesDay]:
        until = until or clock().date() + timedelta(days=1)
        return await store_sales.list_sales(actor.business_id, since or until - timedelta(days=366), until)
