"""`make demo`, as a newcomer uses it: an empty data folder filled with weeks of a café that
end yesterday, the owner's sign-in printed, and the console showing them; a folder that already
holds a business is left alone. Run on SQLite (a fresh file) on both passes: the demo needs an
empty database, and the PostgreSQL test database is shared."""

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.pages.console import csrf_token
from tests.servers import served


def test_the_demo_fills_an_empty_database_that_the_console_then_shows(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "PUNCHGUARD_KEYRING")}
    env |= {"PUNCHGUARD_DATA_DIR": str(tmp_path / "data"), "PUNCHGUARD_LOG_REQUESTS": "0"}
    command = [sys.executable, "-m", "drill.demo", "--customers", "3", "--days", "7"]
    demo = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "open http://127.0.0.1:8000/console and sign in as the owner" in demo.stdout
    assert "e-mail    owner@beanthere.test" in demo.stdout

    with sqlite3.connect(tmp_path / "data" / "punchguard.sqlite3") as db:
        statuses = dict(db.execute("SELECT status, count(*) FROM flag GROUP BY status").fetchall())
        [(last,)] = db.execute("SELECT max(recorded_at) FROM ledger_entry").fetchall()
        [(value,)] = db.execute("SELECT reward_value_cents FROM program").fetchall()
    assert statuses.get("open", 0) > 0, "the last week's flags wait for the owner"
    assert statuses.get("rejected", 0) > 0, "the older ones the demo's owner decided"
    assert value == 450
    latest = datetime.fromisoformat(last).replace(tzinfo=UTC)
    assert datetime.now(UTC) - timedelta(days=3) < latest < datetime.now(UTC), "the weeks end yesterday"

    with served(env) as (base,), httpx.Client(base_url=base) as browser:
        page = browser.get("/console/sign-in").text
        signed_in = browser.post(
            "/console/sign-in",
            data={"email": "owner@beanthere.test", "password": "drill password 2025", "_csrf_token": csrf_token(page)},
        )
        assert signed_in.status_code == 303, signed_in.text
        queue = browser.get("/console/flags")
        assert queue.status_code == 200 and "open flag" in queue.text
        worth = browser.get("/console/worth")
        assert "Coffee card" in worth.text and "(4.50)" in worth.text

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 1
    assert "already holds a business: the demo fills an empty one only" in again.stderr
    assert "PUNCHGUARD_DATA_DIR=data-demo make demo run" in again.stderr
