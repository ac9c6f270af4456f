"""What the guard is worth: free items held and rejected in a period and their value at each
program's reward price, flags by rule, and the cashiers and scanners behind the most flags
(`cards/guard_worth.py`)."""

from datetime import timedelta
from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from api.pages.flags import _date
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
        today = clock().date()
        values = {k: str(request.query_params.get(k, "")).strip() for k in ("since", "until")}
        problems = []
        for key in ("since", "until"):
            if values[key] and _date(values[key]) is None:
                problems.append(
                    f"“{values[key]}” is not a date (year-month-day); the last {DEFAULT_DAYS} days are shown."
                )
                values = {"since": "", "until": ""}
        since = _date(values["since"]) or _date((today - timedelta(days=DEFAULT_DAYS - 1)).isoformat())
        through = _date(values["until"]) or _date(today.isoformat())
        assert since is not None and through is not None
        if since > through:
            problems.append("The period starts after it ends; the two dates were swapped.")
            since, through = through, since
        worth = await guard_worth(actor.business_id, since, through + timedelta(days=1))
        return Template(
            template_name="worth.html",
            context={
                "actor": actor,
                "worth": worth,
                "since": since.date(),
                "through": through.date(),
                "problems": problems,
            },
        )
