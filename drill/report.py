"""Judging the drill from what the server answered, the summary table, and results.json.

An attack is "refused" when every harmful step it tried was refused with a problem
(4xx) and no fraudulent free item was granted; "flagged" when something went through but
a flag the owner sees (GET /v1/flags) names the attack's card, cashier or till under the
rule that fits, and every reward it tried for was held; "missed" otherwise.
"""

from collections import Counter
from typing import Any

from drill.attacks import Attack, Attackers
from drill.honest import HonestCrowd

HONEST_TARGET_PCT = 0.5


def _names(flag: dict[str, Any], attack: Attack) -> bool:
    ids = {str(i) for i in attack.cards | attack.staff | attack.scanners}
    punches = {str(i) for i in attack.punches}
    return bool({flag["card_id"], flag["staff_id"], flag["scanner_id"]} & ids or set(flag["punch_ids"]) & punches)


def outcome(attack: Attack, flags: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The attack's outcome and the rules of the flags that name it."""
    rules = sorted({flag["rule"] for flag in flags if _names(flag, attack)})
    fraud = max(0, attack.free_items - attack.allowed_items)
    if attack.error is not None or not attack.played or fraud > 0:
        return "missed", rules
    if not attack.went_through:
        return ("refused" if attack.refused else "missed"), rules
    if attack.expected_rules & set(rules):
        return "flagged", rules
    return "missed", rules


def judge(
    *,
    crowd: HonestCrowd,
    attackers: Attackers,
    flags: list[dict[str, Any]],
    flags_source: str,
    checkpoints: dict[str, Any],
    crashes: list[str],
    server_errors: list[str],
) -> dict[str, Any]:
    stats = crowd.stats
    honest_cards = {str(card): index for card, index in stats.cards.items()}
    honest_punch_flags: Counter[str] = Counter()
    flagged_customers: set[int] = set()
    honest_punches = {str(punch): index for punch, index in stats.punches_by_id.items()}
    for flag in flags:
        named = {honest_cards.get(flag["card_id"] or "")} | {honest_punches.get(p) for p in flag["punch_ids"]}
        named.discard(None)
        if named:
            honest_punch_flags[flag["rule"]] += 1
            flagged_customers |= {index for index in named if index is not None}
    troubled = stats.customers_with_trouble | flagged_customers
    customers = stats.customers
    pct = round(100 * len(troubled) / customers, 3) if customers else 0.0

    attacks: dict[str, str] = {}
    probes: dict[str, str] = {}
    detail: dict[str, Any] = {}
    fraud_items = 0
    for name, attack in attackers.attacks.items():
        result, rules = outcome(attack, flags)
        (probes if attack.probe else attacks)[name] = result
        fraud = max(0, attack.free_items - attack.allowed_items)
        if not attack.probe:
            fraud_items += fraud
        detail[name] = {
            "threat": attack.threat,
            "what": attack.summary,
            "outcome": result,
            "refused": attack.refused,
            "went_through": attack.went_through,
            "flag_rules": rules,
            "expected_rules": sorted(attack.expected_rules),
            "free_items": attack.free_items,
            "allowed_items": attack.allowed_items,
            "held": attack.held,
            "notes": attack.notes,
            "error": attack.error,
            **({"details": attack.details} if attack.details else {}),
        }
    _checkpoint_evidence(detail, checkpoints)

    targets = {
        "fraud_free_items_is_0": fraud_items == 0,
        f"honest_refused_or_held_pct_at_most_{HONEST_TARGET_PCT}": pct <= HONEST_TARGET_PCT,
        "every_attack_refused_or_flagged": all(result != "missed" for result in attacks.values()),
        "no_server_errors": not server_errors,
    }
    return {
        "fraud_free_items": fraud_items,
        "honest_customers": customers,
        "honest_refused_or_held": len(troubled),
        "honest_refused_or_held_pct": pct,
        "attacks": attacks,
        "targets": targets,
        "targets_met": all(targets.values()),
        "probes": probes,
        "honest": {
            "enrolled": stats.enrolled,
            "visits": stats.visits,
            "stamps": stats.stamps,
            "punches": stats.punches,
            "late_scans_inside_leeway": stats.late_scans,
            "lost_answers_resent": stats.lost_answers,
            "lost_answers_given_the_first_answer": stats.lost_answers_first_answer,
            "refunds": stats.refunds,
            "redemptions_granted": stats.redemptions_granted,
            "scans_answered_flagged": stats.flagged_scans,
            "troubles": dict(stats.troubles),
            "flags_on_honest_cards_by_rule": dict(honest_punch_flags),
            "examples": [{"customer": c.index, "troubles": c.troubles[:3]} for c in crowd.customers if c.troubles][:10],
        },
        "flags": {"source": flags_source, "total": len(flags), "by_rule": dict(Counter(f["rule"] for f in flags))},
        "checkpoints": checkpoints,
        "attack_details": detail,
        "crashes": crashes,
        "server_errors": server_errors[:20],
    }


def _checkpoint_evidence(detail: dict[str, Any], checkpoints: dict[str, Any]) -> None:
    """For the insider attacks: did yesterday's signed checkpoint name the rows they touched?"""
    named = {
        entry
        for report in checkpoints.get("differing", {}).values()
        for kind in ("added", "removed", "changed")
        for entry in report[kind]
    }
    for name, key in (("T10_insider_added_punches", "inserted"), ("T10_insider_edited_punch", "edited")):
        touched = detail.get(name, {}).get("details", {}).get(key, [])
        if touched:
            detail[name]["details"]["checkpoint_names_them"] = all(entry in named for entry in touched)


def summary(results: dict[str, Any]) -> str:
    """The readable table `make drill` prints."""
    run, honest = results["run"], results["honest"]
    lines = [
        "",
        f"PunchGuard fraud drill: {run['customers']} honest customers, {run['days']} days, seed {run['seed']}, "
        f"{run['engine']}",
        f"wall time {run['wall_time_s']} s ({run['simulation_s']} s simulating), {run['requests']} requests "
        f"({run['requests_per_s']}/s)",
        "",
        "Honest customers",
        f"  visits {honest['visits']}, punches {honest['punches']}, free items {honest['redemptions_granted']}, "
        f"refunds {honest['refunds']}",
        f"  lost answers re-sent {honest['lost_answers_resent']} "
        f"(given the first answer: {honest['lost_answers_given_the_first_answer']}), "
        f"late scans inside the leeway {honest['late_scans_inside_leeway']}",
        f"  refused, held or flagged: {results['honest_refused_or_held']} of {results['honest_customers']} "
        f"({results['honest_refused_or_held_pct']} %, target <= {HONEST_TARGET_PCT} %)",
    ]
    if honest["troubles"]:
        lines.append(f"  troubles: {honest['troubles']}")
    if honest["flags_on_honest_cards_by_rule"]:
        lines.append(f"  flags on honest cards: {honest['flags_on_honest_cards_by_rule']}")
    lines += ["", f"{'Attack':<30} {'Outcome':<8}  Flag rules / first refusal", "-" * 100]
    for name, result in {**results["attacks"], **results["probes"]}.items():
        detail = results["attack_details"][name]
        why = ", ".join(detail["flag_rules"]) or (detail["refused"][0] if detail["refused"] else "")
        if result == "missed":
            why = detail["error"] or "; ".join(detail["went_through"][:2]) or why or "not played"
        probe = " (probe, not a target)" if name in results["probes"] else ""
        lines.append(f"{name:<30} {result:<8}  {why[:90]}{probe}")
    checkpoints = results["checkpoints"]
    lines += [
        "",
        f"Checkpoints kept {checkpoints['kept']}, intact {checkpoints['intact']}, "
        f"differing {len(checkpoints['differing'])} (the insider's days)",
        f"Flags raised: {results['flags']['total']} {results['flags']['by_rule']}",
        f"fraud_free_items {results['fraud_free_items']} (target 0)",
        "",
    ]
    for target, met in results["targets"].items():
        lines.append(f"  [{'x' if met else ' '}] {target}")
    if results["crashes"]:
        lines.append(f"  crashes: {results['crashes'][:5]}")
    if results["server_errors"]:
        lines.append(f"  server errors: {results['server_errors'][:5]}")
    lines.append(f"\nTARGETS {'MET' if results['targets_met'] else 'MISSED'}")
    return "\n".join(lines)
