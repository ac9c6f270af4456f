"""What the console's templates say: times in the store's zone, money, names shown safely, and
in words what each rule means and what a decision will do."""

import unicodedata
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup

from cards.flags import HELD_RULE, card_code

RULE_TITLES = {
    HELD_RULE: "Free item held at the till",
    "cooldown": "Punched again too soon",
    "daily_cap": "More punches in a day than the program allows",
    "counter_regression": "The phone's counter went backwards",
    "device_key_refused": "A phone key anyone can sign for",
    "impossible_travel": "Punched at two stores too far apart in time",
    "ledger_tampered": "The card's ledger does not verify",
    "one_cashier_card": "One cashier behind a free item",
    "outside_opening_hours": "Punched while the store was closed",
    "staff_card": "A card a member of staff punched for themselves",
    "scanner_burst": "A till punching unusually fast",
    "cashier_concentration": "One cashier making most of a card's punches",
    "shared_contact": "Cards sharing one customer's contact details",
    "refund_after_reward": "A refund after the free item was poured",
}


def rule_title(rule: str) -> str:
    return RULE_TITLES.get(rule, rule.replace("_", " ").capitalize())


def local_time(moment: datetime | None, time_zone: str | None = None) -> str:
    """A time in the store's zone (UTC when the store is unknown), e.g. '2026-12-02 14:03 PST'."""
    if moment is None:
        return "—"
    try:
        zone = ZoneInfo(time_zone) if time_zone else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def money(cents: int | None) -> str:
    return "—" if cents is None else f"{cents / 100:.2f}"


def visible_text(value: Any) -> str:
    """A name someone typed, for a form field or a title (where <bdi> cannot go): its invisible
    format characters written out as their code point, so an owner editing it sees them."""
    if value is None:
        return ""
    return "".join(f"[U+{ord(c):04X}]" if unicodedata.category(c) in ("Cf", "Cc") else c for c in str(value))


def shown_name(value: Any) -> Markup:
    """A name someone typed (a customer, a member of staff, a store), safe to show: escaped, its
    invisible format characters (bidi overrides such as U+202E, zero-width marks) made visible
    as their code point, and isolated with <bdi> so it cannot reorder the text around it."""
    if value is None or value == "":
        return Markup("<span class=muted>—</span>")
    text = str(value)
    if not text.isprintable():  # printable text has no Cf or Cc character: most names, at once
        text = visible_text(text)
    return Markup("<bdi>%s</bdi>") % text


def consequences(rule: str, punches: int) -> dict[str, str]:
    """What approving and rejecting a flag will do, in words."""
    if punches == 0:
        approve = "Approving closes the flag as unfounded; no punch changes."
        reject = "Rejecting closes the flag as right; no punch changes (it names none)."
    else:
        if punches == 1:
            counts, voided = "its punch counts", "its punch is voided for good (the card loses it)"
        else:
            counts, voided = (
                f"its {punches} punches count",
                f"its {punches} punches are voided for good (the card loses them)",
            )
        approve = f"Approving says the suspicion was unfounded: {counts} toward the reward again."
        reject = f"Rejecting says the suspicion was right: {voided}."
    if rule == HELD_RULE and punches == 0:
        # Rejecting a held free item voids the punches it would use (cards/flag_review.py).
        approve = (
            "Approving closes this hold as unfounded; the till checks the card again the next time the "
            "customer asks, and gives the free item if nothing else holds it then."
        )
        reject = (
            "Rejecting refuses this free item: the punches it would use (one free item's worth, oldest "
            "first) are voided for good, and the card loses them."
        )
    return {"approve": approve, "reject": reject}


REWARD_STATUS = {
    "collecting": "Collecting punches",
    "available": "A free item is ready at the till",
    "pending_review": "A free item is held for review",
}

# What each risk threshold of a program catches, one sentence each (`RiskThresholds`).
THRESHOLD_WORDS = {
    "travel_max_kmh": "Two punches at different stores faster apart than this speed (km/h) could be travelled: "
    "one card shared or a stamp relayed.",
    "travel_min_km": "Stores closer than this (km) never count as a journey, so neighbouring shops "
    "raise no travel flag.",
    "concentration_share": "A cashier whose punches go to a few cards more than this share of the time (0 to 1) "
    "may be punching for friends.",
    "concentration_cards": "How many cards count as 'a few' when judging one cashier's concentration.",
    "concentration_min_punches": "A cashier is judged only after making this many punches, "
    "so a new one is not flagged.",
    "concentration_window_days": "The days of punches looked back over when judging a cashier's concentration.",
    "opening_hours_grace_min": "Punches more than this many minutes outside the store's opening hours are flagged.",
    "burst_punches": "A till making this many punches within the burst window is punching faster than it serves.",
    "burst_window_s": "The seconds over which a till's burst of punches is counted.",
    "cards_per_contact": "More cards than this sharing one e-mail address or phone number are flagged as one person.",
    "one_cashier_chance": "A free item whose punches one cashier made less likely than this chance (by the store's "
    "staffing) is held for review.",
}


def code_of_card(card_id: Any) -> str:
    """A card's short code, as explanations name it ('7F3K')."""
    return card_code(UUID(str(card_id)))


FILTERS = {
    "card_code": code_of_card,
    "local_time": local_time,
    "money": money,
    "name": shown_name,
    "rule_title": rule_title,
    "visible": visible_text,
}
GLOBALS = {"consequences": consequences, "reward_status_words": REWARD_STATUS}
