"""The till: the cashier's page at /till, for the store's tablet or computer.

A shell that the browser installs (its web manifest, `static/till.webmanifest`, and a service
worker for the shell), and a
script (`static/till.js`) that speaks only the public JSON API, as a scanner app would: it
pairs with a scanner registered in the console, signs the cashier in at it (`POST
/v1/auth/login`), reads stamps and redemption codes with the camera (jsQR, vendored) or typed
in, and posts them (`POST /v1/scans`, `POST /v1/redemptions`).
"""

from pathlib import Path

from litestar import Controller, get
from litestar.response import File, Template

STATIC = Path(__file__).parent / "static"
TILL = "/till"


class TillController(Controller):
    path = TILL
    opt = {"exclude_from_auth": True}  # the page carries no secret: the script signs in through the API

    @get(name="till")
    async def page(self) -> Template:
        return Template("till.html")

    @get("/sw.js")
    async def service_worker(self) -> File:
        """The shell's service worker; served under /till with the scope widened to /till itself."""
        return File(
            STATIC / "till-sw.js",
            media_type="text/javascript",
            headers={"Service-Worker-Allowed": TILL, "Cache-Control": "no-cache"},
        )
