"""Front-end files we serve ourselves, never from a CDN: a page must work without the internet.

`api/static/vendor/MANIFEST.json` lists every vendored file: the npm package and version it
comes from, the package's licence, its source (`npm:<package>@<version>/<path in the package>`)
and its sha256. Each package's tarball integrity (as npm records it) is pinned beside them.
Files live under `api/static/vendor/<package>-<version>/`, the version in the path, and the app
serves them at `/static/vendor/...` (api/app.py).

    python -m api.vendor            # `make vendor`: download every package again with npm, check
                                    # each tarball and file against the manifest, rewrite the files
    python -m api.vendor check      # check the files on disk against the manifest (no network)
    python -m api.vendor add swagger-ui-dist@5.35.0 swagger-ui-bundle.js swagger-ui.css
                                    # vendor files of a package (or a new version): writes the
                                    # files and their manifest entries

Downloads go through `npm pack`, so they come from whichever registry npm is configured for.
"""

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

STATIC = Path(__file__).parent / "static"
VENDOR = STATIC / "vendor"
MANIFEST = VENDOR / "MANIFEST.json"
URL_PREFIX = "/static"
_ABOUT = (
    "Every file served from api/static/vendor/, where it comes from and its checksum. "
    "`make vendor` downloads each package again and checks it; `python -m api.vendor add` vendors more."
)


class VendorError(Exception):
    """A file or package does not match the manifest, or could not be had."""


@dataclass(frozen=True, slots=True)
class VendoredFile:
    path: str  # under api/static/vendor/
    package: str
    version: str
    licence: str
    source: str  # npm:<package>@<version>/<path inside the package>
    sha256: str

    @property
    def inside_package(self) -> str:
        return self.source.removeprefix(f"npm:{self.package}@{self.version}/")

    @property
    def url(self) -> str:
        return f"{URL_PREFIX}/vendor/{self.path}"


@dataclass(frozen=True, slots=True)
class Manifest:
    packages: dict[str, str]  # "<package>@<version>" -> the tarball's integrity (SRI, sha512)
    files: list[VendoredFile]

    @classmethod
    def read(cls, path: Path = MANIFEST) -> "Manifest":
        data = json.loads(path.read_text())
        return cls(
            packages={entry["id"]: entry["integrity"] for entry in data["packages"]},
            files=[VendoredFile(**entry) for entry in data["files"]],
        )

    def write(self, path: Path = MANIFEST) -> None:
        data = {
            "about": _ABOUT,
            "packages": [{"id": key, "integrity": value} for key, value in sorted(self.packages.items())],
            "files": [
                {
                    "path": f.path,
                    "package": f.package,
                    "version": f.version,
                    "licence": f.licence,
                    "source": f.source,
                    "sha256": f.sha256,
                }
                for f in sorted(self.files, key=lambda f: f.path)
            ],
        }
        path.write_text(json.dumps(data, indent=2) + "\n")

    def find(self, package: str, name: str) -> VendoredFile:
        """The vendored file `name` (its path inside the package) of `package`, whatever its version."""
        for entry in self.files:
            if entry.package == package and entry.inside_package == name:
                return entry
        raise VendorError(f"{package}/{name} is not vendored (api/static/vendor/MANIFEST.json)")


def url(package: str, name: str) -> str:
    """Where the app serves a vendored file, e.g. url("swagger-ui-dist", "swagger-ui.css")."""
    return Manifest.read().find(package, name).url


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def check(manifest: Manifest, vendor: Path = VENDOR) -> list[str]:
    """What is wrong with the files on disk: missing, changed, or not in the manifest."""
    problems = []
    listed = {entry.path for entry in manifest.files}
    for entry in manifest.files:
        file = vendor / entry.path
        if not file.is_file():
            problems.append(f"{entry.path}: missing")
        elif sha256(file.read_bytes()) != entry.sha256:
            problems.append(f"{entry.path}: sha256 differs from the manifest")
    for file in sorted(vendor.rglob("*")):
        relative = file.relative_to(vendor).as_posix()
        if file.is_file() and file != vendor / MANIFEST.name and relative not in listed:
            problems.append(f"{relative}: not in the manifest")
    return problems


def _integrity(content: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(content).digest()).decode()


def _pack(spec: str, into: Path) -> bytes:
    """The package's tarball, fetched by npm (which checks it against the registry's own record)."""
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError("npm is not installed (apt-get install npm)")
    done = subprocess.run(  # noqa: S603 - npm, found on PATH, with a package spec we were given
        [npm, "pack", spec, "--json", "--pack-destination", str(into)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if done.returncode != 0:
        raise VendorError(f"npm pack {spec} failed: {done.stderr.strip()[-2000:]}")
    packed = json.loads(done.stdout)[0]
    return (into / str(packed["filename"])).read_bytes()


def _members(tarball: bytes, scratch: Path) -> dict[str, bytes]:
    """Every regular file of an npm tarball by its path inside the package (without `package/`)."""
    (scratch / "package.tgz").write_bytes(tarball)
    files: dict[str, bytes] = {}
    with tarfile.open(scratch / "package.tgz", "r:gz") as archive:
        for member in archive.getmembers():
            extracted = archive.extractfile(member) if member.isfile() else None
            if extracted is not None:
                name = PurePosixPath(member.name)
                files[PurePosixPath(*name.parts[1:]).as_posix()] = extracted.read()
    return files


def _package_spec(spec: str) -> tuple[str, str]:
    name, _, version = spec.rpartition("@")
    if not name or not version or version == "latest":
        raise VendorError(f"name an exact version: {spec!r} (e.g. swagger-ui-dist@5.35.0)")
    return name, version


def download(manifest: Manifest, vendor: Path = VENDOR) -> None:
    """Fetch every package of the manifest again and rewrite its files, refusing any that differs."""
    for package_id, integrity in sorted(manifest.packages.items()):
        with tempfile.TemporaryDirectory() as scratch:
            tarball = _pack(package_id, Path(scratch))
            if _integrity(tarball) != integrity:
                raise VendorError(f"{package_id}: the tarball's integrity differs from the manifest")
            members = _members(tarball, Path(scratch))
        for entry in manifest.files:
            if f"{entry.package}@{entry.version}" != package_id:
                continue
            content = members.get(entry.inside_package)
            if content is None:
                raise VendorError(f"{entry.source}: no such file in the package")
            if sha256(content) != entry.sha256:
                raise VendorError(f"{entry.source}: sha256 differs from the manifest")
            target = vendor / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            print(f"ok  {entry.path}  {entry.sha256[:16]}…")


def add(manifest: Manifest, spec: str, names: list[str], vendor: Path = VENDOR) -> Manifest:
    """Vendor `names` from the package `spec` (name@version): files and manifest entries."""
    package, version = _package_spec(spec)
    with tempfile.TemporaryDirectory() as scratch:
        tarball = _pack(spec, Path(scratch))
        members = _members(tarball, Path(scratch))
    licence = str(json.loads(members["package.json"]).get("license", "UNKNOWN"))
    files = [
        f for f in manifest.files if not (f.package == package and f.version == version and f.inside_package in names)
    ]
    for name in names:
        content = members.get(name)
        if content is None:
            raise VendorError(f"{spec} has no file {name!r}")
        entry = VendoredFile(
            path=f"{package.replace('/', '-').lstrip('@')}-{version}/{name}",
            package=package,
            version=version,
            licence=licence,
            source=f"npm:{spec}/{name}",
            sha256=sha256(content),
        )
        files = [f for f in files if f.path != entry.path] + [entry]
        target = vendor / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        print(f"added  {entry.path}  ({licence})")
    return Manifest(packages={**manifest.packages, spec: _integrity(tarball)}, files=files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.vendor", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("download", help="download every package again and check it (the default; `make vendor`)")
    commands.add_parser("check", help="check the files on disk against the manifest, without the network")
    adding = commands.add_parser("add", help="vendor files of a package at an exact version")
    adding.add_argument("package", help="name@version, e.g. htmx.org@2.0.4")
    adding.add_argument("files", nargs="+", help="paths inside the package, e.g. dist/htmx.min.js")
    args = parser.parse_args(argv)
    manifest = Manifest.read() if MANIFEST.exists() else Manifest(packages={}, files=[])
    try:
        if args.command == "add":
            manifest = add(manifest, args.package, args.files)
            manifest.write()
        elif args.command in (None, "download"):
            download(manifest)
    except VendorError as exc:
        print(f"vendor: {exc}", file=sys.stderr)
        return 1
    problems = check(manifest)
    for problem in problems:
        print(f"vendor: {problem}", file=sys.stderr)
    print(f"{len(manifest.files) - len(problems)} of {len(manifest.files)} vendored files match the manifest")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
