"""Signing in to the console and out of it, through the same sign-in as the JSON API."""

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.response import Redirect, Template

from api.pages.session import clear_session_cookie, set_session_cookie
from api.rate_limits import enforce
from api.settings import Settings
from cards import sessions, staff
from cards.clock import Clock
from cards.errors import DomainError
from cards.identity import MANAGING_ROLES, StaffIdentity
from mobile_contract import auth as wire_auth
from mobile_contract.problems import Problem

QUEUE = "/console/flags"
SIGN_IN = "/console/sign-in"
# The sign-in refuses a cashier without a scanner exactly as it refuses a wrong password (T13):
# the page says both, so a cashier knows why without the answer telling a guesser anything.
WRONG = (
    "That e-mail address and password do not open an owner's or a manager's account. "
    "Check them and try again. Cashiers cannot use the console: they sign in at a till."
)
CASHIER = "Cashiers cannot use the console: it is for owners and managers. Sign in at a till instead."


def _form(
    status: int = 200,
    *,
    error: str | None = None,
    email: str = "",
    businesses: list[dict[str, str]] | None = None,
    notice: str | None = None,
) -> Template:
    return Template(
        template_name="sign_in.html",
        context={"error": error, "email": email, "businesses": businesses or [], "notice": notice},
        status_code=status,
    )


class SignInController(Controller):
    """The sign-in form; needs no session (but the CSRF token, like every console form)."""

    path = "/sign-in"

    @get(name="console.sign_in")
    async def show(self, ended: FromQuery[str | None] = None) -> Template:
        notice = "You have signed out." if ended == "signed-out" else None
        return _form(notice=notice)

    @post(opt={"rate_limit": "login"}, status_code=303)
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        form = await request.form()
        email = str(form.get("email", "")).strip()
        fields: dict[str, Any] = {"email": email, "password": str(form.get("password", ""))}
        if form.get("business_id"):
            fields["business_id"] = str(form.get("business_id"))
        try:
            login = msgspec.convert(fields, wire_auth.Login)
        except msgspec.ValidationError:
            return _form(400, error="Enter your e-mail address and your password.", email=email)
        try:
            # The API's per-account limit too: guesses spread over many addresses still meet one.
            await enforce(f"login_account:{login.email.lower()}", settings.rate_limits["login_account"], clock)
            identity = await staff.authenticate(login)
        except ProblemDetailsException as exc:
            return _form(exc.status_code, error=f"Too many sign-ins for this account. {exc.detail}.", email=email)
        except DomainError as exc:
            if exc.problem is Problem.BUSINESS_REQUIRED:
                listed = (exc.extra or {}).get("businesses", [])
                return _form(
                    409,
                    error="This e-mail address and password open accounts at several businesses: choose one.",
                    email=email,
                    businesses=[{"id": str(b["id"]), "name": str(b["name"])} for b in listed],
                )
            if exc.problem is Problem.INVALID_CREDENTIALS:
                return _form(401, error=WRONG, email=email)
            raise
        if identity.role not in MANAGING_ROLES:
            return _form(403, error=CASHIER, email=email)
        _, token = await sessions.open_console_session(identity, clock(), settings.refresh_ttl)
        response: Response[Any] = Redirect(QUEUE, status_code=303)
        set_session_cookie(response, request, token)
        return response


class HomeController(Controller):
    """`/console` itself, and signing out (which needs the session it ends)."""

    path = "/"

    @get()
    async def home(self) -> Redirect:
        return Redirect(QUEUE, status_code=303)

    @post("/sign-out", status_code=303)
    async def sign_out(self, actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]) -> Response[Any]:
        if actor.session_id is not None:
            await sessions.end_session(actor.session_id, clock(), "signed out")
        response: Response[Any] = Redirect(f"{SIGN_IN}?ended=signed-out", status_code=303)
        clear_session_cookie(response)
        return response
