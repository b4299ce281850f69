"""The product card: what a consumer reads before using the data product (Markdown + HTML)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import mistune
from markupsafe import Markup

from assets.published.publishing import PublishResult
from customer_overview.config import LakehouseSettings
from customer_overview.html_pages import render_template
from customer_overview.product import DataProductManifest
from customer_overview.publish_log import PUBLISH_LOG_TABLE
from quality.gates import VersionDecision


@dataclass(frozen=True)
class CheckLine:
    asset: str
    check: str
    passed: bool
    severity: str


def render_card(
    manifest: DataProductManifest,
    settings: LakehouseSettings,
    result: PublishResult,
    access_matrix_markdown: str,
    checks: Sequence[CheckLine],
    rows_by_country: Mapping[str, int],
    connect_files: Mapping[str, Path],
    decision: VersionDecision | None = None,
) -> str:
    """The product card as Markdown (``decision``: outputs left out or held back, and why)."""
    group_names = [group.name for group in manifest.consumers.role_groups]
    max_age = timedelta(hours=manifest.freshness.max_age_hours)
    lines = [
        f"# {manifest.name} {result.version}",
        "",
        manifest.description,
        "",
        f"- **Domain:** {manifest.domain}",
        f"- **Owner:** {manifest.owner.name} <{manifest.owner.email}>",
        f"- **Support:** {manifest.support.contact}"
        + (f", {manifest.support.channel}" if manifest.support.channel else "")
        + (f" ({manifest.support.hours})" if manifest.support.hours else ""),
        f"- **Freshness:** {manifest.freshness.expectation} "
        f"(data at most {manifest.freshness.max_age_hours:g} h old)",
        f"- **Published:** {result.published_at:%Y-%m-%d %H:%M:%S} UTC by run `{result.run_id}`",
        f"- **Age of the data:** 0 h at publish; the freshness check turns red after "
        f"{result.published_at + max_age:%Y-%m-%d %H:%M:%S} UTC unless a newer version is "
        "published by then",
        f"- **Iceberg tag:** `{result.tag}` on every published table",
        f"- **Catalog:** `{settings.catalog_name}`, namespace `{settings.namespace}`, "
        f"publish log `{PUBLISH_LOG_TABLE}`",
        "",
        "## Lineage",
        "",
        "```",
    ]
    for item in manifest.inputs:
        for output in manifest.outputs:
            if output.entity == item.entity:
                lines.append(
                    f"{item.ref} -> {output.entity_schema.raw_table} -> {output.source_table} -> "
                    f"{output.source_table}__{{{','.join(group_names)}}}"
                )
    lines += ["```", "", "## Outputs", ""]
    if decision is not None and decision.not_published:
        lines += ["Not in this version:", ""]
        lines += [
            f"- **{d.output}**: {d.status.replace('_', ' ')}: {d.reason}"
            for d in decision.not_published
        ]
        lines.append("")
    lines.append("| output | role group | table | snapshot | rows |")
    lines.append("|---|---|---|---|---|")
    for table in result.tables:
        lines.append(
            f"| {table.output} | {table.role_group} | `{table.table}` | {table.snapshot_id} | "
            f"{table.rows:,} |"
        )
    lines += ["", "## Customers by country", "", "| country | customers |", "|---|---|"]
    for country, count in sorted(rows_by_country.items(), key=lambda item: -item[1]):
        lines.append(f"| {country} | {count:,} |")
    lines += ["", "## Who sees what", "", access_matrix_markdown or "No tagged columns.", ""]
    lines += ["## Quality gates of this version", "", "| asset | check | result | severity |"]
    lines.append("|---|---|---|---|")
    for check in checks:
        lines.append(
            f"| {check.asset} | {check.check} | {'passed' if check.passed else 'FAILED'} | "
            f"{check.severity} |"
        )
    lines += ["", "## Schemas", ""]
    for output in manifest.outputs:
        schema = output.entity_schema
        lines += [f"### {output.name}", "", output.description, "", f"Grain: {schema.grain}", ""]
        lines += ["| column | type | tags | description |", "|---|---|---|---|"]
        for column in schema.columns:
            tags = ", ".join(f"`{tag}`" for tag in column.tags)
            lines.append(f"| {column.name} | {column.type} | {tags} | {column.description} |")
        lines.append("")
    lines += _how_to_query(manifest, settings, connect_files)
    return "\n".join(lines) + "\n"


def _how_to_query(
    manifest: DataProductManifest, settings: LakehouseSettings, connect_files: Mapping[str, Path]
) -> list[str]:
    group = manifest.consumers.role_groups[0].name
    lines = [
        "## How to query it",
        "",
        "DuckDB, through the product's CLI (your role group's tables only, pinned to a version):",
        "",
        "```bash",
        f"customer-overview query --role {group} "
        '"SELECT country, count(*) FROM customer_overview GROUP BY 1"',
        f"customer-overview query --role {group} --as-of 1.0.0+1 "
        '"SELECT count(*) FROM customer_overview"',
        f"customer-overview export-duckdb {group}.duckdb --role {group}",
        "```",
        "",
    ]
    for name, title in (
        ("spark_sql", "Spark SQL"),
        ("pyiceberg", "PyIceberg (`.pyiceberg.yaml`)"),
        ("trino", "Trino (catalog properties)"),
    ):
        path = connect_files.get(name)
        if path and path.exists():
            language = {"spark_sql": "bash", "pyiceberg": "yaml", "trino": "properties"}[name]
            lines += [
                f"{title}: `{path}`",
                "",
                f"```{language}",
                path.read_text().rstrip(),
                "```",
                "",
            ]
    return lines


def write_card(markdown: str, folder: Path, version: str) -> tuple[Path, Path]:
    """Write ``product_card.md`` / ``.html`` (latest) and a copy per version; returns the latest."""
    folder.mkdir(parents=True, exist_ok=True)
    page = _html_page(f"customer-overview-dp {version}", str(mistune.html(markdown)))
    safe_version = version.replace("+", "_")
    for stem in ("product_card", f"product_card_{safe_version}"):
        (folder / f"{stem}.md").write_text(markdown, encoding="utf-8")
        (folder / f"{stem}.html").write_text(page, encoding="utf-8")
    return folder / "product_card.md", folder / "product_card.html"


def _html_page(title: str, body: str) -> str:
    """The card's HTML document: ``title`` is escaped, ``body`` (mistune's HTML) is not."""
    # Markup: ``body`` is already HTML, rendered by mistune from the card's Markdown; escaping
    # it again would show the tags as text.
    return render_template(
        "assets.published", "product_card.html.j2", title=title, body=Markup(body)
    )
