"""Reports that load nothing from outside the machine: vendored CSS/JS/fonts for the Data Docs.

Great Expectations 1.x writes Data Docs pages whose ``<link>``/``<script>`` tags point at public
CDNs (Bootstrap 4.3.1, jQuery 3.7.1, bootstrap-table, bootstrap-datepicker, Popper 1.12.9,
Font Awesome 6.6.0, Vega 5 / Vega-Lite 5 / Vega-Embed 6, a dark-mode Bootstrap sheet) and whose
logo comes from a remote bucket with the data context id in its query string. Offline, the home
page's table (rendered by bootstrap-table from a script) stays empty.

GX offers no setting for those URLs: they are literals in its Jinja templates
(``render/view/templates/*.j2``) and its inline stylesheet, and a site's
``plugins/custom_data_docs/views`` folder is searched *after* GX's own templates, so it cannot
override them. Hence this module rewrites each page right after GX writes it:

- every CDN URL GX uses becomes a relative path to the same file under
  ``LAKEHOUSE_DIR/reports/static/vendor/`` (relative, so the reports folder works from the file
  system, from the report server and behind any URL prefix);
- ``integrity``/``crossorigin`` attributes of the rewritten tags are dropped: they ask for a CORS
  fetch, which a page opened from ``file://`` cannot make;
- the remote GX logo becomes GX's own ``logo-long.png`` (shipped in the great-expectations wheel).

The files come from npm packages pinned in ``quality/web_assets/package-lock.json`` (versions as
GX's templates name them): ``make setup`` runs ``npm ci`` there and then ``python -m
quality.offline_assets vendor``, which copies the few files the pages use, with their licences,
to ``quality/web_assets/vendor/`` (package data, so an installed wheel carries them).
``install_static_assets`` copies them into a lakehouse's reports folder.

Any resource reference a page still has that leaves the machine (an unknown CDN URL after a GX
upgrade, say) is reported by ``external_resources`` and logged as a warning.
"""

from __future__ import annotations

import argparse
import filecmp
import functools
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from customer_overview.atomic_files import write_text_atomically

log = logging.getLogger(__name__)

WEB_ASSETS_DIR = Path(__file__).with_name("web_assets")
NODE_MODULES_DIR = WEB_ASSETS_DIR / "node_modules"
PACKAGED_VENDOR_DIR = WEB_ASSETS_DIR / "vendor"
STATIC_DIR = "static"  # under the reports folder
VENDOR_DIR = "vendor"  # under STATIC_DIR
PACKAGES_FILE = "PACKAGES.json"
_LICENCE_NAMES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE")


@dataclass(frozen=True)
class VendoredAsset:
    """One file a report page loads, where it comes from and the CDN URLs it replaces.

    Attributes:
        package: The npm package (pinned in ``web_assets/package-lock.json``).
        source: The file's path inside the package; a trailing ``/*`` takes every file of that
            folder (e.g. Font Awesome's web fonts, which its stylesheet loads relatively).
        target: The path under ``reports/static/vendor/``.
        urls: The CDN URLs GX's templates write for this file.
    """

    package: str
    source: str
    target: str
    urls: tuple[str, ...] = ()


VENDORED_ASSETS: tuple[VendoredAsset, ...] = (
    VendoredAsset(
        "bootstrap",
        "dist/css/bootstrap.min.css",
        "bootstrap/css/bootstrap.min.css",
        ("https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css",),
    ),
    VendoredAsset(
        "bootstrap",
        "dist/js/bootstrap.min.js",
        "bootstrap/js/bootstrap.min.js",
        ("https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js",),
    ),
    VendoredAsset(
        "jquery",
        "dist/jquery.min.js",
        "jquery/jquery.min.js",
        ("https://code.jquery.com/jquery-3.7.1.min.js",),
    ),
    VendoredAsset(
        "popper.js",
        "dist/umd/popper.min.js",
        "popper.js/popper.min.js",
        ("https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js",),
    ),
    VendoredAsset(
        "bootstrap-table",
        "dist/bootstrap-table.min.css",
        "bootstrap-table/bootstrap-table.min.css",
        ("https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css",),
    ),
    VendoredAsset(
        "bootstrap-table",
        "dist/bootstrap-table.min.js",
        "bootstrap-table/bootstrap-table.min.js",
        ("https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js",),
    ),
    VendoredAsset(
        "bootstrap-table",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
        "bootstrap-table/extensions/filter-control/bootstrap-table-filter-control.min.js",
        (
            "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
            "bootstrap-table-filter-control.min.js",
        ),
    ),
    VendoredAsset(
        "bootstrap-table",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
        "bootstrap-table/extensions/filter-control/bootstrap-table-filter-control.min.css",
        # GX names 1.19.0 for this sheet (and 1.19.1 for the script); the rules are the same.
        (
            "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
            "bootstrap-table-filter-control.min.css",
            "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
            "bootstrap-table-filter-control.css",
        ),
    ),
    VendoredAsset(
        "bootstrap-datepicker",
        "dist/css/bootstrap-datepicker.min.css",
        "bootstrap-datepicker/bootstrap-datepicker.min.css",
        (
            "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
            "bootstrap-datepicker.min.css",
        ),
    ),
    VendoredAsset(
        "bootstrap-datepicker",
        "dist/js/bootstrap-datepicker.min.js",
        "bootstrap-datepicker/bootstrap-datepicker.min.js",
        (
            "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
            "bootstrap-datepicker.min.js",
        ),
    ),
    VendoredAsset(
        "@forevolve/bootstrap-dark",
        # The minified build of the sheet GX links (883 kB unminified).
        "dist/css/bootstrap-prefers-dark.min.css",
        "bootstrap-dark/bootstrap-prefers-dark.min.css",
        (
            "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
            "bootstrap-prefers-dark.css",
        ),
    ),
    VendoredAsset(
        "@fortawesome/fontawesome-free",
        "css/all.min.css",
        "fontawesome/css/all.min.css",
        ("https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css",),
    ),
    # all.min.css loads ../webfonts/fa-*.woff2 (and .ttf) relative to itself.
    VendoredAsset("@fortawesome/fontawesome-free", "webfonts/*", "fontawesome/webfonts"),
    VendoredAsset(
        "vega", "build/vega.min.js", "vega/vega.min.js", ("https://cdn.jsdelivr.net/npm/vega@5",)
    ),
    VendoredAsset(
        "vega-lite",
        "build/vega-lite.min.js",
        "vega-lite/vega-lite.min.js",
        ("https://cdn.jsdelivr.net/npm/vega-lite@5",),
    ),
    VendoredAsset(
        "vega-embed",
        "build/vega-embed.min.js",
        "vega-embed/vega-embed.min.js",
        ("https://cdn.jsdelivr.net/npm/vega-embed@6",),
    ),
)

# GX's logo bucket: the navbar image (with ?d=<time>&dataContextId=<id>) and, in the inline
# dark-mode style, a dark variant GX does not ship; both become the logo GX ships.
_GX_IMAGE_URL = re.compile(
    r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/[\w.-]+"
    r"(?:\?[^\s\"'()<>]*)?"
)
GX_LOGO_TARGET = "great_expectations/logo-long.png"
GX_FAVICON_TARGET = "great_expectations/favicon.ico"
# Images GX ships in its wheel (render/view/static/images/), copied next to the vendored files.
_GX_IMAGES = {GX_LOGO_TARGET: "logo-long.png", GX_FAVICON_TARGET: "favicon.ico"}
# GX's favicon link on validation pages is one folder short (favicon.j2 counts 3 levels where
# the pages are 4 deep): a 404 on every page. Every favicon link is pointed at the copy above.
_GX_FAVICON_LINK = re.compile(r'href="(?:\./|(?:\.\./)*)static/images/favicon\.ico"')

_ABSOLUTE_URL = re.compile(r"https?://[^\s\"'()<>\\]+")
_CSS_URL = re.compile(
    r"""url\(\s*(['"]?)(?P<url>[^'")]+)\1\s*\)|@import\s+(['"])(?P<imp>[^'"]+)\3"""
)
_SRI_ATTRIBUTE = re.compile(r"""\s+(?:integrity|crossorigin)(?:=(?:"[^"]*"|'[^']*'|[^\s>]+))?""")
_SCRIPT_OR_LINK_TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.IGNORECASE)
# Schemes that never leave the page (inline data, in-page script, blank frames).
_LOCAL_SCHEMES = ("data:", "blob:", "about:", "javascript:", "#")


# ------------------------------------------------------------------------ what a page loads
class _ResourceFinder(HTMLParser):
    """Collects every URL a browser would fetch by itself while showing the page."""

    _RESOURCE_ATTRIBUTES = {
        "script": ("src",),
        "img": ("src", "srcset"),
        "iframe": ("src",),
        "frame": ("src",),
        "source": ("src", "srcset"),
        "video": ("src", "poster"),
        "audio": ("src",),
        "track": ("src",),
        "embed": ("src",),
        "object": ("data",),
        "input": ("src",),
        "image": ("href", "xlink:href"),  # SVG
        "use": ("href", "xlink:href"),  # SVG
    }
    # <link rel=...> values that are only navigation hints, never fetched.
    _NAVIGATION_RELS = {"alternate", "author", "canonical", "help", "license", "next", "prev"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "link":
            rels = set(values.get("rel", "").lower().split())
            if not rels or not rels <= self._NAVIGATION_RELS:
                self.urls.append(values.get("href", ""))
        for name in self._RESOURCE_ATTRIBUTES.get(tag, ()):
            if name in values:
                value = values[name]
                self.urls += (
                    [part.split()[0] for part in value.split(",") if part.split()]
                    if (name == "srcset")
                    else [value]
                )
        if "style" in values:
            self.urls += css_urls(values["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls += css_urls(data)


def css_urls(css: str) -> list[str]:
    """The URLs a stylesheet loads (``url(...)`` and ``@import``)."""
    return [match.group("url") or match.group("imp") for match in _CSS_URL.finditer(css)]


def leaves_the_machine(url: str) -> bool:
    """Whether fetching ``url`` from a page would go to another host (absolute or ``//host``).

    Relative references, in-page fragments and ``data:``/``blob:`` URLs stay on the machine.
    """
    url = url.strip()
    if not url or url.lower().startswith(_LOCAL_SCHEMES):
        return False
    return url.startswith("//") or bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", url))


def external_resources(page_html: str) -> list[str]:
    """Every resource ``page_html`` would load from outside the machine, in page order.

    Links a reader may click (``<a href>``) are not resources and are not listed.
    """
    finder = _ResourceFinder()
    finder.feed(page_html)
    finder.close()
    return [url for url in finder.urls if leaves_the_machine(url)]


# ------------------------------------------------------------------------------- rewriting
@functools.cache
def _url_targets() -> dict[str, str]:
    return {url: asset.target for asset in VENDORED_ASSETS for url in asset.urls}


def vendor_url(reports_dir: Path, page: Path, target: str) -> str:
    """The relative URL from ``page`` to ``reports/static/vendor/<target>``."""
    vendor = reports_dir / STATIC_DIR / VENDOR_DIR
    relative = os.path.relpath(vendor, page.parent).replace(os.sep, "/")
    return f"{relative}/{target}"


def rewrite_page(page_html: str, page: Path, reports_dir: Path) -> str:
    """``page_html`` with every known CDN URL replaced by a relative path to the vendored file.

    Idempotent: a page already rewritten comes back unchanged.

    Args:
        page_html: The page as GX wrote it.
        page: Where the page lives (relative URLs are computed from its folder).
        reports_dir: The lakehouse's reports folder (``static/vendor/`` is under it).
    """
    targets = _url_targets()

    def local(match: re.Match[str]) -> str:
        url = match.group(0)
        if _GX_IMAGE_URL.fullmatch(url):
            return vendor_url(reports_dir, page, GX_LOGO_TARGET)
        target = targets.get(url)
        return vendor_url(reports_dir, page, target) if target else url

    rewritten = _ABSOLUTE_URL.sub(local, page_html)
    favicon = vendor_url(reports_dir, page, GX_FAVICON_TARGET)
    rewritten = _GX_FAVICON_LINK.sub(f'href="{favicon}"', rewritten)
    marker = vendor_url(reports_dir, page, "")

    def without_sri(match: re.Match[str]) -> str:
        tag = match.group(0)
        return _SRI_ATTRIBUTE.sub("", tag) if marker in tag else tag

    return _SCRIPT_OR_LINK_TAG.sub(without_sri, rewritten)


@dataclass
class OfflineResult:
    """What ``make_pages_offline`` did.

    Attributes:
        rewritten: Pages changed.
        unchanged: Pages that had nothing to rewrite (or were being written: see below).
        leftovers: Per page, the resources it still loads from outside the machine.
        missing_assets: Vendored files that are not installed (pages then load nothing from
            outside but miss styles or scripts).
    """

    rewritten: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    leftovers: dict[Path, list[str]] = field(default_factory=dict)
    missing_assets: list[str] = field(default_factory=list)


def make_pages_offline(pages: Iterable[Path], reports_dir: Path) -> OfflineResult:
    """Rewrite ``pages`` in place (atomically) and install the vendored files they load.

    A page that does not end with ``</html>`` is being written by someone else and is left
    alone: its writer's own call rewrites it once it is complete.
    """
    result = OfflineResult(missing_assets=install_static_assets(reports_dir))
    for page in pages:
        original = page.read_text(encoding="utf-8", errors="surrogateescape")
        if not original.rstrip().lower().endswith("</html>"):
            result.unchanged.append(page)
            continue
        rewritten = rewrite_page(original, page, reports_dir)
        leftovers = external_resources(rewritten)
        if leftovers:
            result.leftovers[page] = leftovers
        if rewritten == original:
            result.unchanged.append(page)
            continue
        _replace_if_unchanged(page, original, rewritten)
        result.rewritten.append(page)
    for page, urls in result.leftovers.items():
        log.warning(
            "%s still loads %d resource(s) from outside the machine (unknown to %s): %s",
            page,
            len(urls),
            __name__,
            ", ".join(sorted(set(urls))),
        )
    return result


# In the Data Docs folder: when the last sweep that finished had started (epoch seconds).
SWEPT_MARKER = ".offline-swept-since"
# A page written in the second before a sweep started may carry that second's mtime.
_MTIME_SLACK_SECONDS = 2.0


def make_data_docs_offline(
    docs_dir: Path, reports_dir: Path, everything: bool = False
) -> OfflineResult:
    """Rewrite the Data Docs pages under ``docs_dir`` written since the last sweep.

    Called right after GX builds them. GX rewrites the index and the pages of the current
    validation and leaves older pages as they are, so only pages modified since the last sweep
    that finished (``SWEPT_MARKER``) are read: the history of validations is not read again on
    every run. A sweep that did not finish leaves the marker where it was, and the next one
    covers its pages too. ``everything``: every page, whatever the marker says.
    """
    started = time.time()
    marker = docs_dir / SWEPT_MARKER
    since = None if everything else _swept_since(marker)
    pages = [
        page
        for page in sorted(docs_dir.rglob("*.html"))
        if since is None or page.stat().st_mtime >= since - _MTIME_SLACK_SECONDS
    ]
    result = make_pages_offline(pages, reports_dir)
    if docs_dir.is_dir():
        write_text_atomically(marker, f"{started}\n")
    log.info(
        "Data Docs under %s: %d page(s) rewritten to vendored assets, %d unchanged",
        docs_dir,
        len(result.rewritten),
        len(result.unchanged),
    )
    return result


def _swept_since(marker: Path) -> float | None:
    try:
        return float(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # never swept, or an unreadable marker: every page


def _replace_if_unchanged(page: Path, original: str, rewritten: str) -> None:
    """Replace ``page`` by ``rewritten`` unless it changed since it was read as ``original``."""
    with tempfile.NamedTemporaryFile(
        "w",
        encoding="utf-8",
        errors="surrogateescape",
        dir=page.parent,
        prefix=f".{page.name}.",
        delete=False,
    ) as temporary:
        temporary.write(rewritten)
    shutil.copymode(page, temporary.name)
    # GX may have written a newer page meanwhile; that one's writer rewrites it.
    if page.read_text(encoding="utf-8", errors="surrogateescape") != original:
        os.unlink(temporary.name)
        return
    os.replace(temporary.name, page)


# ------------------------------------------------------------------ installing the files
def install_static_assets(reports_dir: Path, vendored_dir: Path = PACKAGED_VENDOR_DIR) -> list[str]:
    """Copy the vendored files into ``reports_dir/static/vendor/`` (only those that differ).

    Args:
        reports_dir: The lakehouse's reports folder.
        vendored_dir: Where ``vendor`` put the files (the package's ``web_assets/vendor``).

    Returns:
        The targets that could not be installed because they were never vendored (logged as
        an error naming the fix).
    """
    destination = reports_dir / STATIC_DIR / VENDOR_DIR
    missing = []
    for asset in VENDORED_ASSETS:
        for source, target in _expanded(vendored_dir, asset):
            if not source.is_file():
                missing.append(target)
                continue
            _copy_if_different(source, destination / target)
    for extra in (PACKAGES_FILE, "licenses"):
        source = vendored_dir / extra
        if source.is_file():
            _copy_if_different(source, destination / extra)
        elif source.is_dir():
            for file in sorted(source.iterdir()):
                _copy_if_different(file, destination / extra / file.name)
    for target, name in _GX_IMAGES.items():
        image = _gx_images_dir() / name
        if image.is_file():
            _copy_if_different(image, destination / target)
        else:
            missing.append(target)
    if missing:
        log.error(
            "report assets not vendored (%s): pages will lack styles and scripts; run "
            "`make setup` (npm ci in %s, then python -m quality.offline_assets vendor)",
            ", ".join(missing),
            WEB_ASSETS_DIR,
        )
    return missing


def _expanded(vendored_dir: Path, asset: VendoredAsset) -> list[tuple[Path, str]]:
    """(installed file, target) pairs of ``asset``; a folder asset lists what was vendored."""
    if asset.source.endswith("/*"):
        folder = vendored_dir / asset.target
        files = sorted(folder.iterdir()) if folder.is_dir() else []
        return [(file, f"{asset.target}/{file.name}") for file in files] or [
            (folder / "*", f"{asset.target}/*")
        ]
    return [(vendored_dir / asset.target, asset.target)]


def _copy_if_different(source: Path, target: Path) -> None:
    if target.is_file() and filecmp.cmp(source, target, shallow=False):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, temporary)
    os.replace(temporary, target)


def _gx_images_dir() -> Path:
    """GX's images folder, found without importing GX (3 s)."""
    import importlib.util

    spec = importlib.util.find_spec("great_expectations")
    if spec is None or not spec.submodule_search_locations:
        return Path("/nonexistent/great_expectations")
    package = Path(next(iter(spec.submodule_search_locations)))
    return package / "render" / "view" / "static" / "images"


# --------------------------------------------------------------- vendoring from npm (set-up)
def vendor(node_modules: Path = NODE_MODULES_DIR, out: Path = PACKAGED_VENDOR_DIR) -> Path:
    """Copy the files of ``VENDORED_ASSETS`` from ``node_modules`` (``npm ci``) to ``out``.

    Also writes each package's licence (``out/licenses/``) and ``out/PACKAGES.json`` (package,
    version, licence), and checks that no vendored stylesheet loads anything from outside.

    Raises:
        FileNotFoundError: A package or file is missing (``npm ci`` not run, or a version
            without that file).
        ValueError: A vendored stylesheet loads a resource from outside the machine.
    """
    if not node_modules.is_dir():
        raise FileNotFoundError(
            f"{node_modules} does not exist: run `npm ci --prefix {node_modules.parent}` first"
        )
    staging = Path(tempfile.mkdtemp(prefix=".vendor-", dir=out.parent))
    try:
        packages: dict[str, dict[str, str]] = {}
        for asset in VENDORED_ASSETS:
            package_dir = node_modules / asset.package
            manifest_file = package_dir / "package.json"
            if not manifest_file.is_file():
                raise FileNotFoundError(f"npm package {asset.package} is not in {node_modules}")
            if asset.package not in packages:
                manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
                packages[asset.package] = {
                    "version": str(manifest.get("version", "")),
                    "license": str(manifest.get("license", "")),
                }
                licences = [package_dir / name for name in _LICENCE_NAMES]
                licence = next((path for path in licences if path.is_file()), None)
                if licence is not None:
                    name = asset.package.replace("/", "__").lstrip("@")
                    _copy(licence, staging / "licenses" / f"{name}.txt")
            sources = (
                sorted(p for p in (package_dir / asset.source[:-2]).iterdir() if p.is_file())
                if asset.source.endswith("/*")
                else [package_dir / asset.source]
            )
            if not sources or not all(source.is_file() for source in sources):
                raise FileNotFoundError(
                    f"{asset.package}: {asset.source} not found in {package_dir} (version "
                    f"{packages[asset.package]['version']})"
                )
            for source in sources:
                target = (
                    f"{asset.target}/{source.name}" if asset.source.endswith("/*") else asset.target
                )
                if source.suffix == ".css":
                    outside = [
                        url
                        for url in css_urls(source.read_text(encoding="utf-8"))
                        if leaves_the_machine(url)
                    ]
                    if outside:
                        raise ValueError(f"{source} loads from outside the machine: {outside}")
                _copy(source, staging / target)
        (staging / PACKAGES_FILE).write_text(
            json.dumps(packages, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    # Package data must be readable by whoever installs or runs the product.
    os.chmod(target, 0o644)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m quality.offline_assets vendor | rewrite DOCS REPORTS | check PAGE...``."""
    parser = argparse.ArgumentParser(prog="python -m quality.offline_assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    vendor_command = commands.add_parser("vendor", help="copy the report assets out of npm ci")
    vendor_command.add_argument("--node-modules", type=Path, default=NODE_MODULES_DIR)
    vendor_command.add_argument("--out", type=Path, default=PACKAGED_VENDOR_DIR)
    rewrite = commands.add_parser("rewrite", help="make existing Data Docs pages offline")
    rewrite.add_argument("docs_dir", type=Path)
    rewrite.add_argument("reports_dir", type=Path)
    check = commands.add_parser("check", help="list resources pages load from outside")
    check.add_argument("pages", type=Path, nargs="+")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.command == "vendor":
        try:
            out = vendor(args.node_modules, args.out)
        except (FileNotFoundError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        files = sum(1 for path in out.rglob("*") if path.is_file())
        print(f"vendored {files} files into {out}")
        return 0
    if args.command == "rewrite":
        result = make_data_docs_offline(args.docs_dir, args.reports_dir, everything=True)
        print(f"{len(result.rewritten)} rewritten, {len(result.unchanged)} unchanged")
        return 1 if result.leftovers or result.missing_assets else 0
    outside = {
        str(page): external_resources(page.read_text(encoding="utf-8", errors="replace"))
        for page in args.pages
    }
    outside = {page: urls for page, urls in outside.items() if urls}
    for page, urls in outside.items():
        print(f"{page}: {', '.join(urls)}")
    return 1 if outside else 0


if __name__ == "__main__":
    sys.exit(main())
