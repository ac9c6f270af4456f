"""A phone on the command line, for trying PunchGuard by hand and for the README's walk-through.

    python -m mobile_contract.phone enroll --api http://127.0.0.1:8000
    python -m mobile_contract.phone join PROGRAM_ID     # prints the card id
    python -m mobile_contract.phone stamp [--qr]        # prints the stamp the cashier scans
    python -m mobile_contract.phone redeem [--qr]       # prints the code for the free item
    python -m mobile_contract.phone card                # the card as the customer sees it

It is `client.PhoneClient`, the reference phone, with its memory in a file (`--state`,
`phone.json` by default, mode 0600): the device's private key, the API's address, the
session and the rising counter. The counter is written to the file before each request
leaves, as a real app must store it: a counter the server saw once and sees again, or one
that goes back, reads as a cloned phone and freezes the card. So keep one file per phone,
and never copy it to make a second phone.

What it sends (method, path, body) and what it gets (status, body) go to stderr; the one
value a command exists for (a card id, a stamp, a code) goes to stdout, so a shell can
write `STAMP=$(python -m mobile_contract.phone stamp)`. A problem answer (RFC 9457) exits 1,
an unreachable server or a missing enrollment exits 2. An expired session is renewed on
the way, by signing a fresh challenge with the device key (sessions last an hour).
"""

import argparse
import asyncio
import datetime as dt
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

import httpx
import msgspec

from mobile_contract import customers
from mobile_contract.client import DeviceKey, PhoneClient, ProblemError

DEFAULT_STATE = Path("phone.json")


class PhoneFileError(Exception):
    """The state file is missing, unreadable, or already holds another phone."""


class State(msgspec.Struct, kw_only=True):
    """What the phone remembers between commands."""

    api: str
    private_key_pem: str
    counter: int = 0
    customer_id: UUID | None = None
    device_id: UUID | None = None
    session: customers.DeviceSession | None = None
    card_id: UUID | None = None


def load(path: Path) -> State:
    try:
        return msgspec.json.decode(path.read_bytes(), type=State)
    except FileNotFoundError as exc:
        raise PhoneFileError(f"{path} holds no phone: run `enroll --api URL` first") from exc
    except msgspec.DecodeError as exc:
        raise PhoneFileError(f"{path} is not a phone's state file: {exc}") from exc


def save(path: Path, state: State) -> None:
    """Write the state whole or not at all, readable by its owner only (it holds the private key)."""
    scratch = path.with_name(f".{path.name}.tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(msgspec.json.format(msgspec.json.encode(state), indent=2) + b"\n")
        file.flush()
        os.fsync(file.fileno())
    os.chmod(scratch, 0o600)  # a file left over from an earlier try may have had other bits
    os.replace(scratch, path)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _remember(state: State, phone: PhoneClient) -> State:
    return State(
        api=state.api,
        private_key_pem=state.private_key_pem,
        counter=phone.counter,
        customer_id=phone.customer_id,
        device_id=phone.device_id,
        session=phone.session,
        card_id=phone.card_id,
    )


def _restore(state: State, http: httpx.AsyncClient) -> PhoneClient:
    phone = PhoneClient(http, key=DeviceKey.from_pem(state.private_key_pem.encode()), clock=_now)
    phone.counter = state.counter
    phone.customer_id, phone.device_id = state.customer_id, state.device_id
    phone.session, phone.card_id = state.session, state.card_id
    return phone


def _hooks(before_send: Callable[[], None], trace: TextIO | None) -> dict[str, list[Any]]:
    """Keep the state before every request leaves (the counter above all); print each exchange to `trace`."""

    async def on_request(request: httpx.Request) -> None:
        before_send()
        if trace is not None:
            body = request.content.decode(errors="replace")
            print(f"> {request.method} {request.url.raw_path.decode()} {body}".rstrip(), file=trace, flush=True)

    async def on_response(response: httpx.Response) -> None:
        if trace is not None:
            await response.aread()
            print(f"< {response.status_code} {response.text}", file=trace, flush=True)

    return {"request": [on_request], "response": [on_response]}


def draw_qr(text: str, out: TextIO) -> None:
    """The text as a QR code in the terminal, for a scanner pointed at the screen."""
    import qrcode  # only --qr needs it
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=2)
    code.add_data(text)
    code.make(fit=True)
    code.print_ascii(out=out, invert=True)


def _json(value: msgspec.Struct | list[Any]) -> str:
    return msgspec.json.format(msgspec.json.encode(value), indent=2).decode()


async def _command(args: argparse.Namespace, phone: PhoneClient) -> str:
    """Run one command; returns what goes to stdout."""
    card: UUID | None = getattr(args, "card", None)
    if args.command == "enroll":
        session = await phone.enroll(email=args.email, phone=args.phone, display_name=args.name)
        return str(session.customer_id)
    if args.command == "session":
        return str((await phone.renew_session()).expires_at.isoformat())
    if args.command == "join":
        return str((await phone.join(args.program)).id)
    if args.command == "cards":
        return _json(await phone.cards())
    if args.command == "card":
        return _json(await phone.card(card))
    if args.command == "stamp":
        stamp = (await phone.request_stamp(card)).stamp
        if args.qr:
            draw_qr(stamp, sys.stderr)
        return stamp
    if args.command == "redeem":
        code = (await phone.redemption_code(card)).code
        if args.qr:
            draw_qr(code, sys.stderr)
        return code
    raise AssertionError(args.command)


def prepare(args: argparse.Namespace) -> State:
    """The phone the command works with: a new key for `enroll`, else the one in the state file."""
    path: Path = args.state
    if args.command == "enroll":
        if path.exists() and not args.replace:
            raise PhoneFileError(
                f"{path} already holds a phone; use another --state, or --replace to forget that phone and its cards"
            )
        return State(api=args.api, private_key_pem=DeviceKey(args.algorithm).private_pem().decode())
    state = load(path)
    if state.device_id is None:
        raise PhoneFileError(f"{path} holds no enrolled phone: run `enroll --api URL`")
    if args.api:
        state.api = args.api
    return state


async def run(
    args: argparse.Namespace,
    state: State,
    trace: TextIO = sys.stderr,
    transport: httpx.AsyncBaseTransport | None = None,
) -> str:
    """Run the command as `state`'s phone, and keep what changed (also when the server refused).

    `transport` replaces the network (tests hand it the app in-process)."""
    path: Path = args.state
    phone: PhoneClient | None = None

    def keep() -> None:
        # Nothing to keep before the server knows the phone: a failed enrollment leaves no file.
        if phone is not None and phone.device_id is not None:
            save(path, _remember(state, phone))

    hooks = _hooks(keep, None if args.quiet else trace)
    async with httpx.AsyncClient(base_url=state.api, timeout=30, event_hooks=hooks, transport=transport) as http:
        phone = _restore(state, http)
        try:
            return await _command(args, phone)
        finally:
            keep()


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m mobile_contract.phone",
        description="A customer's phone for PunchGuard, on the command line (the reference client's PhoneClient).",
    )
    top.add_argument("--state", type=Path, default=DEFAULT_STATE, help="the phone's file (default: phone.json)")
    top.add_argument("-q", "--quiet", action="store_true", help="do not print the requests and answers")
    # Given to every command, so that both `--api URL enroll` and `enroll --api URL` read naturally.
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument(
        "--api", default=argparse.SUPPRESS, help="the server, e.g. http://127.0.0.1:8000 (remembered from enroll)"
    )
    top.add_argument("--api", default=None, help=argparse.SUPPRESS)
    commands = top.add_subparsers(dest="command", required=True)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=text, parents=[server])

    enroll = command("enroll", "make a device key and enroll it as a new customer")
    enroll.add_argument("--algorithm", choices=["Ed25519", "ES256"], default="Ed25519")
    enroll.add_argument("--email", default=None)
    enroll.add_argument("--phone", default=None)
    enroll.add_argument("--name", default=None, help="the customer's display name")
    enroll.add_argument("--replace", action="store_true", help="overwrite a phone already in the state file")

    command("session", "sign a fresh challenge for a new session (done by itself when needed)")
    join = command("join", "join a program; prints the new card's id, which becomes the default")
    join.add_argument("program", type=UUID)
    command("cards", "the phone's cards")
    for name, text in (
        ("card", "a card's balance, reward status and history"),
        ("stamp", "a fresh single-use stamp for the cashier to scan"),
        ("redeem", "a single-use code for the card's free item"),
    ):
        one = command(name, text)
        one.add_argument("card", type=UUID, nargs="?", default=None, help="default: the card last joined")
        if name != "card":
            one.add_argument("--qr", action="store_true", help="also draw it as a QR code (on stderr)")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "enroll" and not args.api:
        print("enroll needs --api URL (the server's address)", file=sys.stderr)
        return 2
    try:
        print(asyncio.run(run(args, prepare(args))))
    except ProblemError as exc:
        print(f"problem: {exc.status} {exc.type}: {exc.detail}", file=sys.stderr)
        for reason in exc.reasons:
            print(f"  - {reason}", file=sys.stderr)
        return 1
    except PhoneFileError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except httpx.TransportError as exc:
        print(f"cannot reach the server: {exc!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
