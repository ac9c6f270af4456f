"""The README's walk-through, run as written: it cannot go stale.

Every shell block of the "Walk-through" section, in order, in one bash process, against a real
server (`python -m api init`, then `serve`, as `make run` does) in a fresh data folder. Only
two things are replaced: the API's address (a free port) and the setup code, taken from what
`init` printed, as a reader would copy it. The run must end with a free item granted and a
flag reviewed by the owner, read from the server's own database in that data folder.
"""

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import served

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHOWN_API = "API=http://127.0.0.1:8000"
SHOWN_CODE = "ABC123-DEF456-789ABC-DEF012"
SETUP_CODE = re.compile(r"\b([0-9A-F]{6}(?:-[0-9A-F]{6}){3})\b")


def walkthrough() -> str:
    """The shell blocks of the README's "Walk-through" section, up to the next section."""
    text = README.read_text()
    section = text.split("\n## Walk-through\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```sh\n(.*?)^```$", section, flags=re.S | re.M)
    return "\n".join(blocks)


@dataclass
class Server:
    url: str
    setup_code: str
    data_dir: Path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env |= {"PUNCHGUARD_DATA_DIR": str(tmp_path / "data"), "PUNCHGUARD_LOG_REQUESTS": "0"}
    env.pop("PUNCHGUARD_KEYRING", None)
    init = subprocess.run(
        [sys.executable, "-m", "api", "init"], env=env, capture_output=True, text=True, check=True, timeout=120
    )
    code = SETUP_CODE.search(init.stdout)
    assert code, init.stdout
    with served(env) as (url,):
        yield Server(url, code.group(1), tmp_path / "data")


def test_the_walkthrough_runs_as_written_to_a_free_item_and_a_reviewed_flag(server: Server, tmp_path: Path) -> None:
    bash = shutil.which("bash")
    assert bash is not None
    for tool in ("curl", "jq"):
        assert shutil.which(tool), f"the walk-through needs {tool} (make test installs it)"
    script = walkthrough()
    assert script.count(SHOWN_API) == 1 and script.count(SHOWN_CODE) == 1, "the walk-through sets each once"
    script = script.replace(SHOWN_API, f"API={server.url}").replace(SHOWN_CODE, server.setup_code)

    # "At the root of the repository", as far as the walk-through can tell: `.venv/bin/python` is
    # this test's Python, and the code it runs is this checkout's. A scratch folder keeps the
    # checkout clean, and works from a copy of it (make mutants) that has no .venv of its own.
    where = tmp_path / "reader"
    where.mkdir()
    (where / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(ROOT),
    }
    run = subprocess.run(
        [bash, "-euo", "pipefail", "-c", script],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    transcript = f"--- stdout\n{run.stdout[-6000:]}\n--- stderr\n{run.stderr[-6000:]}"
    assert run.returncode == 0, transcript
    assert '"granted":true' in run.stdout, transcript
    # The last step: the revoked phone is refused, and the command-line phone says so by its exit code.
    assert run.stdout.rstrip().endswith("refused: that phone is revoked"), transcript

    database = server.data_dir / "punchguard.sqlite3"
    with sqlite3.connect(database) as db:
        redemptions = [row[0] for row in db.execute("SELECT status FROM redemption")]
        reviewed = db.execute(
            "SELECT COUNT(*) FROM flag WHERE status = 'approved' AND reviewed_by IS NOT NULL"
        ).fetchone()[0]
    assert redemptions.count("granted") == 1, redemptions
    assert reviewed >= 1, transcript
