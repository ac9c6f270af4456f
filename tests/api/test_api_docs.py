"""The API docs at /schema load only what the server itself serves, so they work offline.

Litestar's render plugins load their scripts from a CDN by default: without the internet,
/schema was a white page. The assets are vendored (api/vendor.py) with a manifest of
package, version, licence, source and sha256 for every file.
"""

import shutil
from html.parser import HTMLParser
from pathlib import Path

import httpx

from api.vendor import VENDOR, Manifest, check, sha256


class _References(HTMLParser):
    """Every URL a page makes the browser fetch: scripts, stylesheets, icons, images, frames."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


async def test_the_api_docs_reference_only_local_urls_and_each_answers(client: httpx.AsyncClient) -> None:
    for page in ("/schema", "/schema/swagger"):
        response = await client.get(page)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        parser = _References()
        parser.feed(response.text)
        assert len(parser.urls) >= 4, parser.urls  # the UI's script, its preset, its stylesheet, the icon
        for url in parser.urls:
            assert url.startswith("/") and not url.startswith("//"), f"{page} loads {url} from elsewhere"
            asset = await client.get(url)  # no token: the docs are public
            assert asset.status_code == 200, (url, asset.text[:200])
            assert asset.headers["cache-control"] == "max-age=31536000, public, immutable"


async def test_every_vendored_file_is_served_as_its_manifest_says(client: httpx.AsyncClient) -> None:
    manifest = Manifest.read()
    assert manifest.files, "the manifest lists the vendored files"
    assert check(manifest) == []
    for entry in manifest.files:
        assert entry.licence and entry.source.startswith(f"npm:{entry.package}@{entry.version}/"), entry
        assert f"{entry.package}@{entry.version}" in manifest.packages, "each package's tarball is pinned"
        served = await client.get(entry.url)
        assert served.status_code == 200 and sha256(served.content) == entry.sha256, entry.path
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith("/static")], "the files are not API operations"


def test_the_manifest_check_names_a_changed_missing_or_unlisted_file(tmp_path: Path) -> None:
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR, copy)
    manifest = Manifest.read(copy / "MANIFEST.json")
    changed, missing = manifest.files[0], manifest.files[1]
    (copy / changed.path).write_bytes((copy / changed.path).read_bytes() + b" ")
    (copy / missing.path).unlink()
    (copy / changed.path).with_name("extra.js").write_text("alert(1)")
    assert sorted(check(manifest, copy)) == sorted(
        [
            f"{changed.path}: sha256 differs from the manifest",
            f"{missing.path}: missing",
            f"{Path(changed.path).with_name('extra.js').as_posix()}: not in the manifest",
        ]
    )
