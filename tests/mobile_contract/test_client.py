"""The reference client's own pieces: keys the server accepts, problems it reads, copies it makes."""

import httpx
import pytest

from crypto.encoding import b64u_decode
from crypto.jwk import load_device_key
from mobile_contract.client import DeviceKey, PhoneClient, ProblemError
from mobile_contract.problems import Problem


@pytest.mark.parametrize("algorithm", ["Ed25519", "ES256"])
def test_a_phone_key_signs_what_the_server_verifies(algorithm: str) -> None:
    key = DeviceKey(algorithm)  # type: ignore[arg-type]
    server_side = load_device_key(key.public_jwk)
    server_side.verify(b64u_decode(key.sign(b"punchguard")), b"punchguard")
    assert server_side.algorithm == algorithm


def test_a_problem_answer_keeps_its_type_detail_and_reasons() -> None:
    response = httpx.Response(
        409,
        json={"type": "/problems/reward-held", "title": "t", "detail": "Held", "reasons": ["Punch #3 reuses a stamp."]},
    )
    problem = ProblemError.from_response(response)
    assert problem.problem is Problem.REWARD_HELD and problem.status == 409
    assert problem.detail == "Held" and problem.reasons == ["Punch #3 reuses a stamp."]


def test_an_answer_that_is_not_json_is_still_a_problem() -> None:
    problem = ProblemError.from_response(httpx.Response(502, text="Bad Gateway"))
    assert problem.status == 502 and problem.type == "about:blank" and problem.problem is None


def test_a_clone_shares_the_key_and_a_copied_login_does_not() -> None:
    phone = PhoneClient(httpx.AsyncClient())
    phone.counter = 7
    twin, thief = phone.clone(), phone.copy_login()
    assert twin.key is phone.key and twin.counter == 7
    twin.next_counter()
    assert phone.counter == 7  # each copy keeps its own counter
    assert thief.key is not phone.key and thief.key.public_jwk != phone.key.public_jwk
