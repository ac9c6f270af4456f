"""The baseline: a bare Litestar POST endpoint that parses the same body as a scan, and nothing else."""

from litestar import Litestar, post
from litestar.params import JSONBody

from mobile_contract.scans import Scan


@post("/v1/scans", status_code=201)
async def scan(data: JSONBody[Scan]) -> dict[str, str]:
    return {"reference": data.receipt.reference}


app = Litestar(route_handlers=[scan])
