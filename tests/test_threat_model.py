"""THREAT-MODEL.md stays true: every test it names exists, and every threat has its row."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = (ROOT / "THREAT-MODEL.md").read_text()
NAMED = sorted(set(re.findall(r"(tests/[\w/]+\.py)::(\w+)", MODEL)))


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    }


def test_every_test_the_threat_model_names_exists() -> None:
    missing = [f"{file}::{name}" for file, name in NAMED if name not in _tests_in(ROOT / file)]
    assert not missing, f"THREAT-MODEL.md names tests that do not exist: {missing}"
    assert len(NAMED) > 60


def test_every_threat_has_a_row_with_a_proof_or_a_reason() -> None:
    rows = {int(n): line for n, line in re.findall(r"^\| T(\d+) \|(.*)$", MODEL, flags=re.MULTILINE)}
    assert sorted(rows) == list(range(1, 32))
    for number, line in rows.items():
        cells = [cell.strip() for cell in line.split("|")]
        attack, outcome, proof = cells[0], cells[1], cells[2]
        assert attack and outcome, f"T{number} says what the attack is and what it ends in"
        assert "tests/" in proof or number == 23, f"T{number} names the test that proves it"


def test_the_drill_plays_every_attack_it_is_credited_with() -> None:
    from drill.attacks import PLAN

    planned = {name for name, *_ in PLAN}
    credited = {name for name in re.findall(r"\[(T\d+_\w+)\]", MODEL) if not name.endswith("_")}
    assert credited <= planned, credited - planned
