"""Liveness, readiness, the public signing keys and the problem-type catalogue."""

from typing import Any

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from piccolo.querystring import QueryString

from api.problems import problem
from cards.database import current_engine
from crypto.keyring import Keyring
from mobile_contract.auth import Jwks
from mobile_contract.problems import Problem

PUBLIC = {"exclude_from_auth": True}


class OperationsController(Controller):
    tags = ["operations"]
    opt = PUBLIC

    @get("/health", operation_id="health", summary="The process is alive")
    async def health(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", operation_id="ready", summary="The database answers")
    async def ready(self) -> dict[str, str]:
        try:
            await current_engine().run_querystring(QueryString("SELECT 1"))
        except Exception as exc:
            raise problem(Problem.UNAVAILABLE, "The database does not answer") from exc
        return {"status": "ready"}

    @get(
        "/.well-known/jwks.json",
        operation_id="jwks",
        summary="The server's public signing keys (JWKS)",
        cache_control=None,
    )
    async def jwks(self, keyring: NamedDependency[Keyring]) -> Jwks:
        return msgspec.convert(keyring.jwks(), Jwks)

    @get("/problems/{slug:str}", operation_id="problemType", summary="What a problem type means")
    async def problem_type(self, slug: FromPath[str]) -> dict[str, Any]:
        kind = Problem.by_slug(slug)
        if kind is None:
            raise HTTPException(status_code=404)
        return {"type": kind.type, "status": kind.status, "title": kind.title}
