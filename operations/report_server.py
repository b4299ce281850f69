"""``customer-overview reports serve``: the reports folder over HTTP on 127.0.0.1, read-only.

Dagster's UI is served over http, so it can only link to reports that are served over http too
(browsers block ``file://`` links from http pages). This server is the standard library's
``ThreadingHTTPServer`` with a hardened ``SimpleHTTPRequestHandler``:

- GET and HEAD only (any other method of HTTP/1.1: 405);
- only files under the reports folder, after resolving symlinks, ``..`` and percent-encoded
  ``%2e%2e``; no hidden files (``.name``), and not the Great Expectations project folder
  (``quality/gx/``: its configuration and raw validation results are not reports);
- only file types a report uses (HTML, CSS, JS, JSON, images, fonts, Markdown/text), each with
  an explicit content type; no directory listings (a folder is served only through its
  ``index.html``);
- a ``Content-Security-Policy`` that lets a page load only from this server: whatever a report
  references, the browser sends no request to another host.

Stable links to the newest reports, for metadata written before those reports exist (the curated
asset materializes before its checks and its profile run): ``/latest/data_docs/<table>``,
``/latest/profile/<table>`` and ``/latest/product_card`` redirect to the newest report of that
kind recorded in ``reports.jsonl`` (``quality/report_index.py``).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO
from urllib.parse import quote, unquote, urlsplit

from customer_overview.report_links import LATEST_KINDS, LATEST_PREFIX, LATEST_PRODUCT_CARD

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
# Folders under the reports folder that are not reports (Great Expectations' project).
NOT_SERVED = (("quality", "gx"),)
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    # Shown as text in the browser rather than downloaded.
    ".md": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
}
# Reports use inline scripts and styles (GX, ydata-profiling) and Vega compiles expressions with
# Function(); everything else must come from this server.
CONTENT_SECURITY_POLICY = (
    "default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:; "
    "form-action 'none'; base-uri 'self'; frame-ancestors 'self'"
)


class ReportRequestHandler(SimpleHTTPRequestHandler):
    """Serves files of the reports folder (``directory``) and the ``/latest/`` redirects."""

    server_version = "customer-overview-reports"
    protocol_version = "HTTP/1.1"
    extensions_map = CONTENT_TYPES

    def __init__(self, *args: Any, directory: str, **kwargs: Any) -> None:
        self.root = Path(os.path.realpath(directory))
        super().__init__(*args, directory=str(self.root), **kwargs)

    def version_string(self) -> str:
        return self.server_version

    # ------------------------------------------------------------------------------ methods
    def _method_not_allowed(self) -> None:
        # A request body is never read: the connection cannot carry another request.
        self.close_connection = True
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Connection", "close")
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = (
        _method_not_allowed
    )

    # ------------------------------------------------------------------------------ serving
    def send_head(self) -> BinaryIO | None:
        """Headers of the file or redirect for ``self.path``; the open file for do_GET."""
        request_path = urlsplit(self.path).path
        parts = self.path_parts(request_path)
        if parts is None:
            self.send_error(HTTPStatus.NOT_FOUND, "Not found")
            return None
        if parts[:1] == [LATEST_PREFIX]:
            self._redirect_to_latest(parts, request_path)
            return None
        target = self.resolve(parts)
        if target is not None and target.is_dir():
            if not request_path.endswith("/"):
                self._redirect(quote(request_path + "/"), HTTPStatus.MOVED_PERMANENTLY)
                return None
            target = self.resolve([*parts, "index.html"])
        if target is None or not target.is_file() or target.suffix.lower() not in CONTENT_TYPES:
            self.send_error(HTTPStatus.NOT_FOUND, "Not found")
            return None
        try:
            file = target.open("rb")
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, "Not found")
            return None
        try:
            stat = os.fstat(file.fileno())
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", CONTENT_TYPES[target.suffix.lower()])
            self.send_header("Content-Length", str(stat.st_size))
            self.send_header("Last-Modified", self.date_time_string(int(stat.st_mtime)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
        except BaseException:
            file.close()
            raise
        return file

    def path_parts(self, request_path: str) -> list[str] | None:
        """The decoded path segments, or None for a path that may not be served.

        Refused: ``..`` (also percent-encoded), hidden names, backslashes, NUL, invalid
        percent-encoding, and the folders in ``NOT_SERVED``.
        """
        try:
            decoded = unquote(request_path, errors="strict")
        except UnicodeDecodeError:
            return None
        if "\x00" in decoded or "\\" in decoded:
            return None
        parts = [part for part in decoded.split("/") if part not in ("", ".")]
        if any(part == ".." or part.startswith(".") for part in parts):
            return None
        if any(tuple(parts[: len(prefix)]) == prefix for prefix in NOT_SERVED):
            return None
        return parts

    def resolve(self, parts: list[str]) -> Path | None:
        """The real path of ``parts`` under the root, or None if a symlink leads outside."""
        real = Path(os.path.realpath(self.root.joinpath(*parts)))
        if real != self.root and self.root not in real.parents:
            return None
        return real

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        self.send_error(HTTPStatus.NOT_FOUND, "Not found")
        return None

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    # ------------------------------------------------------------------------------ latest
    def _redirect_to_latest(self, parts: list[str], request_path: str) -> None:
        from quality.report_index import load_entries

        if parts[1:] == [LATEST_PRODUCT_CARD]:
            kind, table = "product", None
        elif len(parts) == 3 and parts[1] in LATEST_KINDS:
            kind, table = LATEST_KINDS[parts[1]], parts[2]
        else:
            self.send_error(
                HTTPStatus.NOT_FOUND,
                "Not found",
                f"known: /{LATEST_PREFIX}/data_docs/<table>, /{LATEST_PREFIX}/profile/<table>, "
                f"/{LATEST_PREFIX}/{LATEST_PRODUCT_CARD}",
            )
            return
        newest = next(
            (
                entry
                for entry in load_entries(self.root)
                if entry.kind == kind and (table is None or entry.table == table)
            ),
            None,
        )
        if newest is None:
            what = {"quality": "Data Docs", "profile": "profile", "product": "product card"}[kind]
            self.send_error(
                HTTPStatus.NOT_FOUND,
                f"No {what} yet",
                f"No {what}{f' of {table}' if table else ''} has been written yet: it appears "
                "here once the pipeline step that writes it has run.",
            )
            return
        # Relative to the request, so the redirect also works behind a URL prefix.
        up = "../" * (request_path.count("/") - 1)
        self._redirect(up + quote(newest.path), HTTPStatus.FOUND, cache=False)

    def _redirect(self, location: str, status: HTTPStatus, cache: bool = True) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        if not cache:
            self.send_header("Cache-Control", "no-store")
        self.end_headers()


class ReportServer(ThreadingHTTPServer):
    """One thread per request; worker threads never keep the process alive on shutdown."""

    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser that leaves a page while a large report (a profile) is still downloading
        # closes the connection: normal, not worth the traceback socketserver prints.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def make_server(reports_dir: Path, port: int, host: str = HOST) -> ReportServer:
    """A server for ``reports_dir`` on ``host:port`` (port 0: any free port), not yet serving.

    The folder is created if missing, so the server can start before the first run.
    """
    reports_dir.mkdir(parents=True, exist_ok=True)

    def handler(*args: Any, **kwargs: Any) -> ReportRequestHandler:
        return ReportRequestHandler(*args, directory=str(reports_dir), **kwargs)

    return ReportServer((host, port), handler)


class _Stop(Exception):
    """Raised in the main thread by SIGTERM to leave serve_forever."""


def serve(
    reports_dir: Path,
    port: int,
    host: str = HOST,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve ``reports_dir`` until Ctrl-C (SIGINT) or SIGTERM, then close the socket.

    Args:
        reports_dir: The lakehouse's reports folder.
        port: TCP port on ``host``.
        host: The address to listen on (loopback only by default).
        announce: Receives the "serving ... on URL" line.

    Raises:
        OSError: The port is taken (or cannot be bound).
    """
    server = make_server(reports_dir, port, host)
    bound_port = server.server_address[1]

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Stop(signal.Signals(signum).name)

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, stop)
    announce(f"Serving {reports_dir} on http://{host}:{bound_port}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        server.server_close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        log.info("report server on port %d stopped", bound_port)
