"""`make bench`, second part: the owner's metrics and the review queue on a ledger of 1,000,000
punches over 100,000 cards, on SQLite and on PostgreSQL, against a bare endpoint in the same run.

For each engine: an empty database (`api init`), the year of `bench/ledger_at_size.py` written
straight into it, the rollup rebuilt from the ledgers (`cards.metric_refresh.rebuild`, as a
database filled another way than through the server needs), then the real server (2 workers)
answering one request at a time, as an owner's browser asks: `GET /v1/metrics` for the year by
week, the console's review queue (`/console/flags`, first page) and `GET /v1/flags` (first page
of the open ones). The baseline is a bare Litestar GET on the same machine (`bench/bare.py`).
Medians of 21 requests after 3 to warm up. Adds `at_size` to bench/results.json.

`BENCH_CARDS` and `BENCH_PUNCHES` scale the ledger down for a quick look.
"""

import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ledger_at_size as seeded  # noqa: E402
from bench.run import free_port, log, postgres_url, reset_schema, serve, stop  # noqa: E402
from cards.tables import Card, Flag, LedgerEntry  # noqa: E402
from crypto.keyring import load_keyring  # noqa: E402

seeded.CARDS = int(os.environ.get("BENCH_CARDS", seeded.CARDS))
seeded.PUNCHES = int(os.environ.get("BENCH_PUNCHES", seeded.PUNCHES))
WARM_UP = 3
TIMED = 21
TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')
REBUILD = (
    "import asyncio, sys, time; from uuid import UUID; from cards.metric_refresh import rebuild; "
    "t = time.perf_counter(); n = asyncio.run(rebuild(UUID(sys.argv[1]))); print(n, time.perf_counter() - t)"
)


def timed(client: httpx.Client, path: str, **params: Any) -> dict[str, float]:
    """Milliseconds for one answer, median and slowest of TIMED, after WARM_UP; each must be a 200."""
    took = []
    for i in range(WARM_UP + TIMED):
        started = time.perf_counter()
        answer = client.get(path, params=params)
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != 200:
            raise RuntimeError(f"GET {path}: {answer.status_code} {answer.text[:300]}")
        if i >= WARM_UP:
            took.append(elapsed)
    return {"median_ms": round(statistics.median(took), 2), "max_ms": round(max(took), 2)}


def owner_clients(base: str) -> tuple[httpx.Client, httpx.Client]:
    """The owner signed in twice: a bearer token for the API, the console's cookie for the pages."""
    api = httpx.Client(base_url=base, timeout=120)
    login = api.post("/v1/auth/login", json={"email": seeded.OWNER_EMAIL, "password": seeded.PASSWORD})
    login.raise_for_status()
    api.headers["authorization"] = f"Bearer {login.json()['access_token']}"
    console = httpx.Client(base_url=base, timeout=120)
    page = console.get("/console/sign-in").text
    token = TOKEN.search(page)
    assert token, "the sign-in form carries its CSRF token"
    signed = console.post(
        "/console/sign-in",
        data={"email": seeded.OWNER_EMAIL, "password": seeded.PASSWORD, "_csrf_token": token.group(1)},
    )
    assert signed.status_code == 303, signed.text
    return api, console


def one_engine(engine: str, url: str, work: Path, ledger: seeded.Ledger | None) -> tuple[dict[str, Any], Any]:
    env = dict(
        os.environ, DATABASE_URL=url, PUNCHGUARD_DATA_DIR=str(work), PUNCHGUARD_LOG_REQUESTS="0", PYTHONPATH=str(ROOT)
    )
    env.pop("PUNCHGUARD_KEYRING", None)
    subprocess.run([sys.executable, "-m", "api", "init"], cwd=ROOT, env=env, check=True, capture_output=True)
    if ledger is None:  # the first engine: the keyring `init` made signs the ledger both engines get
        started = time.perf_counter()
        today = datetime.now(UTC).date()
        ledger = seeded.build(load_keyring(work / "keys" / "keyring.json"), today)
        log(f"ledger built and signed in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    if engine == "sqlite":
        seeded.write_sqlite(url.removeprefix("sqlite:///"), ledger)
    else:
        asyncio.run(seeded.write_postgres(url, ledger))
    written_s = time.perf_counter() - started
    rebuilt = subprocess.run(
        [sys.executable, "-c", REBUILD, str(ledger.business_id)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    cards, rebuild_s = int(rebuilt[0]), float(rebuilt[1])
    log(f"{engine}: rows written in {written_s:.0f} s, the rollup of {cards} cards rebuilt in {rebuild_s:.0f} s")

    port = free_port()
    server = serve(["api.app:create_app", "--factory"], env, port)
    try:
        api, console = owner_clients(f"http://127.0.0.1:{port}")
        year = {"since": (ledger.today - timedelta(days=364)).isoformat(), "until": ledger.today.isoformat()}
        metrics = timed(api, "/v1/metrics", interval="week", **year)
        answer = api.get("/v1/metrics", params={"interval": "week", **year}).json()
        queue = timed(console, "/console/flags")
        flags = timed(api, "/v1/flags", status="open")
        api.close()
        console.close()
    finally:
        stop(server)
    punches = sum(row["kind"] == "punch" for row in ledger.rows[LedgerEntry])
    figures = {
        "punches": punches,
        "cards": len(ledger.rows[Card]),
        "open_flags": sum(f["status"] == "open" for f in ledger.rows[Flag]),
        "rows_written_s": round(written_s, 1),
        "rollup_rebuild_s": round(rebuild_s, 1),
        "metrics_year_by_week": metrics,
        "metrics_weeks": len(answer["series"]),
        "metrics_year_punches": answer["totals"]["punches"],
        "console_review_queue_first_page": queue,
        "api_open_flags_first_page": flags,
    }
    return figures, ledger


def bare_get() -> dict[str, float]:
    port = free_port()
    server = serve(["bench.bare:app"], dict(os.environ, PYTHONPATH=str(ROOT)), port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            return timed(client, "/ping")
    finally:
        stop(server)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="punchguard-bench-size-"))
    url = postgres_url()
    asyncio.run(reset_schema(url))
    log(f"{seeded.PUNCHES:,} punches over {seeded.CARDS:,} cards; SQLite and PostgreSQL at {url.split('@')[-1]}")
    try:
        sqlite, ledger = one_engine("sqlite", f"sqlite:///{work}/bench.sqlite3", work, None)
        postgres, _ = one_engine("postgresql", url, work, ledger)
    finally:
        shutil.rmtree(work)  # the SQLite file is nearly 2 GB
    bare = bare_get()
    at_size: dict[str, Any] = {"bare_get": bare}
    for engine, figures in (("sqlite", sqlite), ("postgresql", postgres)):
        for name in ("metrics_year_by_week", "console_review_queue_first_page", "api_open_flags_first_page"):
            figures[name]["vs_bare"] = round(figures[name]["median_ms"] / bare["median_ms"], 1)
        at_size[engine] = figures
        log(
            f"{engine}: metrics (year by week) {figures['metrics_year_by_week']['median_ms']} ms, "
            f"review queue {figures['console_review_queue_first_page']['median_ms']} ms, "
            f"open flags {figures['api_open_flags_first_page']['median_ms']} ms; bare GET {bare['median_ms']} ms"
        )
    out = ROOT / "bench" / "results.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    results["at_size"] = at_size
    out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {out}")
    print(json.dumps(at_size, indent=2))


if __name__ == "__main__":
    main()
