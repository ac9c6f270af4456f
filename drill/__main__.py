"""`python -m drill` (`make drill`): a month of a three-store café chain, honest crowd and every attack.

The real server runs in this process on a free port of 127.0.0.1, on a simulated clock
the drill moves forward; every action goes over HTTP with the reference client. By
default it uses a fresh temporary SQLite database; set DATABASE_URL to run it on an
empty PostgreSQL database instead. Exits 1 when a target is missed.
"""

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from drill import check_size

RESULTS = Path(__file__).with_name("results.json")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m drill", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=2000, help="honest customers (default 2000)")
    parser.add_argument("--days", type=int, default=30, help="simulated days, at least 7 (default 30)")
    parser.add_argument("--seed", type=int, default=20250602, help="the random seed (default 20250602)")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"where to write the results (default {RESULTS})")
    parser.add_argument(
        "--batch", type=int, default=16, help="independent events played at once (default 16; 1 plays one at a time)"
    )
    parser.add_argument(
        "--window", type=float, default=300, help="simulated seconds an event batch may span (default 300)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    check_size(parser, args)
    return args


async def _main(args: argparse.Namespace, scratch: Path, engine: str) -> dict[str, Any]:
    from drill.run import Options, migrated_and_empty, run_drill

    if not await migrated_and_empty():
        raise SystemExit("DATABASE_URL points at a database that already has data; give the drill an empty one")
    return await run_drill(
        Options(
            customers=args.customers, days=args.days, seed=args.seed, scratch=scratch, engine=engine, quiet=args.quiet
        )
    )


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    # In memory when the machine offers it: the database is thrown away, so nothing needs a disk.
    shm = Path("/dev/shm")  # noqa: S108 (mkdtemp makes a private directory of its own inside)
    scratch = Path(tempfile.mkdtemp(prefix="punchguard-drill-", dir=shm if shm.is_dir() else None))
    try:
        if not os.environ.get("DATABASE_URL"):
            # Before `cards` is imported: piccolo reads the engine from DATABASE_URL once.
            os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/drill.sqlite3"
        engine = "postgresql" if os.environ["DATABASE_URL"].startswith("postgres") else "sqlite"
        try:
            import uvloop

            results = uvloop.run(_main(args, scratch, engine))
        except ImportError:
            results = asyncio.run(_main(args, scratch, engine))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    from drill.report import summary

    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(summary(results))
    print(f"\nresults written to {args.output}")
    return 0 if results["targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
