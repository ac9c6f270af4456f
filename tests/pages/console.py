"""Helpers for the console's tests: a browser-like client that signs in through the form."""

import re
from html.parser import HTMLParser

import httpx

from tests.support import PASSWORD

TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')


def csrf_token(page: str) -> str:
    found = TOKEN.search(page)
    assert found, "the page carries a CSRF token in its forms"
    return found.group(1)


async def sign_in_page(client: httpx.AsyncClient) -> str:
    response = await client.get("/console/sign-in")
    assert response.status_code == 200, response.text
    return response.text


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD, **more: str) -> httpx.Response:
    """Post the sign-in form as a browser does: with the CSRF token of the page it came from."""
    token = csrf_token(await sign_in_page(client))
    return await client.post(
        "/console/sign-in", data={"email": email, "password": password, "_csrf_token": token, **more}
    )


async def post_form(client: httpx.AsyncClient, page_url: str, action: str, **fields: str) -> httpx.Response:
    """Post a form of `page_url` to `action` with that page's CSRF token."""
    page = await client.get(page_url)
    assert page.status_code == 200, page.text
    return await client.post(action, data={"_csrf_token": csrf_token(page.text), **fields})


class Links(HTMLParser):
    """Every URL a page makes the browser load or follow: src, href, action."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.inline_styles = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for key in ("src", "href", "action", "hx-get", "hx-post"):
            if named.get(key):
                self.urls.append(str(named[key]))
        if "style" in named or any(k.startswith("on") for k in named):
            self.inline_styles += 1
        if tag == "style":
            self.inline_styles += 1
        self._in_script = tag == "script" and "src" not in named

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


def links(page: str) -> Links:
    parser = Links()
    parser.feed(page)
    return parser


class _FormFields(HTMLParser):
    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.select = action, False, ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "form":
            self.inside = named.get("action") == self.action and named.get("method") == "post"
        elif not self.inside:
            return
        elif tag == "input" and named.get("name"):
            self.fields[str(named["name"])] = named.get("value") or ""
        elif tag == "select":
            self.select = str(named.get("name", ""))
        elif tag == "option" and "selected" in named and self.select:
            self.fields[self.select] = str(named.get("value"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def form_fields(page: str, action: str) -> dict[str, str]:
    """The fields of the page's POST form to `action`, with the values the page gives them: what a
    browser sends when the form is saved untouched."""
    parser = _FormFields(action)
    parser.feed(page)
    return parser.fields
