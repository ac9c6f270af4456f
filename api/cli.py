"""The command line: `python -m api init | migrate | setup-code | new-business | rotate-keys | openapi | serve |
checkpoint | verify-checkpoints | sweep`."""

import argparse
import asyncio
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import cards  # noqa: F401  (points piccolo at cards/piccolo_conf.py)
from api.settings import Settings
from cards import checkpoints, staff, sweep
from cards.audit_log import record_action
from cards.database import database_url, describe, write_transaction
from cards.migrate import migrate
from cards.tables import Business
from crypto.keyring import KeyringError, load_keyring, load_or_create_keyring, rotate_keyring
from mobile_contract.checkpoints import CheckpointReport

_KEEP_CHECKPOINTS_ELSEWHERE = (
    "Checkpoints protect the ledger only if they are copied somewhere the database's insiders cannot "
    "write: mail them to the owner, or put them in object storage with a retention lock."
)


_LIFETIME = f"{int(staff.SETUP_CODE_LIFETIME.total_seconds() // 3600)} hours"


def _print_setup_code(code: str | None) -> None:
    if code is None:
        return
    print(
        "\n  No owner yet. The first owner enters this one-time code (good for"
        f" {_LIFETIME}) on the console's /console/setup page, or posts it to POST /v1/setup:\n\n"
        f"      {code}\n\n  (run `python -m api setup-code` for a new one)\n",
        flush=True,
    )


def _print_business_code(code: str) -> None:
    print(
        f"\n  A one-time code for one more business (good once, for {_LIFETIME}). Its first owner\n"
        "  posts it to POST /v1/setup with the business's name and their own account:\n\n"
        f"      {code}\n",
        flush=True,
    )


async def _init(settings: Settings) -> None:
    await migrate()
    ring = load_or_create_keyring(settings.keyring_path)
    print(
        f"database ready ({describe(database_url())}); signing key {ring.active.kid} at {settings.keyring_path}",
        flush=True,
    )
    _print_setup_code(await staff.new_setup_code())


async def _checkpoint(settings: Settings, day: date | None, directory: Path) -> int:
    written = await checkpoints.write_checkpoints(
        day, directory, load_keyring(settings.keyring_path), datetime.now(UTC)
    )
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"nothing new under {directory} (a checkpoint is never overwritten, nor made before its day ends)")
    print(_KEEP_CHECKPOINTS_ELSEWHERE)
    return 0


def _print_report(report: CheckpointReport) -> None:
    label = f"{report.store_id} {report.date}"
    if report.intact:
        print(f"{label}: intact")
        return
    differences = len(report.added) + len(report.removed) + len(report.changed)
    if differences:
        print(f"{label}: DIFFERS ({differences} entr{'y' if differences == 1 else 'ies'})")
    else:  # the checkpoint itself could not be trusted, so nothing was compared
        print(f"{label}: NOT VERIFIED")
    for kind, ids in (("added", report.added), ("removed", report.removed), ("changed", report.changed)):
        for entry_id in ids:
            print(f"  {kind:<8} {entry_id}")
    for problem in report.problems:
        print(f"  - {problem}")


async def _verify_checkpoints(settings: Settings, directory: Path) -> int:
    reports = await checkpoints.verify_directory(directory, load_keyring(settings.keyring_path))
    if not reports:
        print(f"no checkpoints under {directory}", file=sys.stderr)
        return 1
    for report in reports:
        _print_report(report)
    return 0 if all(report.intact for report in reports) else 1


async def _record_rotation(old_kid: str, new_kid: str) -> None:
    """Every business's audit log says the server's signing key changed, and when."""
    now = datetime.now(UTC)
    async with write_transaction():
        for business in await Business.select(Business.id):
            await record_action(
                actor=None,
                business_id=business["id"],
                action="keys.rotate",
                subject_kind="keyring",
                subject_id=business["id"],
                reason=None,
                now=now,
                details={"old_kid": old_kid, "new_kid": new_kid},
            )


async def _sweep() -> int:
    for kind, count in (await sweep.sweep(datetime.now(UTC))).items():
        print(f"{kind}: {count} deleted")
    return 0


def _day_argument(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api", description="PunchGuard server")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="migrate the database, create keys, print a setup code if there is no owner")
    commands.add_parser("migrate", help="apply database migrations (safe to run from several processes)")
    commands.add_parser("setup-code", help="print a new one-time code for the first owner (empty database only)")
    commands.add_parser("new-business", help="print a one-time code that sets up one more business and its first owner")
    commands.add_parser("rotate-keys", help="make a new signing key; retired public keys still verify")
    commands.add_parser("openapi", help="print the OpenAPI document the server serves")
    commands.add_parser(
        "sweep", help="delete expired challenges, codes, rate-limit counters and sessions (the server does it too)"
    )
    checkpoint = commands.add_parser(
        "checkpoint",
        help="sign each store's ledger for a day into <dir>/<store>/<date>.json",
        description="Write one signed checkpoint per store: the exact ledger entries the store recorded "
        "during one local day, under a signed Merkle root. " + _KEEP_CHECKPOINTS_ELSEWHERE,
    )
    checkpoint.add_argument(
        "--date", type=_day_argument, default=None, help="the local day (default: each store's previous day)"
    )
    checkpoint.add_argument("--dir", type=Path, default=None, help="where to write (default: <data dir>/checkpoints)")
    verify = commands.add_parser(
        "verify-checkpoints",
        help="compare saved checkpoints with the ledger; exit 1 if any entry was added, removed or changed",
        description="Check every <store>/<date>.json under --dir and name each entry added, removed or changed "
        "since it was signed. " + _KEEP_CHECKPOINTS_ELSEWHERE,
    )
    verify.add_argument(
        "--dir", type=Path, default=None, help="where the checkpoints are (default: <data dir>/checkpoints)"
    )
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
            print(
                "An owner already exists; setup codes are only for an empty database. "
                "For another business: python -m api new-business",
                file=sys.stderr,
            )
            return 1
        _print_setup_code(code)
    elif args.command == "new-business":
        _print_business_code(asyncio.run(staff.new_business_code()))
    elif args.command == "rotate-keys":
        old_kid = load_keyring(settings.keyring_path).active.kid
        ring = rotate_keyring(settings.keyring_path)
        asyncio.run(_record_rotation(old_kid, ring.active.kid))
        print(f"active signing key is now {ring.active.kid}; {len(list(ring)) - 1} retired key(s) still verify")
    elif args.command == "sweep":
        return asyncio.run(_sweep())
    elif args.command == "openapi":
        import tempfile

        from api.app import create_app

        # The document does not depend on keys: a throwaway keyring leaves data/ untouched.
        with tempfile.TemporaryDirectory() as scratch:
            app = create_app(settings, keyring=load_or_create_keyring(Path(scratch) / "keyring.json"))
        print(json.dumps(app.openapi_schema.to_schema(), indent=2, sort_keys=True))
    elif args.command in ("checkpoint", "verify-checkpoints"):
        directory = args.dir or settings.data_dir / "checkpoints"
        try:
            if args.command == "checkpoint":
                return asyncio.run(_checkpoint(settings, args.date, directory))
            return asyncio.run(_verify_checkpoints(settings, directory))
        except KeyringError as exc:
            print(f"cannot read the signing keys: {exc}", file=sys.stderr)
            return 2
    elif args.command == "serve":
        import uvicorn

        base = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{args.port}"
        print(
            f"\n  PunchGuard at {base}\n"
            f"    owners and managers: {base}/console\n"
            f"    the API: {base}/v1 (its contract: {base}/schema/swagger)\n"
            "  For a console with three weeks of a café in it: stop, `make demo`, `make run` again.\n",
            flush=True,
        )

        # proxy_headers off: uvicorn would believe X-Forwarded-For from 127.0.0.1; the app decides whom
        # to believe, from PUNCHGUARD_TRUSTED_PROXIES (api/rate_limits.py).
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            access_log=False,
            proxy_headers=False,
        )
    return 0
