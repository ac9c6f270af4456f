"""The baselines: a bare Litestar POST endpoint that parses the same body as a scan, and nothing
else; and a bare GET that answers a small JSON object, for the pages and reads of metrics_at_size."""

from litestar import Litestar, get, post
from litestar.params import JSONBody

from mobile_contract.scans import Scan


@post("/v1/scans", status_code=201)
async def scan(data: JSONBody[Scan]) -> dict[str, str]:
    return {"reference": data.receipt.reference}


@get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(route_handlers=[scan, ping])
