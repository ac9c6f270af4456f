"""Real server processes for the tests that talk to PunchGuard over the network: `python -m api serve`
on free ports, waited for, and stopped (with any traceback they logged printed) at the end."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def served(env: Mapping[str, str], *, count: int = 1, ready: str = "/ready") -> Iterator[list[str]]:
    """`count` server processes sharing `env` (one database); yields their base URLs once each answers `ready`."""
    ports = [free_port() for _ in range(count)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "api", "serve", "--port", str(port)],
            env=dict(env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for base in bases:
            deadline = time.monotonic() + 60  # waiting for start-up, not a timing assertion
            while True:
                try:
                    if httpx.get(f"{base}{ready}").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"server {base} did not start")
                time.sleep(0.1)
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            _, errors = process.communicate(timeout=30)
            if b"Traceback" in errors:
                print(errors.decode(errors="replace")[-4000:])
