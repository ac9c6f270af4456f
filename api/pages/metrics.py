"""Is the program working? The owner's metrics dashboard: the period, store and interval pickers,
every figure with its definition a click away, a chart of each series, the weekly cohorts as a
heat map and CSV downloads of both; the setting behind churn, and the stores' daily transactions
that adoption needs. The same `cards/metrics.py` and `cards/store_sales.py` as `/v1/metrics` and
`/v1/store-sales`."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, get_args
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from api.pages import charts
from api.pages.audit import _csv
from api.pages.errors import error_page
from api.pages.forms import period, uuid_or_none
from cards import metric_refresh, metrics, store_sales, stores
from cards.clock import Clock
from cards.errors import DomainError
from cards.exports import to_csv
from cards.identity import StaffIdentity
from cards.metric_definitions import BY_NAME, DEFINITIONS
from mobile_contract import metrics as wire

PAGE = "/console/metrics"
INTERVALS: tuple[wire.Interval, ...] = get_args(wire.Interval)
# The figures shown for the whole period, in the order an owner reads them.
HEADLINE = (
    "adoption_rate",
    "redemption_rate",
    "churn_count",
    "churn_rate",
    "retention_rate",
    "average_order_value_cents",
    "purchase_frequency",
    "lifespan_days",
    "lifetime_value_cents",
    "new_members",
    "punches",
    "under_review",
    "free_items_granted",
    "free_items_held",
    "rejected_punches",
    "fraud_value_cents",
)
CHARTED = (
    "active_members",
    "new_members",
    "punches",
    "adoption_rate",
    "redemption_rate",
    "churn_rate",
    "retention_rate",
    "average_order_value_cents",
    "purchase_frequency",
    "lifetime_value_cents",
    "free_items_granted",
    "fraud_value_cents",
)
# The series table's columns: every figure with a definition, in the definitions' order.
TABLE = tuple(d.name for d in DEFINITIONS)
# Under 1 MB of CSV: a store's year of days is 366 rows.
_MAX_SALES_CSV_BYTES = 1024 * 1024
SALES_DAYS_SHOWN = 14


@dataclass(frozen=True, slots=True)
class Choice:
    """What the pickers asked for, what was understood, and what was said about the rest."""

    since: date | None
    until: date | None  # the day after the last
    interval: wire.Interval
    store_id: UUID | None
    values: dict[str, str]
    problems: list[str]


def _choice(query: Any, store_ids: set[UUID]) -> Choice:
    values = {k: str(query.get(k, "")).strip() for k in ("since", "until", "interval", "store")}
    since, until, problems = period(values["since"], values["until"])
    interval: wire.Interval = "week"
    for known in INTERVALS:
        if values["interval"] == known:
            interval = known
    if values["interval"] and values["interval"] != interval:
        problems.append(f"“{values['interval'][:20]}” is not an interval (day, week or month); weeks are shown.")
    store_id = uuid_or_none(values["store"])
    if values["store"] and store_id not in store_ids:
        problems.append("That store is not one of yours; every store is shown.")
        store_id = None
    return Choice(
        since=since.date() if since else None,
        until=until.date() if until else None,
        interval=interval,
        store_id=store_id,
        values=values,
        problems=problems,
    )


async def _read(actor: StaffIdentity, choice: Choice, clock: Clock) -> tuple[wire.Metrics, list[str]]:
    """The metrics asked for; a period the API would refuse is said, and the default shown instead."""

    async def read(since: date | None, until: date | None) -> wire.Metrics:
        return await metrics.metrics(
            actor.business_id, since=since, until=until, interval=choice.interval, store_id=choice.store_id, now=clock()
        )

    try:
        return await read(choice.since, choice.until), []
    except DomainError as refused:
        return await read(None, None), [f"{refused.detail}. The last intervals up to today are shown instead."]


def _query(choice: Choice, found: wire.Metrics) -> dict[str, str]:
    """The pickers' values for the downloads: the period as shown, not as typed."""
    query = {
        "since": found.since.isoformat(),
        "until": (found.until - timedelta(days=1)).isoformat(),
        "interval": found.interval,
    }
    return query | ({"store": str(choice.store_id)} if choice.store_id else {})


class MetricsPageController(Controller):
    path = "/metrics"

    @get(name="console.metrics")
    async def show(
        self, request: Request[Any, Any, Any], actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]
    ) -> Template:
        listed = await stores.list_stores(actor.business_id)
        choice = _choice(request.query_params, {s.id for s in listed})
        found, refused = await _read(actor, choice, clock)
        today = clock().date()
        return Template(
            template_name="metrics.html",
            context={
                "actor": actor,
                "m": found,
                "through": found.until - timedelta(days=1),
                "choice": choice,
                "problems": choice.problems + refused,
                "stores": listed,
                "intervals": INTERVALS,
                "headline": [BY_NAME[name] for name in HEADLINE],
                "table": [BY_NAME[name] for name in TABLE],
                "definitions": BY_NAME,
                "charts": [charts.bar_chart(n, BY_NAME[n].label, found.series, found.interval) for n in CHARTED],
                "weeks": max((len(c.retained) for c in found.cohorts), default=0),
                "figure_text": charts.figure_text,
                "interval_name": charts.interval_name,
                "heat": charts.heat,
                "download": _query(choice, found),
                # Up to the day after tomorrow (exclusive): a store's local today is within a day of UTC's.
                "sales": (
                    await store_sales.list_sales(
                        actor.business_id, today - timedelta(days=60), today + timedelta(days=2)
                    )
                )[-SALES_DAYS_SHOWN:],
                "store_names": {s.id: s.name for s in listed},
                "yesterday": (today - timedelta(days=1)).isoformat(),
            },
        )

    @get("/series.csv", name="console.metrics_series")
    async def series(
        self, request: Request[Any, Any, Any], actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]
    ) -> Response[str]:
        found = await self._asked(request, actor, clock)
        text = to_csv(metrics.SERIES_CSV_HEADER, metrics.series_rows([*found.series]))
        return _csv(text, f"punchguard-metrics-{found.interval}-{found.since}-{found.until}.csv")

    @get("/cohorts.csv", name="console.metrics_cohorts")
    async def cohorts(
        self, request: Request[Any, Any, Any], actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]
    ) -> Response[str]:
        found = await self._asked(request, actor, clock)
        weeks = max((len(c.retained) for c in found.cohorts), default=0)
        header = ["first_week", "members", *(f"week_{i}" for i in range(weeks))]
        rows = [[c.week.isoformat(), c.members, *c.retained] for c in found.cohorts]
        return _csv(to_csv(header, rows), f"punchguard-cohorts-{found.since}-{found.until}.csv")

    async def _asked(self, request: Request[Any, Any, Any], actor: StaffIdentity, clock: Clock) -> wire.Metrics:
        listed = await stores.list_stores(actor.business_id)
        return (await _read(actor, _choice(request.query_params, {s.id for s in listed}), clock))[0]

    @post("/settings", status_code=303)
    async def settings(
        self, request: Request[Any, Any, Any], actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]
    ) -> Response[Any]:
        text = str((await request.form()).get("lost_after_days", "")).strip()
        if not text.isdigit() or not 7 <= int(text) <= 730:
            return error_page(request, 400, "A member counts as lost after 7 to 730 days without a punch.")
        await metric_refresh.set_lost_after_days(actor, int(text), clock())
        return Redirect(PAGE, status_code=303)

    @post("/sales", status_code=303)
    async def enter_sales(
        self, request: Request[Any, Any, Any], actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]
    ) -> Response[Any]:
        form = await request.form()
        store_id = uuid_or_none(form.get("store"))
        if store_id is None:
            return error_page(request, 400, "Choose a store.")
        try:
            day = date.fromisoformat(str(form.get("day", "")).strip())
            count = int(str(form.get("transactions", "")).strip())
        except ValueError:
            return error_page(request, 400, "Choose a day, and give the day's transactions as a whole number.")
        entered = wire.StoreSalesDay(store_id=store_id, day=day, transactions=count)
        await store_sales.enter_sales(actor, [entered], clock(), how="console")
        return Redirect(f"{PAGE}#transactions", status_code=303)

    @post("/sales.csv", status_code=303, request_max_body_size=_MAX_SALES_CSV_BYTES)
    async def import_sales(
        self, request: Request[Any, Any, Any], actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]
    ) -> Response[Any]:
        sent = (await request.form()).get("file")
        if not isinstance(sent, UploadFile):
            return error_page(request, 400, "Choose a CSV file with the columns store, day, transactions.")
        try:
            text = (await sent.read()).decode("utf-8")
        except UnicodeDecodeError:
            return error_page(request, 400, "This file is not text (UTF-8): save it from the spreadsheet as CSV.")
        await store_sales.import_sales_csv(actor, text, clock())
        return Redirect(f"{PAGE}#transactions", status_code=303)
