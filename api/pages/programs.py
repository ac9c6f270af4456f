"""Programs on the console: list, create (owners only), and edit the rules and each risk
threshold through the same `cards/programs.py` functions as `/v1/programs`, so a manager's
relaxing is refused by the domain, in its own words."""

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from markupsafe import Markup

from api import qr
from api.pages import words
from api.pages.customer_card import CARD
from api.pages.errors import error_page
from api.settings import Settings
from cards import programs
from cards.clock import Clock
from cards.identity import StaffIdentity
from mobile_contract import programs as wire

PROGRAMS_PAGE = "/console/programs"
RULES: dict[str, type] = {
    "punches_per_reward": int,
    "stamp_lifetime_s": int,
    "cooldown_s": int,
    "daily_cap": int,
}
DEFAULT_RISK = wire.RiskThresholds()
THRESHOLDS: dict[str, type] = {
    name: type(getattr(DEFAULT_RISK, name)) for name in wire.RiskThresholds.__struct_fields__
}
FIELD_WORDS = {
    "name": "a program name of 1 to 120 characters",
    "reward_name": "a reward name of 1 to 120 characters",
    "reward_value_cents": "what the free item costs you, from 0.00 to 1000.00 (or nothing)",
    "punches_per_reward": "punches per reward from 1 to 100",
    "stamp_lifetime_s": "a stamp lifetime from 10 to 120 seconds",
    "cooldown_s": "a cooldown from 0 to 86400 seconds",
    "daily_cap": "a daily cap from 1 to 100 punches",
    "excess_policy": "an excess policy: refuse or flag",
    "ends_at": "an end as a date and a time (UTC), or nothing for a program that does not end",
}


def _invalid(exc: msgspec.ValidationError) -> str:
    text = str(exc)
    for field, field_words in FIELD_WORDS.items():
        if f"$.{field}`" in text or text.endswith(f"$.{field}"):
            return f"The form needs {field_words}. Go back and correct it."
    for field in THRESHOLDS:
        if f"$.risk.{field}" in text:
            return f"The threshold {field.replace('_', ' ')} is out of its range ({text}). Go back and correct it."
    return "Some of the form is not filled in as it should be. Go back and correct it."


def _number(text: str, kind: type) -> Any:
    try:
        return kind(text)
    except ValueError:
        return text  # left for the struct to refuse, by field name


def _cents(text: str) -> Any:
    """A price as typed ("4.50", "4", "4,50") in cents; empty: None; anything else is left for
    the struct to refuse by field name."""
    text = text.strip().replace(",", ".")
    if not text:
        return None
    whole, _, fraction = text.partition(".")
    if whole.isdigit() and len(whole) <= 7 and (fraction.isdigit() or fraction == "") and len(fraction) <= 2:
        return int(whole) * 100 + int(fraction.ljust(2, "0") or 0)
    return text


def end_field(moment: datetime | None) -> str:
    """A program's end for the form's datetime-local field, in UTC to the second ('' for none)."""
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _end(form: Any) -> Any:
    """The end as typed: UNSET when the field still shows what the page showed (so a save of
    other settings never moves it, even by the seconds the field cannot show), None when
    emptied, else the UTC moment (text the struct refuses when it is not one)."""
    typed = str(form.get("ends_at", "")).strip()
    if "ends_at_was" in form and typed == str(form.get("ends_at_was", "")).strip():
        return msgspec.UNSET
    if not typed:
        return None
    try:
        return datetime.fromisoformat(typed).replace(tzinfo=UTC)
    except ValueError:
        return typed


def _program_fields(form: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": str(form.get("name", "")),
        "reward_name": str(form.get("reward_name", "")),
        "reward_value_cents": _cents(str(form.get("reward_value", ""))),
        "excess_policy": str(form.get("excess_policy", "")),
    }
    for name, kind in RULES.items():
        fields[name] = _number(str(form.get(name, "")).strip(), kind)
    fields["risk"] = {
        name: _number(str(form.get(f"risk_{name}", "")).strip(), kind) for name, kind in THRESHOLDS.items()
    }
    if (end := _end(form)) is not msgspec.UNSET:
        fields["ends_at"] = end
    return fields


def join_link(base_url: str, program: wire.Program) -> str:
    """Where a customer joins the program with the web card: the café prints it as a QR code at the
    till, or sends it. `base_url` is PUNCHGUARD_PUBLIC_URL when set (behind a TLS proxy: see the
    README), else the address the console was opened at."""
    query = urlencode({"business": str(program.business_id), "program": str(program.id)})
    return f"{base_url.rstrip('/')}{CARD}?{query}"


def state(program: wire.Program, now: datetime) -> str:
    """A program's state in a word: open, closed (by hand), or ended (its end has passed)."""
    if not program.active:
        return "closed"
    return "open" if programs.program_open(program.active, program.ends_at, now) else "ended"


def _context(actor: StaffIdentity, program: wire.Program | None, now: datetime) -> dict[str, Any]:
    return {
        "state": state(program, now) if program else None,
        "actor": actor,
        "program": program,
        "risk": program.risk if program else DEFAULT_RISK,
        "threshold_words": words.THRESHOLD_WORDS,
        "thresholds": {name: kind.__name__ for name, kind in THRESHOLDS.items()},
        "ends_at": end_field(program.ends_at if program else None),
    }


class ProgramPagesController(Controller):
    path = "/programs"

    @get(name="console.programs")
    async def list_all(self, actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]) -> Template:
        found = await programs.list_programs(actor.business_id)
        context = _context(actor, None, clock()) | {
            "programs": found,
            "states": {p.id: state(p, clock()) for p in found},
        }
        return Template(template_name="programs.html", context=context)

    @post(status_code=303)
    async def create(
        self, request: Request[Any, Any, Any], actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]
    ) -> Response[Any]:
        try:
            data = msgspec.convert(_program_fields(await request.form()), wire.ProgramCreate)
        except msgspec.ValidationError as exc:
            return error_page(request, 400, _invalid(exc))
        program = await programs.create_program(actor, data, clock())
        return Redirect(f"{PROGRAMS_PAGE}/{program.id}", status_code=303)

    @get("/{program_id:uuid}", name="console.program")
    async def show(
        self,
        request: Request[Any, Any, Any],
        program_id: FromPath[UUID],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
        settings: NamedDependency[Settings],
    ) -> Template:
        program = await programs.get_program(program_id, actor.business_id)
        link = join_link(settings.public_url or str(request.base_url), program)
        context = _context(actor, program, clock()) | {
            "join_link": link,
            "join_path": join_link("", program),
            "join_qr": Markup(qr.fitted_svg(link, "QR code joining this program")),  # noqa: S704 - escaped there
        }
        return Template(template_name="program.html", context=context)

    @post("/{program_id:uuid}", status_code=303)
    async def edit(
        self,
        request: Request[Any, Any, Any],
        program_id: FromPath[UUID],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        try:
            data = msgspec.convert(_program_fields(await request.form()), wire.ProgramUpdate)
        except msgspec.ValidationError as exc:
            return error_page(request, 400, _invalid(exc))
        await programs.update_program(actor, program_id, data, clock())
        return Redirect(f"{PROGRAMS_PAGE}/{program_id}", status_code=303)

    @post("/{program_id:uuid}/close", status_code=303)
    async def close(
        self, program_id: FromPath[UUID], actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]
    ) -> Response[Any]:
        await programs.update_program(actor, program_id, wire.ProgramUpdate(active=False), clock())
        return Redirect(f"{PROGRAMS_PAGE}/{program_id}", status_code=303)

    @post("/{program_id:uuid}/reopen", status_code=303)
    async def reopen(
        self, program_id: FromPath[UUID], actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]
    ) -> Response[Any]:
        await programs.update_program(actor, program_id, wire.ProgramUpdate(active=True), clock())
        return Redirect(f"{PROGRAMS_PAGE}/{program_id}", status_code=303)
