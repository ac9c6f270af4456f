"""Rate limits by route group, keyed on the client's real address, counted in the database (T13, T18).

A handler opts in with `opt={"rate_limit": group}`; the guard counts the request against
`<group>:<address>`, and the sign-in handler also against the account it names. Forwarded
headers are believed only from the proxies named in the settings: from anyone else, a client
could pick its own address with X-Forwarded-For and never be limited. (uvicorn's own
proxy-header handling trusts 127.0.0.1 by default and works only when uvicorn serves the app,
so `python -m api serve` turns it off and the app decides here.)
"""

import ipaddress
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from api.problems import problem
from api.settings import Settings
from cards import rate_limits
from cards.clock import Clock
from mobile_contract.problems import Problem

WINDOW = timedelta(minutes=1)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(connection: ASGIConnection[Any, Any, Any, Any], trusted_proxies: tuple[Network, ...]) -> str:
    """The address the request really came from.

    The peer's address, unless the peer is a trusted proxy: then the nearest address in
    X-Forwarded-For (read from the right) that is not itself a trusted proxy. A client can
    write anything at the left of that header; only what trusted proxies appended counts.
    """
    peer = connection.scope.get("client")
    address = peer[0] if peer else "unknown"
    if not trusted_proxies:
        return address

    def trusted(text: str) -> bool:
        ip = _address(text)
        return ip is not None and any(ip in network for network in trusted_proxies)

    if not trusted(address):
        return address
    hops = [hop for value in connection.headers.getall("x-forwarded-for", []) for hop in value.split(",")]
    for hop in reversed(hops):
        if not trusted(hop):
            ip = _address(hop)
            return str(ip) if ip is not None else address
    return address


async def enforce(bucket: str, limit: int, clock: Clock) -> None:
    """Count one hit in `bucket`; RATE_LIMITED with Retry-After once the window holds `limit`."""
    decision = await rate_limits.hit(bucket, limit, WINDOW, clock())
    if not decision.allowed:
        raise problem(
            Problem.RATE_LIMITED,
            f"Too many requests; try again in {decision.retry_after_s} s",
            headers={"Retry-After": str(decision.retry_after_s)},
        )


def rate_limit_guard(
    settings: Settings, clock: Clock
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]:
    """The app-wide guard that limits each handler's group (a coroutine: Litestar runs a plain
    function guard in a worker thread)."""
    proxies = tuple(ipaddress.ip_network(text, strict=False) for text in settings.trusted_proxies)

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        group = handler.opt.get("rate_limit")
        if group is None:
            return
        address = client_address(connection, proxies)
        await enforce(f"{group}:{address}", settings.rate_limits[group], clock)

    return guard
