"""Govern stage: masked outputs per consumer role group (audit branch) + the PII leak scan."""

from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    multi_asset,
)

from assets.governed.governance import (
    AUDIT_BRANCH,
    decisions_summary,
    product_policies,
    scan_for_leaks,
    write_masked_outputs,
)
from customer_overview.asset_keys import OWNERS, table_key
from customer_overview.product import DataProductManifest, ProductOutput
from customer_overview.resources import LakehouseResource
from policies.lint import lint_product

LEAK_CHECK = "no_pii_leak"
LINT_CHECK = "policies_lint"


def governed_group(role_group: str) -> str:
    """The Dagster asset group of what ``role_group`` sees: ``govern_<role group>``.

    One group per consumer rather than one ``govern`` group of every masked copy (outputs x
    role groups): the collapsed lineage then shows the product fanning out to each audience,
    and each group, opened, holds one asset per output, the tables that group's export serves.
    """
    return f"govern_{role_group}"


def masked_output_assets(manifest: DataProductManifest, output: ProductOutput) -> AssetsDefinition:
    """One table per role group for ``output``, masked in one step."""
    schema = output.entity_schema
    keys = {
        group.name: table_key(output.published_table(group.name))
        for group in manifest.consumers.role_groups
    }

    @multi_asset(
        name=f"mask_{output.name}",
        can_subset=False,
        specs=[
            AssetSpec(
                key,
                group_name=governed_group(group),
                deps=[table_key(output.source_table)],
                kinds={"spark", "iceberg"},
                owners=OWNERS,
                description=(
                    f"{output.description}\n\nAs the **{group}** role group sees it: columns "
                    f"tagged in `customer_overview/schemas/{schema.entity}.yaml` are masked by the"
                    f" policies in `policies/` (lowest priority number wins; a tagged column no "
                    f"policy grants is denied by default). Written to the `{AUDIT_BRANCH}` branch;"
                    " consumers read `main`, which moves only when the product is published."
                ),
                metadata={"role_group": group, "output": output.name},
            )
            for group, key in keys.items()
        ],
        check_specs=[
            AssetCheckSpec(
                LEAK_CHECK,
                asset=key,
                blocking=True,
                description="No column tagged for governance holds a clear value for a role group"
                " that the current policies do not entitle to see it (audit branch vs curated).",
            )
            for key in keys.values()
        ]
        + [
            AssetCheckSpec(
                LINT_CHECK,
                asset=key,
                description="The policies match what they name (policies/lint.py): no policy "
                "whose tags match no role group or column, no column tag no policy mentions, "
                "no empty policy set (warning; deny by default keeps such mistakes closed).",
            )
            for key in keys.values()
        ],
    )
    def _mask(
        context: AssetExecutionContext, lakehouse: LakehouseResource
    ) -> Iterator[MaterializeResult[Any] | AssetCheckResult]:
        settings = lakehouse.settings()
        spark = lakehouse.spark()
        policies = product_policies(manifest)
        results = write_masked_outputs(
            spark, settings, manifest, output, policies, progress=context.log.info
        )
        for result in results:
            key = keys[result.role_group]
            yield MaterializeResult(
                asset_key=key,
                metadata={
                    "dagster/row_count": result.rows,
                    "dagster/table_name": settings.spark_table(result.table),
                    "audit_snapshot_id": MetadataValue.text(str(result.audit_snapshot_id)),
                    "branch": AUDIT_BRANCH,
                    "masking": MetadataValue.json(decisions_summary(result.decisions)),
                    "schema_replaced": result.schema_replaced,
                    # False: source snapshot and policies unchanged, no new audit snapshot.
                    "written": result.written,
                    # full: every row masked; incremental: only the rows the source gained;
                    # merged: only the keys it changed (updated, inserted or deleted).
                    "write_mode": result.mode,
                    "rows_appended": result.rows_appended,
                    "keys_merged": result.keys_merged,
                    "dagster/column_schema": TableSchema(
                        columns=[
                            TableColumn(
                                name=name,
                                type="dropped" if decision.dropped else decision.operator,
                                description=decision.reason,
                                tags={tag: "" for tag in schema.column_tags().get(name, ())},
                            )
                            for name, decision in result.decisions.items()
                        ]
                    ),
                },
            )
        for group in manifest.consumers.role_groups:
            report = scan_for_leaks(spark, settings, manifest, output, group, policies)
            yield AssetCheckResult(
                check_name=LEAK_CHECK,
                asset_key=keys[group.name],
                passed=not report.leaked,
                metadata={
                    "checked_columns": ", ".join(report.checked_columns) or "none",
                    "leaked_columns": MetadataValue.json(
                        {column: n for column, n in report.leaks.items() if n}
                    ),
                    "ref": report.ref,
                    # A scan of the same two snapshots found nothing before: not read again.
                    "scan": "remembered" if report.remembered else "scanned",
                },
            )
        findings = lint_product(manifest)
        for group in manifest.consumers.role_groups:
            concerning = [f for f in findings if f.concerns(schema.entity, group.name)]
            warnings = [f.message for f in concerning if f.severity == "warning"]
            yield AssetCheckResult(
                check_name=LINT_CHECK,
                asset_key=keys[group.name],
                passed=not warnings,
                severity=AssetCheckSeverity.WARN,
                metadata={
                    "findings": "; ".join(warnings) or "none",
                    "notes": "; ".join(f.message for f in concerning if f.severity == "note")
                    or "none",
                },
            )

    return _mask
