"""`make bench`: scans per second against a bare Litestar endpoint, in the same run, on PostgreSQL.

Starts the machine's PostgreSQL (as .ci/run does) unless PUNCHGUARD_BENCH_POSTGRES_URL
is set, serves PunchGuard and then the bare endpoint with the same number of workers,
and drives both with wrk at 32 connections. Also measures stamp issuance over HTTP and
QR rendering against `qrcode.make()`. Writes bench/results.json.
"""

import asyncio
import io
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import qrcode
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api import qr  # noqa: E402
from crypto.encoding import b64u_encode  # noqa: E402
from crypto.keyring import load_keyring  # noqa: E402
from mobile_contract.customers import proof_message  # noqa: E402
from mobile_contract.stamps import Stamp, device_ref, encode_stamp, stamp_request_message  # noqa: E402

WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
DURATION_S = int(os.environ.get("BENCH_DURATION_S", "10"))
CUSTOMERS = 240
WRK_THREADS = 2
PASSWORD = "bench password 1234"


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
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=20)


def wrk(port: int, prefix: Path, threads: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{DURATION_S}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(ROOT / "bench/wrk.lua"),
            f"http://127.0.0.1:{port}",
            "--",
            str(prefix),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    assert p99 is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "per_s": rps,
        "p99_ms": float(p99.group(1)) * scale,
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "requests": float(total.group(1)) if total else 0.0,
    }


def write_lines(prefix: Path, per_thread: list[list[str]]) -> None:
    for index, lines in enumerate(per_thread):
        Path(f"{prefix}.{index}").write_text("\n".join(lines) + "\n")


class BenchPhone:
    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(raw)}
        self.card_id = ""
        self.device_id = ""
        self.session = ""


async def set_up(base: str, setup_code: str) -> tuple[str, list[BenchPhone]]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:

        async def post(path: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await http.post(path, json=body, headers=headers)
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result

        await post(
            "/v1/setup",
            {
                "setup_code": setup_code,
                "business_name": "Bench",
                "name": "Owner",
                "email": "owner@bench.test",
                "password": PASSWORD,
            },
        )
        owner = (await post("/v1/auth/login", {"email": "owner@bench.test", "password": PASSWORD}))["access_token"]
        store = await post(
            "/v1/stores", {"name": "Bench St", "time_zone": "UTC", "latitude": 0.0, "longitude": 0.0}, owner
        )
        scanner = await post(f"/v1/stores/{store['id']}/scanners", {"name": "Till"}, owner)
        await post(
            "/v1/staff",
            {
                "name": "Cass",
                "email": "cass@bench.test",
                "password": PASSWORD,
                "role": "cashier",
                "store_id": store["id"],
            },
            owner,
        )
        cashier = (
            await post(
                "/v1/auth/login",
                {
                    "email": "cass@bench.test",
                    "password": PASSWORD,
                    "scanner_id": scanner["scanner"]["id"],
                    "scanner_secret": scanner["scanner_secret"],
                },
            )
        )["access_token"]
        program = await post(
            "/v1/programs",
            {
                "name": "Bench",
                "reward_name": "Coffee",
                "stamp_lifetime_s": 120,
                "cooldown_s": 0,
                "daily_cap": 100,
                "excess_policy": "refuse",
            },
            owner,
        )
        phones = [BenchPhone() for _ in range(CUSTOMERS)]
        gate = asyncio.Semaphore(8)

        async def enroll(phone: BenchPhone) -> None:
            async with gate:
                challenge = (await post("/v1/challenges", {}))["challenge"]
                signature = b64u_encode(phone.key.sign(proof_message("enroll", challenge)))
                session = await post(
                    "/v1/customers", {"challenge": challenge, "public_key": phone.jwk, "signature": signature}
                )
                phone.session, phone.device_id = session["session_token"], session["device_id"]
                phone.card_id = (await post("/v1/me/cards", {"program_id": program["id"]}, phone.session))["id"]

        await asyncio.gather(*(enroll(phone) for phone in phones))
        return cashier, phones


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


def main() -> None:
    url = postgres_url()
    asyncio.run(reset_schema(url))
    work = Path(tempfile.mkdtemp(prefix="punchguard-bench-"))
    env = dict(
        os.environ,
        DATABASE_URL=url,
        PUNCHGUARD_DATA_DIR=str(work),
        PUNCHGUARD_LOG_REQUESTS="0",
        PUNCHGUARD_LOGIN_PER_MINUTE="100000",
        PUNCHGUARD_ENROLL_PER_MINUTE="100000",
    )
    init = subprocess.run(
        [sys.executable, "-m", "api", "init"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    code = re.search(r"\b([0-9A-F]{6}(?:-[0-9A-F]{6}){3})\b", init)
    assert code, init
    log(f"PostgreSQL at {url.split('@')[-1]}; {WORKERS} workers; wrk {WRK_THREADS} threads, {CONNECTIONS} connections")

    port = free_port()
    server = serve(["api.app:create_app", "--factory"], env, port)
    try:
        cashier, phones = asyncio.run(set_up(f"http://127.0.0.1:{port}", code.group(1)))
        log(f"{len(phones)} customers enrolled")
        keyring = load_keyring(work / "keys" / "keyring.json")

        # Stamp issuance: each wrk thread owns its phones on one connection, so counters rise in order.
        issue_threads = 8
        issue_lines: list[list[str]] = [[] for _ in range(issue_threads)]
        for counter in range(1, 400):
            for i, phone in enumerate(phones):
                body = json.dumps(
                    {
                        "counter": counter,
                        "signature": b64u_encode(phone.key.sign(stamp_request_message(UUID(phone.card_id), counter))),
                    }
                )
                issue_lines[i % issue_threads].append(
                    f"POST\t/v1/me/cards/{phone.card_id}/stamps\tBearer {phone.session}\t{body}"
                )
        write_lines(work / "issue", issue_lines)
        issued = wrk(port, work / "issue", issue_threads, issue_threads)
        log(f"stamp issuance: {issued['per_s']:.0f}/s, p99 {issued['p99_ms']:.1f} ms, non-2xx {issued['non_2xx']:.0f}")

        # Scans: stamps in the issued format, minted with the server's key just before the run.
        now = int(time.time())
        scan_lines: list[list[str]] = [[] for _ in range(WRK_THREADS)]
        sample = ""
        for round_ in range(95):
            for i, phone in enumerate(phones):
                stamp = Stamp(
                    kid=keyring.active.kid,
                    card_id=UUID(phone.card_id),
                    device_ref=device_ref(UUID(phone.device_id)),
                    stamp_id=secrets.token_bytes(8),
                    issued_at=now,
                    lifetime_s=120,
                )
                sample = encode_stamp(stamp, keyring.active_private_key)
                body = json.dumps({"stamp": sample, "receipt": {"reference": f"B-{round_}-{i}", "amount_cents": 450}})
                scan_lines[(round_ * len(phones) + i) % WRK_THREADS].append(
                    f"POST\t/v1/scans\tBearer {cashier}\t{body}"
                )
        write_lines(work / "scan", scan_lines)
        scans = wrk(port, work / "scan", WRK_THREADS, CONNECTIONS)
        log(f"scans: {scans['per_s']:.0f}/s, p99 {scans['p99_ms']:.1f} ms, non-2xx {scans['non_2xx']:.0f}")
        punched = asyncio.run(_count_punches(url))
    finally:
        stop(server)

    bare_port = free_port()
    bare_server = serve(["bench.bare:app"], env, bare_port)
    try:
        bare = wrk(bare_port, work / "scan", WRK_THREADS, CONNECTIONS)
        log(f"bare endpoint: {bare['per_s']:.0f}/s, p99 {bare['p99_ms']:.1f} ms")
    finally:
        stop(bare_server)

    qr_per_s, qr_naive_per_s = qr_rates(sample)
    log(f"QR PNG: {qr_per_s:.0f}/s vs qrcode.make() {qr_naive_per_s:.0f}/s ({qr_per_s / qr_naive_per_s:.1f}x)")
    results = {
        "scan_per_s": round(scans["per_s"], 1),
        "bare_per_s": round(bare["per_s"], 1),
        "scan_vs_bare": round(scans["per_s"] / bare["per_s"], 3),
        "scan_p99_ms": round(scans["p99_ms"], 2),
        "bare_p99_ms": round(bare["p99_ms"], 2),
        "scan_non_2xx": int(scans["non_2xx"]),
        "scan_requests": int(scans["requests"]),
        "punches_recorded": punched,
        "stamp_issue_per_s": round(issued["per_s"], 1),
        "stamp_issue_p99_ms": round(issued["p99_ms"], 2),
        "stamp_issue_non_2xx": int(issued["non_2xx"]),
        "qr_per_s": round(qr_per_s, 1),
        "qr_naive_per_s": round(qr_naive_per_s, 1),
        "qr_vs_naive": round(qr_per_s / qr_naive_per_s, 2),
        "stamp_qr_version": qr_version_of(sample),
        "workers": WORKERS,
        "connections": CONNECTIONS,
        "duration_s": DURATION_S,
    }
    out = ROOT / "bench" / "results.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {out}")
    print(json.dumps(results, indent=2))


async def _count_punches(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM ledger_entry WHERE kind = 'punch'"))
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
