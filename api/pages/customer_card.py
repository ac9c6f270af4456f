"""The customer's card: a web app at /card for customers without the native app.

The JavaScript reference client of `mobile_contract` (`mobile_contract/web/punchguard.js`,
served at /contract/) does what a phone app does, through the public JSON API only: it makes
a non-extractable P-256 key with WebCrypto and keeps it in IndexedDB, enrolls with it, joins
the program that the café's link or QR code names (`/card?business=…&program=…`, offered by
the console), and shows the stamp as a QR code that it renews with a rising counter.
`static/customer_card.js` is the page around it.
"""

from litestar import Controller, get
from litestar.response import Template

CARD = "/card"


class CustomerCardController(Controller):
    path = CARD
    opt = {"exclude_from_auth": True}  # the page carries no secret: the script holds the phone's key

    @get(name="customer_card")
    async def page(self) -> Template:
        return Template("customer_card.html")
