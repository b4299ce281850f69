"""Links to reports as the report server serves them (``customer-overview reports serve``).

Asset and check metadata link every report as a URL under ``settings.reports.url`` (Dagster's
UI is served over http, and browsers block ``file://`` links from http pages). The stable
``/latest/...`` links work before the report they point to exists: the server redirects to the
newest report of that kind once there is one.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from customer_overview.config import LakehouseSettings

LATEST_PREFIX = "latest"
# /latest/<route>/<table> -> the newest report of this kind (quality.report_index kinds).
LATEST_KINDS = {"data_docs": "quality", "profile": "profile"}
LATEST_PRODUCT_CARD = "product_card"


def report_url(settings: LakehouseSettings, path: Path | str) -> str:
    """The URL of a file under the reports folder, at ``settings.reports.url``.

    Args:
        settings: The lakehouse (its reports folder and base URL).
        path: A file under ``settings.reports_dir`` (absolute) or a path relative to it.

    Raises:
        ValueError: ``path`` is not under the reports folder.
    """
    path = Path(path)
    if path.is_absolute():
        reports_dir = settings.reports_dir.resolve()
        resolved = path.resolve()
        if resolved != reports_dir and reports_dir not in resolved.parents:
            raise ValueError(f"{path} is not under the reports folder {reports_dir}")
        path = resolved.relative_to(reports_dir)
    if ".." in path.parts:
        raise ValueError(f"{path} is not under the reports folder")
    return settings.reports.url + quote(path.as_posix())


def latest_report_urls(settings: LakehouseSettings, table: str, *, profile: bool) -> dict[str, str]:
    """Stable links to the newest Data Docs page (and profile) of ``table`` and product card.

    They work before those reports exist: the server redirects once they do.
    """
    base = settings.reports.url + LATEST_PREFIX
    links = {"latest_data_docs": f"{base}/data_docs/{quote(table)}"}
    if profile:
        links["latest_profile"] = f"{base}/profile/{quote(table)}"
    links["latest_product_card"] = f"{base}/{LATEST_PRODUCT_CARD}"
    return links
