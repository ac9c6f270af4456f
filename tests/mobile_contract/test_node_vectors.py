"""The published vectors hold for WebCrypto too: tests/node/vectors.test.mjs under Node's own test runner.

So the suite fails when `stamp_vectors.json` drifts from what a web app's WebCrypto accepts, not
only from what the Python server does. `make test` installs Node when it is missing (make
test-node); only a run without Node skips this.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")


@pytest.fixture(autouse=True)
def clean_database() -> None:
    """No database here: skip the suite's per-test wipe."""


@pytest.mark.skipif(NODE is None, reason="node is not installed (make test-node installs it)")
def test_webcrypto_in_node_verifies_every_vector() -> None:
    assert NODE is not None
    run = subprocess.run(
        [NODE, "--test", "tests/node/"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    report = f"{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
    assert run.returncode == 0, report
    passed = re.search(r"^# pass (\d+)$", run.stdout, re.MULTILINE)
    assert passed is not None and int(passed.group(1)) >= 12, report
    assert re.search(r"^# fail 0$", run.stdout, re.MULTILINE), report
