"""`make bench`: scans per second against the floor and a bare endpoint, in the same run, on
PostgreSQL and on SQLite; stamp issuance and redemption; QR rendering.

For each engine (BENCH_ENGINES, default `postgres,sqlite`): an empty database (`python -m api
init`; PostgreSQL is this machine's, started as .ci/run does, unless PUNCHGUARD_BENCH_POSTGRES_URL
is set; SQLite a file of its own, `sqlite:////abs/path`), PunchGuard served by uvicorn with 2
workers (BENCH_WORKERS) on the simulated clock of bench/sim_clock.py, and the chain of
bench/chain.py set up over HTTP. Then, with wrk:

- **stamp issuance** (real clock): phones asking for stamps with rising counters, 8 connections;
- **the realistic mix**, the headline: the chain's peak hours, 40 tills with a cashier's token
  each, 2,000 cards, honest timing and about 2 % rule-breakers (bench/chain.py says how), at
  32 connections (BENCH_CONNECTIONS);
- **redemption**: phones asking for their free item's code, then tills redeeming them (the
  card's audit), every line once (bench/wrk_once.lua), timed until the last answer;
- **under attack**: one cashier's token punching the attacker's cards as fast as wrk sends.

The same line files then go, with the same workers and connections, to **the floor**
(bench/floor.py: parse, verify the stamp, sign an entry, one durable INSERT, on the same engine)
and to **the bare endpoint** (bench/bare.py: parse only). Each wrk run lasts BENCH_DURATION_S.

Every 2xx scan must be a punch in the ledger: the bench counts them and fails if a 2xx scan
left no punch, or if more punches were recorded than 2xx answers plus the requests still in
flight when wrk stopped (wrk hangs up on those; the server finishes them). The same holds for
the floor's rows, and for redemptions granted (every line answered there, so exactly).

Settings, from the environment: BENCH_DURATION_S (10 s a wrk run), BENCH_ENGINES, BENCH_WORKERS (2),
BENCH_CONNECTIONS (32), BENCH_MIX_LINES_PER_S (2000 lines prepared per second of a run),
BENCH_REDEEM_CARDS (600), BENCH_SEED, BENCH_KEEP_WORK=1 (keep the databases and line files), and
for a quick look only BENCH_MIX_CARDS (2000). `BENCH_DURATION_S=5` takes about 8 minutes on 2 cores.

Writes bench/results.json: one object per engine, and the PostgreSQL realistic mix's figures
at the top (the headline, and the keys this script always wrote); keys written by other scripts
(`at_size` by bench/metrics_at_size.py, `flat_cost`) are kept.
"""

import asyncio
import io
import json
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import asyncpg
import httpx
import qrcode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api import qr  # noqa: E402
from bench import chain as world  # noqa: E402
from crypto.keyring import load_keyring  # noqa: E402

WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
DURATION_S = int(os.environ.get("BENCH_DURATION_S", "10"))
# Lines prepared per second of a wrk run: more than the floor (the fastest that must not replay) takes.
MIX_LINES_PER_S = int(os.environ.get("BENCH_MIX_LINES_PER_S", "2000"))
REDEEM_CARDS = int(os.environ.get("BENCH_REDEEM_CARDS", "600"))
ENGINES = [e.strip() for e in os.environ.get("BENCH_ENGINES", "postgres,sqlite").split(",") if e.strip()]
SEED = int(os.environ.get("BENCH_SEED", "13"))
WRK_THREADS = 2
ISSUE_THREADS = 8
PREP_CONNECTIONS = 4
ONCE_MAX_S = 900


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_url() -> str:
    url = os.environ.get("PUNCHGUARD_BENCH_POSTGRES_URL")
    if url:
        return url
    out = subprocess.run(
        ["bash", str(ROOT / ".ci/pg-up")],
        env=dict(os.environ, PG_DB="punchguard_bench"),
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


async def reset_schema(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


def serve(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            *args,
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except httpx.TransportError:
            if process.poll() is not None:
                raise RuntimeError(f"server {args[0]} exited with {process.returncode}") from None
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=30)


# --- wrk ----------------------------------------------------------------------------------------


def _wrk_command(port: int, prefix: Path, threads: int, connections: int, seconds: int, script: str) -> list[str]:
    return [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(ROOT / "bench" / script),
        f"http://127.0.0.1:{port}",
        "--",
        str(prefix),
    ]


def _wrk_figures(out: str) -> dict[str, float]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    counts = re.search(r"bench-counts sent=(\d+) received=(\d+) ok=(\d+) conflict=(\d+) failed=(\d+)", out)
    assert rps and p99 and counts, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    sent, received, ok, conflict, failed = (int(counts.group(i)) for i in (1, 2, 3, 4, 5))
    return {
        "per_s": float(rps.group(1)),
        "p99_ms": float(p99.group(1)) * scale,
        "requests": float(received),
        "ok": float(ok),
        "non_2xx": float(received - ok),
        "conflict_409": float(conflict),
        "failed_5xx": float(failed),
        "in_flight": float(sent - received),
    }


def wrk(port: int, prefix: Path, threads: int, connections: int, seconds: int | None = None) -> dict[str, float]:
    """Replay the lines at <prefix>.<thread> for `seconds` (BENCH_DURATION_S)."""
    command = _wrk_command(port, prefix, threads, connections, seconds or DURATION_S, "wrk.lua")
    return _wrk_figures(subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout)


def wrk_once(port: int, prefix: Path, threads: int, connections: int, *, keep: bool = False) -> dict[str, float]:
    """Send every line at <prefix>.<thread> once; wrk is interrupted as soon as the last is answered."""
    command = _wrk_command(port, prefix, threads, connections, ONCE_MAX_S, "wrk_once.lua")
    if keep:
        command.append("keep")
    done = [Path(f"{prefix}.{i}.done") for i in range(threads)]
    progress = [Path(f"{prefix}.{i}.progress") for i in range(threads)]
    for path in (*done, *progress):
        path.unlink(missing_ok=True)
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        seen, moved = "", time.monotonic()
        while process.poll() is None and not all(path.exists() for path in done):
            time.sleep(0.02)
            now = " ".join(path.read_text() if path.exists() else "-" for path in progress)
            if now != seen:
                seen, moved = now, time.monotonic()
            elif time.monotonic() - moved > 30:
                process.send_signal(signal.SIGINT)
                out, _ = process.communicate(timeout=60)
                raise RuntimeError(f"wrk stalled on {prefix.name}: {seen}\n{out}")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    if process.returncode not in (0, -signal.SIGINT):
        raise RuntimeError(f"wrk failed: {err}")
    return _wrk_figures(out)


def write_lines(prefix: Path, per_thread: list[list[str]]) -> None:
    for index, lines in enumerate(per_thread):
        if not lines:
            raise RuntimeError(f"{prefix}.{index} would be empty")
        Path(f"{prefix}.{index}").write_text("\n".join(lines) + "\n")


def read_codes(prefix: Path, threads: int) -> dict[str, str]:
    """The redemption codes the phones got (bench/wrk_once.lua kept the answers), by card."""
    codes = {}
    for index in range(threads):
        for text in Path(f"{prefix}.{index}.bodies").read_text().splitlines():
            answer = json.loads(text)
            codes[answer["card_id"]] = answer["code"]
    return codes


def round_robin(lines: list[str], threads: int) -> list[list[str]]:
    return [lines[i::threads] for i in range(threads)]


# --- Counting what the database holds -----------------------------------------------------------


async def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a constant query (no parameters: the same text runs on both engines)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path[1:] if parsed.path.startswith("/") else parsed.path)
        with sqlite3.connect(path, timeout=30) as conn:
            return [tuple(row) for row in conn.execute(sql).fetchall()]
    conn = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await conn.fetch(sql)]
    finally:
        await conn.close()


async def scalar(url: str, sql: str) -> int:
    return int((await query(url, sql))[0][0])


def punches_like(prefix: str) -> str:
    return f"SELECT count(*) FROM ledger_entry WHERE kind = 'punch' AND receipt LIKE '{prefix}%'"  # noqa: S608


def receipts_like(prefix: str) -> str:
    return f"SELECT receipt FROM ledger_entry WHERE kind = 'punch' AND receipt LIKE '{prefix}%'"  # noqa: S608


def flags_like(prefix: str) -> str:
    return (
        "SELECT f.rule, count(DISTINCT f.id) FROM flag f JOIN flag_punch fp ON fp.flag = f.id "  # noqa: S608
        f"JOIN ledger_entry e ON e.id = fp.punch WHERE e.receipt LIKE '{prefix}%' GROUP BY f.rule ORDER BY f.rule"
    )


def check_recorded(what: str, run: dict[str, float], recorded: int, *, strict: bool = True) -> None:
    """Every 2xx left its row; more rows only for requests in flight when wrk stopped. Else: fail
    loudly. The floor is not the product: a row beyond wrk's in-flight count is only reported there
    (wrk's count misses a request sent on a connection it re-opened)."""
    ok, in_flight = int(run["ok"]), int(run["in_flight"])
    message = f"{what}: {ok} answers 2xx and {in_flight} in flight at the end, but {recorded} recorded in the database"
    if recorded < ok or (strict and recorded > ok + in_flight):
        raise RuntimeError(message)
    if recorded > ok + in_flight:
        log(f"WARNING: {message}")


# --- One engine ---------------------------------------------------------------------------------


def product_env(url: str, work: Path) -> dict[str, str]:
    env = dict(
        os.environ,
        DATABASE_URL=url,
        PUNCHGUARD_DATA_DIR=str(work),
        PUNCHGUARD_LOG_REQUESTS="0",
        # The bench's 40 tills and 3,000 phones all come from 127.0.0.1, where a chain's come from
        # as many addresses: the per-address sign-in limits would count them as one client.
        PUNCHGUARD_LOGIN_PER_MINUTE="100000",
        PUNCHGUARD_REFRESH_PER_MINUTE="100000",
        PUNCHGUARD_ENROLL_PER_MINUTE="100000",
        PUNCHGUARD_ACCESS_TTL_S=str(int(world.ACCESS_LIFETIME.total_seconds())),
        PUNCHGUARD_REFRESH_TTL_S=str(world.SESSION_DAYS * 86400),
        PYTHONPATH=str(ROOT),
    )
    env.pop("PUNCHGUARD_KEYRING", None)
    return env


def phase(scan: dict[str, float], recorded: int) -> dict[str, Any]:
    return {
        "scan_per_s": round(scan["per_s"], 1),
        "scan_p99_ms": round(scan["p99_ms"], 2),
        "scan_requests": int(scan["requests"]),
        "scan_2xx": int(scan["ok"]),
        "scan_non_2xx": int(scan["non_2xx"]),
        "scan_409": int(scan["conflict_409"]),
        "scan_5xx": int(scan["failed_5xx"]),
        "in_flight_at_stop": int(scan["in_flight"]),
        "punches_recorded": recorded,
    }


def compare(figures: dict[str, Any], floor: dict[str, float], floor_rows: int, bare: dict[str, float]) -> None:
    figures.update(
        {
            "floor_per_s": round(floor["per_s"], 1),
            "bare_per_s": round(bare["per_s"], 1),
            "scan_vs_floor": round(figures["scan_per_s"] / floor["per_s"], 3),
            "scan_vs_bare": round(figures["scan_per_s"] / bare["per_s"], 4),
            "floor_p99_ms": round(floor["p99_ms"], 2),
            "bare_p99_ms": round(bare["p99_ms"], 2),
            "floor_non_2xx": int(floor["non_2xx"]),
            "floor_5xx": int(floor["failed_5xx"]),
            "floor_rows_recorded": floor_rows,
            "bare_non_2xx": int(bare["non_2xx"]),
        }
    )


async def drive(url: str, work: Path, port: int, setup_code: str) -> tuple[dict[str, Any], str]:
    """Everything PunchGuard itself answers on one engine; returns the figures and a stamp (for the QR rates)."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
        started = time.perf_counter()
        keyring = load_keyring(work / "keys" / "keyring.json")
        chain = await world.set_up(http, setup_code, keyring, REDEEM_CARDS, SEED)
        log(
            f"chain set up in {time.perf_counter() - started:.0f} s: {world.STORES} stores, {len(chain.tills)} tills, "
            f"{len(chain.mix)} + {len(chain.redeemers)} + {len(chain.attackers)} phones"
        )

        # Stamp issuance, on the real clock: a phone's rising counters on one thread and connection.
        counters = math.ceil(2000 * DURATION_S / len(chain.attackers))
        write_lines(work / "issue", world.issue_lines(chain.attackers, counters, ISSUE_THREADS))
        issued = await asyncio.to_thread(wrk, port, work / "issue", ISSUE_THREADS, ISSUE_THREADS)
        if issued["non_2xx"]:
            raise RuntimeError(f"stamp issuance: {issued['non_2xx']:.0f} refused (did the counters run out?)")
        log(f"stamp issuance: {issued['per_s']:.0f}/s, p99 {issued['p99_ms']:.1f} ms")

        # The simulated calendar, from the day after tomorrow: the redeemers' mornings, the peak hours,
        # the redemption morning, the attack.
        mix_count = MIX_LINES_PER_S * DURATION_S
        first = datetime.now(world.ZONE).date() + timedelta(days=2)
        prep_days = world.prep_days(first)
        mix_days = [prep_days[-1] + timedelta(days=1 + i) for i in range(world.days_of_mix(mix_count))]
        redeem_day = mix_days[-1] + timedelta(days=1)
        attack_day = redeem_day + timedelta(days=1)
        started = time.perf_counter()
        await chain.sign_in(
            [world.peak_shift(day) for day in (*prep_days, *mix_days)]
            + [(world.local(redeem_day, 9, 55), world.local(redeem_day, 10, 20))]
        )
        log(
            f"{len(chain.tills)} tills signed in for {len(prep_days) + len(mix_days) + 1} simulated mornings "
            f"in {time.perf_counter() - started:.0f} s"
        )

        # The redeemers' ten punches, each line once (not timed).
        prep = world.prep_lines(chain, prep_days, WRK_THREADS)
        write_lines(work / "prep", prep)
        # Few connections: a scan that waits seconds for SQLite's write lock while later lines go
        # ahead would see the till's next minutes of simulated punches already recorded (the burst
        # rule counts every punch after the window's start), which at the real pace cannot happen.
        prepped = await asyncio.to_thread(wrk_once, port, work / "prep", WRK_THREADS, PREP_CONNECTIONS)
        prep_punches = await scalar(url, punches_like("P-"))
        if prepped["non_2xx"] or prep_punches != sum(map(len, prep)):
            raise RuntimeError(f"redeemers' punches: {prepped}, {prep_punches} recorded")
        log(f"redeemers' cards punched: {prep_punches} punches at {prepped['per_s']:.0f}/s")

        # The realistic mix.
        mix = world.mix_lines(chain, mix_days, WRK_THREADS)
        write_lines(work / "mix", mix.per_thread)
        scans = await asyncio.to_thread(wrk, port, work / "mix", WRK_THREADS, CONNECTIONS)
        mix_punches = await scalar(url, punches_like("M"))
        check_recorded("realistic mix", scans, mix_punches)
        receipts = [str(row[0]) for row in await query(url, receipts_like("M"))]
        recorded, paired = world.breakers_recorded(receipts)
        raised = {str(rule): int(n) for rule, n in await query(url, flags_like("M"))}
        # A breaker breaks its rule only if the scan it follows was played too (wrk may stop between).
        expected = {"cooldown": paired["MC"] + paired["MT"], "impossible_travel": paired["MT"]}
        mixed = phase(scans, mix_punches)
        mixed.update(
            {
                "lines_prepared": mix.scans,
                "simulated_peak_hours_prepared": len(mix_days),
                "simulated_hours_played": round(mix_punches / (mix.scans / len(mix_days)), 2),
                "rule_breakers_recorded": recorded["MC"] + recorded["MT"],
                "rule_breaker_share": round((recorded["MC"] + recorded["MT"]) / max(1, mix_punches), 4),
                "punches_by_kind": {"honest": recorded["MH"], "cooldown": recorded["MC"], "travel": recorded["MT"]},
                "rule_breakers_after_their_scan": {"cooldown": paired["MC"], "travel": paired["MT"]},
                "rule_breaker_share_prepared": round((mix.by_kind["MC"] + mix.by_kind["MT"]) / mix.scans, 4),
                "flags_raised": raised,
                "flags_expected": expected,
                "flags_as_expected": raised == {rule: n for rule, n in expected.items() if n},
            }
        )
        log(
            f"realistic mix: {scans['per_s']:.0f} scans/s, p99 {scans['p99_ms']:.1f} ms, "
            f"non-2xx {scans['non_2xx']:.0f}; {mix_punches} punches ({mixed['simulated_hours_played']} peak hours), "
            f"flags {raised} (expected {expected})"
        )
        if not mixed["flags_as_expected"]:
            log("WARNING: the mix's flags are not the rule-breakers' alone: see flags_raised")

        # Redemption: the phones sign in again and ask for codes, then the tills redeem them.
        await world.resume_sessions(chain, chain.redeemers, world.local(redeem_day, 9, 58))
        lines, asked = world.code_lines(chain, world.local(redeem_day, 10, 0), timedelta(milliseconds=25))
        write_lines(work / "code", round_robin(lines, WRK_THREADS))
        coded = await asyncio.to_thread(wrk_once, port, work / "code", WRK_THREADS, CONNECTIONS, keep=True)
        codes = read_codes(work / "code", WRK_THREADS)
        if len(codes) != len(chain.redeemers):
            raise RuntimeError(f"redemption codes: {len(codes)} of {len(chain.redeemers)} ({coded})")
        write_lines(work / "redeem", round_robin(world.redeem_lines(chain, codes, asked, timedelta(seconds=15)), 2))
        redeemed = await asyncio.to_thread(wrk_once, port, work / "redeem", WRK_THREADS, CONNECTIONS)
        statuses = {
            str(status): int(n)
            for status, n in await query(url, "SELECT status, count(*) FROM redemption GROUP BY status")
        }
        if statuses.get("granted", 0) != int(redeemed["ok"]) or redeemed["in_flight"]:
            raise RuntimeError(f"redemptions: {redeemed['ok']:.0f} answered 2xx, but the database says {statuses}")
        held = [str(row[0]) for row in await query(url, "SELECT reasons FROM redemption WHERE status = 'held' LIMIT 3")]
        log(
            f"redemption codes: {coded['per_s']:.0f}/s, p99 {coded['p99_ms']:.1f} ms; "
            f"redeemed: {redeemed['per_s']:.0f}/s, p99 {redeemed['p99_ms']:.1f} ms, {statuses}"
        )

        # Under attack: one till's token, as fast as wrk sends.
        attack_start = world.local(attack_day, 10, 0)
        attacker = chain.tills[0]
        login = await chain.post(
            "/v1/auth/login",
            {
                "email": attacker.email,
                "password": world.PASSWORD,
                "scanner_id": attacker.scanner_id,
                "scanner_secret": attacker.scanner_secret,
            },
            moment=attack_start - timedelta(minutes=1),
        )
        per_sim_s = max(scans["per_s"], mix_count / (13 * 60))  # one access token: 15 minutes at most
        attack = world.attack_lines(chain, attack_start, mix_count, per_sim_s, login["access_token"])
        write_lines(work / "attack", round_robin(attack, WRK_THREADS))
        attacked = await asyncio.to_thread(wrk, port, work / "attack", WRK_THREADS, CONNECTIONS)
        attack_punches = await scalar(url, punches_like("A-"))
        check_recorded("under attack", attacked, attack_punches)
        under_attack = phase(attacked, attack_punches)
        under_attack["flags_raised"] = {str(rule): int(n) for rule, n in await query(url, flags_like("A-"))}
        under_attack["simulated_scans_per_s"] = round(per_sim_s, 1)
        log(
            f"under attack: {attacked['per_s']:.0f} scans/s, p99 {attacked['p99_ms']:.1f} ms, "
            f"non-2xx {attacked['non_2xx']:.0f}; flags {under_attack['flags_raised']}"
        )
        figures = {
            "mix": mixed,
            "attack": under_attack,
            "stamp_issue": {
                "per_s": round(issued["per_s"], 1),
                "p99_ms": round(issued["p99_ms"], 2),
                "non_2xx": int(issued["non_2xx"]),
            },
            "redemption": {
                "code_per_s": round(coded["per_s"], 1),
                "code_p99_ms": round(coded["p99_ms"], 2),
                "code_non_2xx": int(coded["non_2xx"]),
                "redeem_per_s": round(redeemed["per_s"], 1),
                "redeem_p99_ms": round(redeemed["p99_ms"], 2),
                "redeem_non_2xx": int(redeemed["non_2xx"]),
                "redemptions": statuses,
                "held_reasons": held,
                "cards": len(chain.redeemers),
            },
        }
        return figures, json.loads(attack[0].split("\t")[4])["stamp"]


def one_engine(engine: str, url: str, work: Path) -> tuple[dict[str, Any], str]:
    env = product_env(url, work)
    init = subprocess.run(
        [sys.executable, "-m", "api", "init"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    code = re.search(r"\b([0-9A-F]{6}(?:-[0-9A-F]{6}){3})\b", init)
    assert code, init
    log(f"{engine}: {WORKERS} workers; wrk {WRK_THREADS} threads, {CONNECTIONS} connections, {DURATION_S} s a run")

    port = free_port()
    server = serve(["bench.sim_clock:create_app", "--factory"], env, port)
    try:
        figures, sample = asyncio.run(drive(url, work, port, code.group(1)))
    finally:
        stop(server)

    floor_url = url if engine == "postgres" else f"sqlite:///{work}/floor.sqlite3"
    floor_env = dict(env, FLOOR_DATABASE_URL=floor_url)
    asyncio.run(_drop_floor(floor_url))
    port = free_port()
    server = serve(["bench.floor:app"], floor_env, port)
    try:
        for name in ("mix", "attack"):
            before = asyncio.run(scalar(floor_url, "SELECT count(*) FROM floor_entry"))
            floor = wrk(port, work / name, WRK_THREADS, CONNECTIONS)
            rows = asyncio.run(scalar(floor_url, "SELECT count(*) FROM floor_entry")) - before
            check_recorded(f"floor, {name}", floor, rows, strict=False)
            if floor["conflict_409"]:
                raise RuntimeError(
                    f"the floor refused {floor['conflict_409']:.0f} {name} lines as replays (409): "
                    "the lines ran out, raise BENCH_MIX_LINES_PER_S"
                )
            figures[name]["_floor"] = (floor, rows)
            log(f"floor, {name}: {floor['per_s']:.0f}/s, p99 {floor['p99_ms']:.1f} ms")
    finally:
        stop(server)

    port = free_port()
    server = serve(["bench.bare:app"], env, port)
    try:
        for name in ("mix", "attack"):
            bare = wrk(port, work / name, WRK_THREADS, CONNECTIONS)
            floor, rows = figures[name].pop("_floor")
            compare(figures[name], floor, rows, bare)
            log(f"bare, {name}: {bare['per_s']:.0f}/s, p99 {bare['p99_ms']:.1f} ms")
    finally:
        stop(server)
    return figures, sample


async def _drop_floor(url: str) -> None:
    if urlparse(url).scheme != "sqlite":
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("DROP TABLE IF EXISTS floor_entry")
        finally:
            await conn.close()


# --- QR codes -------------------------------------------------------------------------------------


def qr_rates(text: str) -> tuple[float, float]:
    def naive() -> None:
        buffer = io.BytesIO()
        qrcode.make(text).save(buffer)

    def ours() -> None:
        qr.png(text)

    rates = []
    for fn in (naive, ours):
        fn()
        started, count = time.perf_counter(), 0
        while time.perf_counter() - started < 3:
            fn()
            count += 1
        rates.append(count / (time.perf_counter() - started))
    return rates[1], rates[0]


def qr_version_of(text: str) -> int:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    version: int = code.version
    return version


# --- The whole run --------------------------------------------------------------------------------


def headline(engine: str, figures: dict[str, Any]) -> dict[str, Any]:
    """The keys at the top of results.json: the engine's realistic mix, issuance and redemption."""
    mix, issue, redemption = figures["mix"], figures["stamp_issue"], figures["redemption"]
    top = {"headline": f"{engine}, realistic mix"}
    for key in (
        "scan_per_s",
        "floor_per_s",
        "bare_per_s",
        "scan_vs_floor",
        "scan_vs_bare",
        "scan_p99_ms",
        "floor_p99_ms",
        "bare_p99_ms",
        "scan_non_2xx",
        "scan_requests",
        "punches_recorded",
    ):
        top[key] = mix[key]
    top.update(
        {
            "attack_scan_per_s": figures["attack"]["scan_per_s"],
            "attack_scan_vs_floor": figures["attack"]["scan_vs_floor"],
            "attack_scan_p99_ms": figures["attack"]["scan_p99_ms"],
            "stamp_issue_per_s": issue["per_s"],
            "stamp_issue_p99_ms": issue["p99_ms"],
            "stamp_issue_non_2xx": issue["non_2xx"],
            "redeem_per_s": redemption["redeem_per_s"],
            "redeem_p99_ms": redemption["redeem_p99_ms"],
            "redemption_code_per_s": redemption["code_per_s"],
        }
    )
    return top


def main() -> None:
    results: dict[str, Any] = {}
    sample = ""
    for engine in ENGINES:
        work = Path(tempfile.mkdtemp(prefix=f"punchguard-bench-{engine}-"))
        try:
            if engine == "postgres":
                url = postgres_url()
                asyncio.run(reset_schema(url))
                log(f"PostgreSQL at {url.split('@')[-1]}")
            elif engine == "sqlite":
                url = f"sqlite:///{work}/punchguard.sqlite3"
                log(f"SQLite at {url}")
            else:
                raise SystemExit(f"BENCH_ENGINES: {engine!r} is neither postgres nor sqlite")
            started = time.perf_counter()
            results[engine], sample = one_engine(engine, url, work)
            results[engine]["engine_s"] = round(time.perf_counter() - started)
            results[engine]["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        finally:
            if not os.environ.get("BENCH_KEEP_WORK"):
                shutil.rmtree(work, ignore_errors=True)

    qr_per_s, qr_naive_per_s = qr_rates(sample)
    log(f"QR PNG: {qr_per_s:.0f}/s vs qrcode.make() {qr_naive_per_s:.0f}/s ({qr_per_s / qr_naive_per_s:.1f}x)")
    top_engine = "postgres" if "postgres" in results else ENGINES[0]
    out = ROOT / "bench" / "results.json"
    kept = json.loads(out.read_text()) if out.exists() else {}
    kept.update(headline(top_engine, results[top_engine]))
    kept.update(results)
    kept.update(
        {
            "qr_per_s": round(qr_per_s, 1),
            "qr_naive_per_s": round(qr_naive_per_s, 1),
            "qr_vs_naive": round(qr_per_s / qr_naive_per_s, 2),
            "stamp_qr_version": qr_version_of(sample),
            "workers": WORKERS,
            "connections": CONNECTIONS,
            "duration_s": DURATION_S,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    out.write_text(json.dumps(kept, indent=2) + "\n")
    log(f"wrote {out}")
    print(json.dumps({key: kept[key] for key in kept if key != "at_size"}, indent=2))


if __name__ == "__main__":
    main()
