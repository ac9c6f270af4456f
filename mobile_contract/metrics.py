"""The owner's metrics on the wire (`GET /v1/metrics`): each figure by name, per interval and for
the whole period, and the weekly cohorts. Rates are fractions (0.25 is 25 %); money is in cents;
days are the stores' local days. What each figure means: cards/metric_definitions.py, and the
`definitions` list of every answer. A figure that cannot be known (nothing to divide by, no
transactions entered, an interval not over yet) is null, never a guess."""

from datetime import date
from typing import Annotated, Literal

import msgspec

from mobile_contract.base import ZERO_OR_MORE, Id, Wire

Interval = Literal["day", "week", "month"]


class Figures(Wire, frozen=True, kw_only=True):
    """The metrics of one interval, or of the whole period (`totals`)."""

    start: date
    end: date  # the day after the last day
    complete: bool  # every day of it is over in every time zone: later punches cannot change it
    adoption_rate: float | None
    adoption_days_entered: int  # store-days whose transactions the owner entered
    redemption_rate: float | None
    churn_count: int | None
    churn_rate: float | None
    retention_rate: float | None
    average_order_value_cents: int | None
    purchase_frequency: float | None
    lifespan_days: float | None
    lifetime_value_cents: int | None
    active_members: int | None  # null in `totals`: distinct members are counted per interval
    new_members: int
    returned: int | None
    customers_at_start: int
    customers_at_end: int | None
    punches: int
    revenue_cents: int
    priced_orders: int
    under_review: int
    free_items_granted: int
    free_items_held: int
    rejected_punches: int
    fraud_value_cents: int


class Cohort(Wire, frozen=True, kw_only=True):
    """Members whose first counted punch fell in the week starting `week`, and the share of them
    with a counted punch in that week and in each week after it (`retained[0]` is 1.0)."""

    week: date
    members: int
    retained: list[float]


class MetricDefinition(Wire, frozen=True, kw_only=True):
    name: str
    label: str
    sentence: str
    formula: str


class Metrics(Wire, frozen=True, kw_only=True):
    """The period as used (widened to whole intervals), the figures, and what they mean."""

    since: date
    until: date
    interval: Interval
    store_id: Id | None  # null: every store of the business
    lost_after_days: int
    totals: Figures
    series: list[Figures]
    cohorts: list[Cohort]
    definitions: list[MetricDefinition]


LostAfterDays = Annotated[int, msgspec.Meta(ge=7, le=730, description="Days without a counted punch")]


class MetricSettings(Wire, frozen=True, kw_only=True):
    """The owner's choice behind churn, retention and lifespan: a member with no counted punch for
    `lost_after_days` days is lost (7 to 730; 60 until the owner sets it)."""

    lost_after_days: LostAfterDays


Transactions = Annotated[int, msgspec.Meta(ge=0, le=1_000_000, **ZERO_OR_MORE)]


class StoreSalesDay(Wire, frozen=True, kw_only=True):
    """All of a store's transactions on one of its local days, loyalty or not (from the till's
    end-of-day report): adoption's denominator. Entering a day again replaces it."""

    store_id: Id
    day: date
    transactions: Transactions


class StoreSalesUpload(Wire, frozen=True, kw_only=True):
    days: Annotated[list[StoreSalesDay], msgspec.Meta(min_length=1, max_length=5000)]


class StoreSalesSaved(Wire, frozen=True, kw_only=True):
    saved: int  # store-days entered or replaced
