"""`python -m drill.demo` (`make demo`): three weeks of a café chain in your own database, so the
owner's console has something to show: honest customers, and the frauds an owner reviews.

It plays the drill (drill/run.py) on the database and keys the server uses (DATABASE_URL, or
PUNCHGUARD_DATA_DIR's SQLite file), with its weeks ending yesterday, and only the attacks that
leave something for an owner to decide: shared and cloned cards, punching sprees, a cashier's own
card, refunds, an insider's edits to the ledger. It fills an empty database only; it never
touches a café's data.
"""

import argparse
import asyncio
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.settings import Settings
from cards.clock import system_clock
from cards.database import database_url, describe, stored_uuid
from cards.errors import DomainError
from cards.flag_review import review_flag
from cards.identity import StaffIdentity
from cards.tables import Flag, Staff
from crypto.keyring import load_keyring
from drill import check_size
from drill.run import Options, migrated_and_empty, run_drill
from drill.world import OWNER_EMAIL, PASSWORD, ZONE, start_on

DEMO_ATTACKS = frozenset(
    {
        "T3_cloned_key",
        "T4_shared_card_travel",
        "T5_burst_punching",
        "T6_own_card",
        "T6_friend_farming",
        "T7_no_customer_present",
        "T8_refund_then_redeem",
        "T10_insider_added_punches",
        "T10_insider_edited_punch",
        "T14_cards_from_one_contact",
        "T17_anonymous_own_card",
        "T17_manager_clears_own_card",
        "off_hours_punching",
        "scanner_burst",
    }
)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m drill.demo", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--customers", type=int, default=60, help="honest customers (default 60)")
    parser.add_argument("--days", type=int, default=21, help="days of traffic, at least 7 (default 21)")
    parser.add_argument("--seed", type=int, default=20261202, help="the random seed (default 20261202)")
    args = parser.parse_args(argv)
    check_size(parser, args)
    return args


async def _seed(args: argparse.Namespace) -> int:

    where = describe(database_url())
    if not await migrated_and_empty():
        print(
            f"The database ({where}) already holds a business: the demo fills an empty one only.\n"
            "Give it a folder of its own, and serve that folder:\n\n"
            "    PUNCHGUARD_DATA_DIR=data-demo make demo run",
            file=sys.stderr,
        )
        return 1
    # Its last day is yesterday (in the café's zone), so nothing lies in the future of a server started now.
    start_on(datetime.now(UTC).astimezone(ZONE).date() - timedelta(days=args.days + 1))
    print(
        f"Playing {args.days} days of a three-store café with {args.customers} customers into {where} ...", flush=True
    )
    with tempfile.TemporaryDirectory(prefix="punchguard-demo-") as scratch:
        results = await run_drill(
            Options(
                customers=args.customers,
                days=args.days,
                seed=args.seed,
                scratch=Path(scratch),
                engine="postgresql" if where.startswith("postgres") else "sqlite",
                quiet=True,
                attacks=DEMO_ATTACKS,
                settings=Settings.from_env(),
            )
        )
    recent = max(2, args.days // 3)  # the last third of the weeks waits in the queue
    decided = await _review_older_flags(Settings.from_env(), days=recent)
    honest, run = results["honest"], results["run"]
    print(
        f"Done in {run['wall_time_s']:.0f} s: {honest['visits']} visits, {honest['punches']} punches, "
        f"{honest['redemptions_granted']} free items given; {len(DEMO_ATTACKS)} kinds of fraud played, the owner "
        f"decided {decided} flags older than {recent} days and left the rest in the review queue.\n\n"
        "Serve it (`make run`), open http://127.0.0.1:8000/console and sign in as the owner:\n\n"
        f"    e-mail    {OWNER_EMAIL}\n"
        f"    password  {PASSWORD}\n\n"
        "Managers sign in the same way (e.g. mis.manager@beanthere.test, same password)."
    )
    return 0


async def _review_older_flags(settings: Settings, days: int) -> int:
    """The owner has already been through the queue's older flags: cards sharing one contact
    approved (a family, say), the others rejected (their punches voided); the last `days` days' wait."""

    owner = await Staff.select(Staff.id, Staff.business).where(Staff.role == "owner").first()
    assert owner is not None, "the drill made the owner"
    actor = StaffIdentity(
        staff_id=stored_uuid(owner["id"]), business_id=stored_uuid(owner["business"]), role="owner", store_id=None
    )
    keyring, now = load_keyring(settings.keyring_path), system_clock()
    older = await Flag.select(Flag.id, Flag.rule).where(
        (Flag.status == "open") & (Flag.rule != "reward_held") & (Flag.created_at < now - timedelta(days=days))
    )
    decided = 0
    for flag in older:
        if not await Flag.exists().where((Flag.id == flag["id"]) & (Flag.status == "open")):
            continue  # settled when an earlier rejection voided its punches
        approve = flag["rule"] == "shared_contact"
        reason = "One family shares that e-mail address." if approve else "The receipts do not match these punches."
        try:
            await review_flag(
                actor, stored_uuid(flag["id"]), "approved" if approve else "rejected", reason, now, keyring
            )
        except DomainError:  # settled meanwhile by another rejection: nothing left to decide
            continue
        decided += 1
    return decided


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        import uvloop

        return uvloop.run(_seed(args))
    except ImportError:
        return asyncio.run(_seed(args))


if __name__ == "__main__":
    sys.exit(main())
