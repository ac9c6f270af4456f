"""The real thing: `python -m api init` then `serve`, as `make run` does, in a fresh data folder.

The setup code the init command prints is read from its output and used over HTTP,
exactly as a café owner following the README would.
"""

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import served
from tests.support import OWNER_EMAIL, PASSWORD


@pytest.fixture
def fresh_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, PUNCHGUARD_DATA_DIR=str(tmp_path / "data"), PUNCHGUARD_LOG_REQUESTS="0")
    if not env["DATABASE_URL"].startswith("postgres"):
        env["DATABASE_URL"] = f"sqlite:///{tmp_path}/data/punchguard.sqlite3"
    return env


@pytest.fixture
def server(fresh_env: dict[str, str]) -> Iterator[tuple[str, str]]:
    init = subprocess.run(
        [sys.executable, "-m", "api", "init"], env=fresh_env, capture_output=True, text=True, check=True, timeout=120
    )
    with served(fresh_env, ready="/health") as (base,):
        yield base, init.stdout


def test_init_then_serve_gives_a_working_server(server: tuple[str, str], fresh_env: dict[str, str]) -> None:
    base, init_output = server
    assert httpx.get(f"{base}/ready").status_code == 200
    assert httpx.get(f"{base}/schema/openapi.json").json()["info"]["title"] == "PunchGuard"
    keyring = Path(fresh_env["PUNCHGUARD_DATA_DIR"]) / "keys" / "keyring.json"
    assert keyring.stat().st_mode & 0o777 == 0o600

    if fresh_env["DATABASE_URL"].startswith("postgres"):
        # The shared test database may already hold an owner; the setup flow is covered on SQLite.
        return
    match = re.search(r"\b([0-9A-F]{6}(?:-[0-9A-F]{6}){3})\b", init_output)
    assert match, init_output
    setup = httpx.post(
        f"{base}/v1/setup",
        json={
            "setup_code": match.group(1),
            "business_name": "Bean",
            "name": "Olive",
            "email": OWNER_EMAIL,
            "password": PASSWORD,
        },
    )
    assert setup.status_code == 201, setup.text
    login = httpx.post(f"{base}/v1/auth/login", json={"email": OWNER_EMAIL, "password": PASSWORD})
    assert login.status_code == 200
    again = subprocess.run(
        [sys.executable, "-m", "api", "init"], env=fresh_env, capture_output=True, text=True, check=True, timeout=120
    )
    assert "setup code" not in again.stdout.lower() and "POST /v1/setup" not in again.stdout


def test_migrations_from_several_processes_at_once_all_succeed(fresh_env: dict[str, str]) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "api", "migrate"],
            env=fresh_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs


def test_rotate_keys_keeps_the_old_public_key(fresh_env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "api", "init"], env=fresh_env, capture_output=True, check=True, timeout=120)
    keyring = Path(fresh_env["PUNCHGUARD_DATA_DIR"]) / "keys" / "keyring.json"
    before = keyring.read_text()
    rotated = subprocess.run(
        [sys.executable, "-m", "api", "rotate-keys"],
        env=fresh_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "1 retired key(s) still verify" in rotated.stdout
    import json

    old_kid = json.loads(before)["active"]
    after = json.loads(keyring.read_text())
    assert after["active"] != old_kid and old_kid in {k["kid"] for k in after["keys"]}
    assert keyring.stat().st_mode & 0o777 == 0o600


def test_the_data_folder_holds_the_database_and_the_keys(tmp_path: Path) -> None:
    """PUNCHGUARD_DATA_DIR moves everything the server keeps on disk, not the keys alone."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "PUNCHGUARD_KEYRING")}
    env["PUNCHGUARD_DATA_DIR"] = str(tmp_path / "elsewhere")
    started_in = tmp_path / "checkout"
    started_in.mkdir()
    init = subprocess.run(
        [sys.executable, "-m", "api", "init"],
        env=env,
        cwd=started_in,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    database = tmp_path / "elsewhere" / "punchguard.sqlite3"
    assert database.is_file() and database.stat().st_size > 0
    assert (tmp_path / "elsewhere" / "keys" / "keyring.json").is_file()
    assert not (started_in / "data").exists(), "nothing written to ./data"
    assert str(database) in init.stdout


def test_new_business_adds_businesses_to_a_running_server(server: tuple[str, str], fresh_env: dict[str, str]) -> None:
    base, _ = server
    owners = {}
    for business, email in (("Second Cup", "sam@second.test"), ("Third Place", "tom@third.test")):
        made = subprocess.run(
            [sys.executable, "-m", "api", "new-business"],
            env=fresh_env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        code = re.search(r"\b([0-9A-F]{6}(?:-[0-9A-F]{6}){3})\b", made.stdout)
        assert code, made.stdout
        body = {"setup_code": code.group(1), "business_name": business, "name": "O", "email": email}
        setup = httpx.post(f"{base}/v1/setup", json=body | {"password": PASSWORD})
        assert setup.status_code == 201, setup.text
        login = httpx.post(f"{base}/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        owners[business] = {"Authorization": f"Bearer {login.json()['access_token']}"}
        store = httpx.post(
            f"{base}/v1/stores",
            headers=owners[business],
            json={"name": f"{business} shop", "time_zone": "UTC", "latitude": 0, "longitude": 0},
        )
        assert store.status_code == 201, store.text
    for business, headers in owners.items():
        assert [s["name"] for s in httpx.get(f"{base}/v1/stores", headers=headers).json()] == [f"{business} shop"]
