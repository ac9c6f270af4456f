"""What each of the owner's metrics means, in one sentence and a formula: the console shows these
beside each figure, the API documents them, and cards/metrics.py computes exactly this.

The choices a punch card needs:
- A **member** (a customer) is a card with at least one counted punch; an **order** is a counted
  punch (each carries its receipt, which earns one punch per store).
- A punch **counts** unless it was voided (refunded, or rejected by the owner) or is under review
  (named by an open flag); punches under review are shown apart, and count once approved.
- **Days** are the local days of the store where a punch was made; weeks start on Monday. A
  period runs from `since` (included) to `until` (excluded), widened to whole intervals.
- A member **is a customer on a day** when it has a counted punch in the `L` days before it
  (`L`, "lost after", is the owner's choice, by default 60); it **is lost** on the first day with
  none. A member who comes back is a customer again (`returned`).
- Figures that depend on days not yet over everywhere (an interval that ends after today) are
  left empty rather than guessed.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    label: str
    sentence: str
    formula: str


DEFINITIONS = (
    Definition(
        "adoption_rate",
        "Adoption",
        "The share of the store's transactions that earned a punch, on the days whose transactions "
        "the owner entered; empty when none were entered.",
        "orders on days with a count ÷ transactions entered for those days",
    ),
    Definition(
        "redemption_rate",
        "Redemption rate",
        "Punches used up by free items given in the interval, per punch earned in it.",
        "punches spent ÷ punches earned",
    ),
    Definition(
        "churn_count",
        "Members lost",
        "Members who reached L days without a counted punch during the interval.",
        "count of members lost on a day in (start, end]",
    ),
    Definition(
        "churn_rate",
        "Churn rate",
        "Members lost during the interval, per customer at its start.",
        "churn_count ÷ S",
    ),
    Definition(
        "retention_rate",
        "Retention (CRR)",
        "Customers at the end who were not new in the interval, per customer at its start "
        "(a member who came back counts as retained).",
        "(E − N) ÷ S, with E customers at the end, N new members, S customers at the start",
    ),
    Definition(
        "average_order_value_cents",
        "Average order",
        "What an order came to, over the orders whose amount the till sent.",
        "revenue ÷ orders with an amount",
    ),
    Definition(
        "purchase_frequency",
        "Purchase frequency",
        "Orders per member who punched in the interval (for a whole period: per member per interval).",
        "orders ÷ active members",
    ),
    Definition(
        "lifespan_days",
        "Lifespan",
        "How long members stayed, measured on those already lost by the interval's end: the days "
        "from the first to the last punch of their stay, both included.",
        "Σ (last punch − first punch + 1 day) ÷ members lost",
    ),
    Definition(
        "lifetime_value_cents",
        "Lifetime value (CLV)",
        "What a member brings over a lifespan, at this interval's order value and frequency.",
        "average order value × purchase frequency × lifespan ÷ days in the interval",
    ),
    Definition(
        "active_members",
        "Active members",
        "Members with a counted punch in the interval (distinct cards; per interval only).",
        "count of distinct cards with a counted punch",
    ),
    Definition(
        "new_members",
        "New members",
        "Members whose first counted punch fell in the interval.",
        "count of cards whose first counted punch is in the interval",
    ),
    Definition(
        "customers_at_start",
        "Customers at the start (S)",
        "Members with a counted punch in the L days before the interval's first day.",
        "count of members punched in [start − L, start)",
    ),
    Definition(
        "customers_at_end",
        "Customers at the end (E)",
        "Members with a counted punch in the L days before the day after the interval.",
        "count of members punched in [end − L, end)",
    ),
    Definition(
        "returned",
        "Came back",
        "Members who became customers again in the interval after being lost.",
        "count of stays that began in (start, end], less the new members",
    ),
    Definition("punches", "Punches", "Counted punches: the orders.", "punches not voided and not under review"),
    Definition(
        "revenue_cents",
        "Revenue",
        "What the counted punches' orders came to, where the till sent an amount.",
        "Σ amount of counted punches",
    ),
    Definition(
        "under_review",
        "Under review",
        "Punches made in the interval that wait for the owner's decision (not counted).",
        "punches named by an open flag",
    ),
    Definition("free_items_granted", "Free items given", "Free items handed out at the till.", "count of redemptions"),
    Definition(
        "free_items_held",
        "Free items held",
        "Free items the till held for the owner's review, when it held them.",
        "count of held-reward flags raised",
    ),
    Definition(
        "rejected_punches",
        "Punches rejected",
        "Punches the owner rejected as fraud, when they were rejected.",
        "punches voided by a rejected flag",
    ),
    Definition(
        "fraud_value_cents",
        "What fraud would have taken",
        "The free items the rejected punches would have earned, at each program's price.",
        "Σ rejected punches × price of the free item ÷ punches per free item",
    ),
)
BY_NAME = {d.name: d for d in DEFINITIONS}
