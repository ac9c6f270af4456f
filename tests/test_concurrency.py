"""The same stamp reaching several server processes at the same moment yields exactly one punch (T2).

Real uvicorn processes share the test database and keyring; the scans are released
together by a barrier. What makes this hold is the database's unique index on the
stamp id, not any lock inside one process.
"""

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cards.tables import LedgerEntry
from crypto.keyring import Keyring
from tests.servers import served
from tests.support import cashier_at_till, new_customer, set_up_cafe

PROCESSES = 3
REQUESTS_PER_PROCESS = 4


@pytest.fixture
def servers(keyring: Keyring, keyring_path: Path, tmp_path: Path) -> Iterator[list[str]]:
    env = dict(
        os.environ, PUNCHGUARD_KEYRING=str(keyring_path), PUNCHGUARD_DATA_DIR=str(tmp_path), PUNCHGUARD_LOG_REQUESTS="0"
    )
    with served(env, count=PROCESSES) as bases:
        yield bases


def _race(bases: list[str], headers: dict[str, str], bodies: list[dict[str, object]]) -> list[httpx.Response]:
    """POST every body to /v1/scans, spread over the servers, all released at once."""
    barrier = threading.Barrier(len(bodies))
    responses: list[httpx.Response | None] = [None] * len(bodies)

    def send(i: int) -> None:
        with httpx.Client(base_url=bases[i % len(bases)], timeout=60) as http:
            barrier.wait()
            responses[i] = http.post("/v1/scans", headers=headers, json=bodies[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r is not None for r in responses)
    return [r for r in responses if r is not None]


async def test_one_stamp_scanned_everywhere_at_once_punches_once(client: httpx.AsyncClient, servers: list[str]) -> None:
    cafe = await set_up_cafe(client)
    cashier = await cashier_at_till(cafe)
    customer = await new_customer(client, cafe)
    stamp = await customer.stamp()
    total = PROCESSES * REQUESTS_PER_PROCESS

    same_receipt = _race(servers, cashier, [{"stamp": stamp, "receipt": {"reference": "R-1"}}] * total)
    assert [r.status_code for r in same_receipt] == [201] * total, [r.text for r in same_receipt]
    assert len({r.json()["punch_id"] for r in same_receipt}) == 1, "every retry got the first answer"
    assert len({r.content for r in same_receipt}) == 1, "every retry got the first answer, byte for byte"
    assert sum("idempotent-replayed" not in r.headers for r in same_receipt) == 1

    other = await customer.stamp()
    receipts = _race(servers, cashier, [{"stamp": other, "receipt": {"reference": f"R-2-{i}"}} for i in range(total)])
    statuses = sorted(r.status_code for r in receipts)
    assert statuses == [201] + [409] * (total - 1), [r.text for r in receipts]
    assert {r.json()["type"] for r in receipts if r.status_code == 409} == {"/problems/stamp-already-used"}

    assert await LedgerEntry.count() == 2
    card = await customer.card()
    assert card["balance"] + card["under_review"] == 2
