"""The first owner's sign-up with the one-time code `make run` printed: the same
`cards/staff.set_up_first_owner` (and the same "setup" rate limit) as `POST /v1/setup`, then
signed in to the console as that owner."""

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from api.pages.session import set_session_cookie
from api.settings import Settings
from cards import sessions, staff
from cards.clock import Clock
from cards.errors import DomainError
from mobile_contract import auth as wire_auth
from mobile_contract.problems import Problem

FIRST_PAGE = "/console/stores"  # a café starts with its first store
FIELD_WORDS = {
    "setup_code": "the setup code the server printed",
    "business_name": "your café's name (1 to 120 characters)",
    "name": "your name (1 to 120 characters)",
    "email": "your e-mail address",
    "password": "a password of 12 to 256 characters",
}
TEXT_FIELDS = ("setup_code", "business_name", "name", "email")


def _form(status: int = 200, *, error: str | None = None, values: dict[str, str] | None = None) -> Template:
    return Template(template_name="setup.html", context={"error": error, "values": values or {}}, status_code=status)


class SetupController(Controller):
    """Needs no session (but the CSRF token, like every console form)."""

    path = "/setup"

    @get(name="console.setup")
    async def show(self) -> Template:
        return _form()

    @post(opt={"rate_limit": "setup"}, status_code=303)
    async def set_up(
        self, request: Request[Any, Any, Any], settings: NamedDependency[Settings], clock: NamedDependency[Clock]
    ) -> Response[Any]:
        form = await request.form()
        values = {key: str(form.get(key, "")).strip() for key in TEXT_FIELDS}
        try:
            data = msgspec.convert({**values, "password": str(form.get("password", ""))}, wire_auth.OwnerSetup)
        except msgspec.ValidationError as exc:
            wrong = next((words for field, words in FIELD_WORDS.items() if f"$.{field}" in str(exc)), "every field")
            return _form(400, error=f"The form needs {wrong}.", values=values)
        try:
            owner = await staff.set_up_first_owner(data, clock())
        except DomainError as exc:
            if exc.problem is Problem.INVALID_SETUP_CODE:
                return _form(
                    403,
                    error="That setup code is wrong, used already or more than 24 hours old. "
                    "`python -m api setup-code` prints a new one (on a server without an owner yet).",
                    values=values,
                )
            raise
        identity = await staff.authenticate(
            wire_auth.Login(email=data.email, password=data.password, business_id=owner.business_id)
        )
        _, token = await sessions.open_console_session(identity, clock(), settings.refresh_ttl)
        response: Response[Any] = Redirect(FIRST_PAGE, status_code=303)
        set_session_cookie(response, request, token)
        return response
