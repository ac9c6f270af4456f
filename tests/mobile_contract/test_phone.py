"""The command-line phone: one file holds the phone, the counter never repeats, sessions renew."""

import io
import json
from pathlib import Path

import httpx
import pytest

from mobile_contract.client import ProblemError
from mobile_contract.phone import PhoneFileError, load, parser, prepare, run
from mobile_contract.problems import Problem
from tests.support import FakeClock, cashier_at_till, set_up_cafe


async def phone(
    client: httpx.AsyncClient, state: Path, *argv: str, transport: httpx.AsyncBaseTransport | None = None
) -> tuple[str, str]:
    """What `python -m mobile_contract.phone --state STATE ARGV` prints on stdout, and its trace."""
    args = parser().parse_args(["--state", str(state), *argv])
    trace = io.StringIO()
    out = await run(args, prepare(args), trace=trace, transport=transport or client._transport)
    return out, trace.getvalue()


async def scan(client: httpx.AsyncClient, till: dict[str, str], stamp: str, receipt: str) -> httpx.Response:
    return await client.post("/v1/scans", headers=till, json={"stamp": stamp, "receipt": {"reference": receipt}})


async def test_the_phone_enrolls_joins_and_shows_stamps_the_till_punches(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    cafe = await set_up_cafe(client)
    till = await cashier_at_till(cafe)
    state = tmp_path / "phone.json"

    customer_id, trace = await phone(client, state, "enroll", "--api", "http://testserver", "--algorithm", "ES256")
    assert "> POST /v1/challenges" in trace and "< 201" in trace
    assert state.stat().st_mode & 0o777 == 0o600, "the file holds the private key"
    saved = json.loads(state.read_text())
    assert saved["customer_id"] == customer_id and "PRIVATE KEY" in saved["private_key_pem"]

    card_id, trace = await phone(client, state, "join", cafe.program_id)
    assert f'"program_id":"{cafe.program_id}"' in trace
    assert load(state).card_id is not None and str(load(state).card_id) == card_id

    for number in (1, 2):
        stamp, trace = await phone(client, state, "stamp")
        assert f'"counter":{number}' in trace, "what it sends is printed"
        assert load(state).counter == number
        scanned = await scan(client, till, stamp, f"R-{number}")
        assert scanned.status_code == 201, scanned.text

    shown, _ = await phone(client, state, "card")
    card = json.loads(shown)
    assert card["id"] == card_id and len(card["history"]) == 2


async def test_the_counter_is_kept_before_the_request_leaves(client: httpx.AsyncClient, tmp_path: Path) -> None:
    """A request lost on the way may have reached the server: its counter must never be used again."""
    cafe = await set_up_cafe(client)
    till = await cashier_at_till(cafe)
    state = tmp_path / "phone.json"
    await phone(client, state, "enroll", "--api", "http://testserver")
    await phone(client, state, "join", cafe.program_id)

    def cut_off(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("network down", request=request)

    with pytest.raises(httpx.ConnectError):
        await phone(client, state, "stamp", transport=httpx.MockTransport(cut_off))
    assert load(state).counter == 1

    stamp, trace = await phone(client, state, "stamp")
    assert '"counter":2' in trace
    scanned = await scan(client, till, stamp, "R-1")
    assert scanned.status_code == 201, scanned.text
    assert scanned.json()["flagged"] is False, "no counter was repeated, so no clone signal"


async def test_an_expired_session_is_renewed_with_the_key_and_kept(
    client: httpx.AsyncClient, clock: FakeClock, tmp_path: Path
) -> None:
    cafe = await set_up_cafe(client)
    state = tmp_path / "phone.json"
    await phone(client, state, "enroll", "--api", "http://testserver")
    await phone(client, state, "join", cafe.program_id)
    before = load(state).session
    assert before is not None

    clock.advance(hours=2)  # the server's clock: the session ended an hour ago
    _, trace = await phone(client, state, "card")
    assert (
        "< 401" in trace and "> POST /v1/customers/sessions" in trace and trace.rstrip().split("\n")[-1][:5] == "< 200"
    )
    after = load(state).session
    assert after is not None and after.session_token != before.session_token
    assert after.expires_at > before.expires_at


async def test_a_problem_answer_is_raised_and_a_second_enrollment_refused(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    cafe = await set_up_cafe(client)
    state = tmp_path / "phone.json"
    await phone(client, state, "enroll", "--api", "http://testserver")
    await phone(client, state, "join", cafe.program_id)

    with pytest.raises(ProblemError) as refused:
        await phone(client, state, "redeem")
    assert refused.value.problem is Problem.NOT_ENOUGH_PUNCHES, refused.value

    with pytest.raises(PhoneFileError):
        await phone(client, state, "enroll", "--api", "http://testserver")
    first = load(state).device_id
    await phone(client, state, "enroll", "--api", "http://testserver", "--replace")
    assert load(state).device_id != first


async def test_qr_draws_a_version_7_code_of_the_stamp(
    client: httpx.AsyncClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cafe = await set_up_cafe(client)
    state = tmp_path / "phone.json"
    await phone(client, state, "enroll", "--api", "http://testserver")
    await phone(client, state, "join", cafe.program_id)
    await phone(client, state, "stamp", "--qr")
    drawn = capsys.readouterr().err.rstrip("\n").split("\n")
    # 45 modules a side for version 7, a border of 2 each side, two rows of modules to a line.
    assert len(drawn) == 25 and {len(line) for line in drawn} == {49}
