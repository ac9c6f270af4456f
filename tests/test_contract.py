"""The rate-limit groups `mobile_contract/CONTRACT.md` documents are the code's, and the OpenAPI document says them too.

The table is compared with what the app's routes declare (`opt["rate_limit"]` and the groups a
handler enforces itself), the document's `x-rate-limit-*` extensions with the same, and each
documented group is then hit through the API with a limit of one: every operation it lists
counts against it, in one shared count.
"""

import dataclasses
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

import mobile_contract
from api.app import create_app
from api.openapi import rate_limits, schema_handlers
from api.settings import DEFAULT_RATE_LIMITS, Settings
from crypto.keyring import Keyring
from mobile_contract.problems import Problem
from tests.support import FakeClock, app_client

CONTRACT = Path(mobile_contract.__file__).parent / "CONTRACT.md"
ROW = re.compile(
    r"^\| `(?P<group>\w+)` \| (?P<limit>\d+) a minute \| (?P<per>[^|]+) \| `(?P<setting>\w+)` \| (?P<ops>.+) \|$"
)
OPERATION = re.compile(r"`(?P<id>\w+)` \((?P<method>[A-Z]+) (?P<path>[^)]+)\)")

Row = tuple[int, str, str, tuple[tuple[str, str, str], ...]]


def documented_groups() -> dict[str, Row]:
    """The table between the rate-limit-groups markers: group -> (limit, counted per, setting, operations)."""
    text = CONTRACT.read_text()
    table = text.split("<!-- rate-limit-groups", 1)[1].split("<!-- end rate-limit-groups", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    groups: dict[str, Row] = {}
    for line in rows:
        match = ROW.match(line)
        assert match, f"CONTRACT.md: a rate-limit row this test cannot read: {line}"
        operations = tuple((op["id"], op["method"], op["path"]) for op in OPERATION.finditer(match["ops"]))
        groups[match["group"]] = (int(match["limit"]), match["per"].strip(), match["setting"], operations)
    return groups


@pytest.fixture
async def app_groups(settings: Settings, clock: FakeClock, keyring: Keyring) -> dict[str, Row]:
    """The groups as the app's routes declare them, in the table's shape."""
    found: dict[str, dict[str, Any]] = {}
    for path, handler in schema_handlers(create_app(settings, clock=clock, keyring=keyring)):
        for limit in rate_limits(handler):
            group = found.setdefault(limit["group"], {"limit": limit, "operations": []})
            for method in sorted(handler.http_methods):
                group["operations"].append((handler.operation_id, method, path))
    return {
        name: (g["limit"]["limit"], g["limit"]["counted_per"], g["limit"]["setting"], tuple(sorted(g["operations"])))
        for name, g in found.items()
    }


def test_the_documented_groups_are_the_routes_groups(app_groups: dict[str, Row]) -> None:
    documented = {name: (*row[:3], tuple(sorted(row[3]))) for name, row in documented_groups().items()}
    assert documented == app_groups, "mobile_contract/CONTRACT.md's rate-limit table has drifted from the routes"
    assert set(app_groups) == set(DEFAULT_RATE_LIMITS), "every group of the settings is applied somewhere"
    assert {name: row[0] for name, row in app_groups.items()} == DEFAULT_RATE_LIMITS


def test_each_documented_setting_sets_its_groups_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    for n, (group, (_, _, setting, _)) in enumerate(sorted(documented_groups().items()), start=3):
        monkeypatch.setenv(setting, str(n))
        assert Settings.from_env().rate_limits[group] == n


async def test_the_openapi_document_names_each_operations_group_and_limit(
    client: httpx.AsyncClient, app_groups: dict[str, Row]
) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    declared: dict[str, list[str]] = {}
    for name, (_, _, _, operations) in app_groups.items():
        for operation_id, _, _ in operations:
            declared.setdefault(operation_id, []).append(name)
    seen = set()
    for path_item in document["paths"].values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            groups = declared.get(operation["operationId"])
            if groups is None:
                assert "x-rate-limit-group" not in operation and "x-rate-limits" not in operation
                continue
            seen.add(operation["operationId"])
            limits = operation["x-rate-limits"]
            assert sorted(limit["group"] for limit in limits) == sorted(groups)
            assert operation["x-rate-limit-group"] == limits[0]["group"]
            for limit in limits:
                limit_, per, setting, _ = app_groups[limit["group"]]
                assert (limit["limit"], limit["counted_per"], limit["setting"], limit["window_s"]) == (
                    limit_,
                    per,
                    setting,
                    60,
                )
                assert f"group `{limit['group']}`" in operation["description"]
                assert f"{limit['limit']} " in operation["description"] and setting in operation["description"]
            assert "429" in operation["description"]
    assert seen == set(declared)


def _body(operation_id: str) -> dict[str, Any]:
    # One account's guesses: what login_account counts, whoever sends them.
    return {"email": "guess@cafe.test", "password": "wrong guess"} if operation_id == "logIn" else {}


@pytest.mark.parametrize("group", sorted(documented_groups()))
async def test_each_documented_group_limits_its_operations_in_one_count(
    settings: Settings, clock: FakeClock, keyring: Keyring, group: str
) -> None:
    """A limit of one for the group (and a wide one for the others): the first of its operations is
    answered, every later one of them, in the table's order, is refused (429 with Retry-After)."""
    limits = {name: 1_000 for name in DEFAULT_RATE_LIMITS} | {group: 1}
    operations = documented_groups()[group][3]
    calls = list(operations) if len(operations) > 1 else [*operations, *operations]
    async with app_client(
        create_app(dataclasses.replace(settings, rate_limits=limits), clock=clock, keyring=keyring)
    ) as http:
        answers = [await http.request(method, path, json=_body(op)) for op, method, path in calls]
    assert answers[0].status_code != 429, answers[0].text
    for answer in answers[1:]:
        assert answer.status_code == 429 and answer.json()["type"] == Problem.RATE_LIMITED.type, answer.text
        assert int(answer.headers["retry-after"]) >= 1
