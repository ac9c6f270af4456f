"""Where a scan's time goes: cProfile over in-process scans against PostgreSQL (`make bench-profile`).

Calls the app through httpx's ASGI transport in one process, so the profile shows the
server's own work per scan (auth, stamp check, rules, ledger sealing, SQL) without the
network or the load generator.
"""

import asyncio
import cProfile
import os
import pstats
import secrets
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import postgres_url, reset_schema  # noqa: E402

SCANS = int(os.environ.get("BENCH_PROFILE_SCANS", "600"))
# As in a chain's peak hour, most cards get a punch or two and are still collecting; with few
# customers every card fills up and each scan runs its card's audit (BENCH_PROFILE_CUSTOMERS=10).
CUSTOMERS = int(os.environ.get("BENCH_PROFILE_CUSTOMERS", "200"))
STATEMENT_TIMES: dict[str, list[float]] = defaultdict(list)


def time_statements(engine: Any) -> None:
    """Wrap the engine's query entry point to time each SQL statement the scans run."""
    cls = type(engine)
    run = cls.run_querystring

    async def timed(self: Any, querystring: Any, in_pool: bool = True) -> Any:
        started = time.perf_counter()
        try:
            return await run(self, querystring, in_pool)
        finally:
            STATEMENT_TIMES[" ".join(str(querystring.template).split())[:48]].append(time.perf_counter() - started)

    cls.run_querystring = timed


async def main() -> None:
    url = postgres_url()
    await reset_schema(url)
    os.environ["DATABASE_URL"] = url
    work = Path(tempfile.mkdtemp(prefix="punchguard-profile-"))
    os.environ["PUNCHGUARD_DATA_DIR"] = str(work)

    import cards  # noqa: F401
    from api.app import create_app, database_pool
    from api.settings import DEFAULT_RATE_LIMITS, Settings
    from cards.migrate import migrate
    from mobile_contract.stamps import Stamp, device_ref, encode_stamp
    from tests.support import app_client, cashier_at_till, new_customer, set_up_cafe

    await migrate()
    from cards.database import current_engine

    time_statements(current_engine())
    settings = Settings(
        data_dir=work,
        keyring_path=work / "keyring.json",
        log_requests=False,
        rate_limits=dict.fromkeys(DEFAULT_RATE_LIMITS, 10**6),
    )
    app = create_app(settings)
    from crypto.keyring import load_keyring

    keyring = load_keyring(settings.keyring_path)
    async with database_pool(), app_client(app) as client:
        cafe = await set_up_cafe(client)
        patched = await client.patch(
            f"/v1/programs/{cafe.program_id}",
            headers=cafe.owner,
            # One till scanning as fast as the profile can would be a burst (T15) at any real
            # threshold; the widest the program allows keeps the profile on the honest path.
            json={
                "cooldown_s": 0,
                "daily_cap": 100,
                "excess_policy": "refuse",
                "risk": {"burst_punches": 1000, "burst_window_s": 10},
            },
        )
        assert patched.status_code == 200, patched.text
        cashier = await cashier_at_till(cafe)
        customers = [await new_customer(client, cafe) for _ in range(CUSTOMERS)]
        bodies = []
        now = int(time.time())
        for i in range(SCANS):
            customer = customers[i % len(customers)]
            stamp = Stamp(
                kid=keyring.active.kid,
                card_id=UUID(customer.card_id),
                device_ref=device_ref(UUID(customer.session["device_id"])),
                stamp_id=secrets.token_bytes(8),
                issued_at=now,
                lifetime_s=120,
            )
            bodies.append({"stamp": encode_stamp(stamp, keyring.active_private_key), "receipt": {"reference": f"P{i}"}})
        for body in bodies[:20]:
            assert (await client.post("/v1/scans", headers=cashier, json=body)).status_code == 201
        half = (SCANS - 20) // 2
        STATEMENT_TIMES.clear()
        started = time.perf_counter()
        for body in bodies[20 : 20 + half]:
            assert (await client.post("/v1/scans", headers=cashier, json=body)).status_code == 201
        plain = (time.perf_counter() - started) / half
        print(f"{half} sequential scans without the profiler: {1000 * plain:.2f} ms each; per statement:")
        for statement, times in STATEMENT_TIMES.items():
            print(f"  {1000 * sum(times) / half:6.3f} ms/scan  {len(times) / half:.1f}x  {statement}")
        bodies = bodies[half:]
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for body in bodies[20:]:
            response = await client.post("/v1/scans", headers=cashier, json=body)
            assert response.status_code == 201, response.text
        profiler.disable()
        elapsed = time.perf_counter() - started
    print(
        f"{SCANS - 20} sequential scans in {elapsed:.2f} s: {1000 * elapsed / (SCANS - 20):.2f} ms each (profiler on)"
    )
    pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative")).print_stats(35)


if __name__ == "__main__":
    asyncio.run(main())
