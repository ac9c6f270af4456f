"""What the guard is worth: free items held and rejected in a period and their value at each
program's reward price, flags by rule, and the cashiers and scanners behind the most flags
(`cards/guard_worth.py`)."""

from datetime import UTC, datetime, time, timedelta
from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from api.pages.forms import period
from cards.clock import Clock
from cards.guard_worth import guard_worth
from cards.identity import StaffIdentity

DEFAULT_DAYS = 30


class GuardWorthPageController(Controller):
    path = "/worth"

    @get(name="console.worth")
    async def show(
        self, request: Request[Any, Any, Any], actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]
    ) -> Template:
        today = datetime.combine(clock().date(), time(), UTC)
        values = {k: str(request.query_params.get(k, "")).strip() for k in ("since", "until")}
        since, until, problems = period(values["since"], values["until"])
        since = since or today - timedelta(days=DEFAULT_DAYS - 1)
        until = until or today + timedelta(days=1)
        if since >= until:  # a start after today's end, with no end typed
            problems.append("The period starts after it ends; the last days up to today are shown.")
            since, until = today - timedelta(days=DEFAULT_DAYS - 1), today + timedelta(days=1)
        worth = await guard_worth(actor.business_id, since, until)
        return Template(
            template_name="worth.html",
            context={
                "actor": actor,
                "worth": worth,
                "since": since.date(),
                "through": (until - timedelta(days=1)).date(),
                "problems": problems,
            },
        )
