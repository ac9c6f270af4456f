"""The command line: `python -m api init | migrate | setup-code | rotate-keys | openapi | serve`."""

import argparse
import asyncio
import json
import sys

import cards  # noqa: F401  (points piccolo at cards/piccolo_conf.py)
from api.settings import Settings
from cards import staff
from cards.database import database_url
from cards.migrate import migrate
from crypto.keyring import load_or_create_keyring, rotate_keyring


def _print_setup_code(code: str | None) -> None:
    if code is None:
        return
    print(
        "\n  No owner yet. To create the first owner, POST /v1/setup with this one-time code:\n\n"
        f"      {code}\n\n  (run `python -m api setup-code` for a new one)\n",
        flush=True,
    )


async def _init(settings: Settings) -> None:
    await migrate()
    ring = load_or_create_keyring(settings.keyring_path)
    print(
        f"database ready ({database_url().split('://')[0]}); signing key {ring.active.kid} at {settings.keyring_path}",
        flush=True,
    )
    _print_setup_code(await staff.new_setup_code())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api", description="PunchGuard server")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="migrate the database, create keys, print a setup code if there is no owner")
    commands.add_parser("migrate", help="apply database migrations (safe to run from several processes)")
    commands.add_parser("setup-code", help="print a new one-time code for the first owner")
    commands.add_parser("rotate-keys", help="make a new signing key; retired public keys still verify")
    commands.add_parser("openapi", help="print the OpenAPI document the server serves")
    serve = commands.add_parser("serve", help="serve the API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    settings = Settings.from_env()

    if args.command == "init":
        asyncio.run(_init(settings))
    elif args.command == "migrate":
        asyncio.run(migrate())
    elif args.command == "setup-code":
        code = asyncio.run(staff.new_setup_code())
        if code is None:
            print("An owner already exists; setup codes are only for an empty database.", file=sys.stderr)
            return 1
        _print_setup_code(code)
    elif args.command == "rotate-keys":
        ring = rotate_keyring(settings.keyring_path)
        print(f"active signing key is now {ring.active.kid}; {len(list(ring)) - 1} retired key(s) still verify")
    elif args.command == "openapi":
        import tempfile
        from pathlib import Path

        from api.app import create_app

        # The document does not depend on keys: a throwaway keyring leaves data/ untouched.
        with tempfile.TemporaryDirectory() as scratch:
            app = create_app(settings, keyring=load_or_create_keyring(Path(scratch) / "keyring.json"))
        print(json.dumps(app.openapi_schema.to_schema(), indent=2, sort_keys=True))
    elif args.command == "serve":
        import uvicorn

        uvicorn.run(
            "api.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers, access_log=False
        )
    return 0
