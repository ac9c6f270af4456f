"""The fraud drill: a month of a three-store chain, honest customers and every attack (`make drill`)."""

import argparse


# Here, not in drill/run.py: the drill reads its arguments before it may import `cards` (which
# reads DATABASE_URL once, and the drill sets it first).
def check_size(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The drill's and the demo's --days and --customers: attacks prepare their cards over five days."""
    if args.days < 7:
        parser.error("--days must be at least 7: attacks prepare their cards over five days")
    if args.customers < 1:
        parser.error("--customers must be at least 1")
