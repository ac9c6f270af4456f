"""The OpenAPI document is the truth: Schemathesis fuzzes every operation of a real server against it.

A real server process (as `make run` serves it), a café set up through the API, and
Schemathesis's command line with each security scheme's token: every answer must be no
server error, carry a documented status and content type, and match its documented body.
Bounded in examples so that CI stays within its time; run on both engines like the rest.
"""

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crypto.keyring import Keyring
from tests.servers import served
from tests.support import OWNER_EMAIL, PASSWORD, Phone, bearer, new_customer, set_up_cafe

EXAMPLES = int(os.environ.get("PUNCHGUARD_SCHEMATHESIS_EXAMPLES", "25"))
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# Signing out ends the token the run uses for everything else; tests/api/test_sessions.py covers it.
EXCLUDED = ("logOut",)


@pytest.fixture
def server(keyring: Keyring, keyring_path: Path, tmp_path: Path) -> Iterator[str]:
    env = dict(
        os.environ,
        PUNCHGUARD_KEYRING=str(keyring_path),
        PUNCHGUARD_DATA_DIR=str(tmp_path),
        PUNCHGUARD_LOG_REQUESTS="0",
        PUNCHGUARD_SWEEP_EVERY_S="0",
        # The fuzzer signs in and enrolls far more often than people; the limits are tested elsewhere.
        **{f"PUNCHGUARD_{group}_PER_MINUTE": "1000000" for group in ("LOGIN", "LOGIN_ACCOUNT", "REFRESH", "ENROLL")},
    )
    with served(env) as (base,):
        yield base


async def test_every_operation_answers_as_the_schema_says(server: str, tmp_path: Path) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=60) as http:
        cafe = await set_up_cafe(http)
        at_till = await http.post(
            "/v1/auth/login",
            json={
                "email": OWNER_EMAIL,
                "password": PASSWORD,
                "scanner_id": cafe.scanner_id,
                "scanner_secret": cafe.scanner_secret,
            },
        )
        assert at_till.status_code == 200, at_till.text
        customer = await new_customer(http, cafe, Phone())
        assert (await http.get("/v1/me", headers=customer.headers)).status_code == 200
        staff_token = at_till.json()["access_token"]
        assert (await http.get("/v1/stores", headers=bearer(staff_token))).status_code == 200

    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f'[auth.openapi.staffToken]\nbearer = "{staff_token}"\n\n'
        f'[auth.openapi.customerSession]\nbearer = "{customer.session["session_token"]}"\n'
    )
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{server}/schema/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(EXAMPLES),
        "--workers",
        "1",
        "--continue-on-failure",
        "--generation-deterministic",
        *(argument for operation in EXCLUDED for argument in ("--exclude-operation-id", operation)),
    ]
    run = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=1800, cwd=tmp_path, check=False
    )
    report = run.stdout[-12000:] + run.stderr[-4000:]
    print(run.stdout[-1500:])  # the run's summary, shown with `pytest -s`
    assert run.returncode == 0, report
    assert " 0 passed" not in report and "passed" in report, report
