"""Profiling: a ydata-profiling report of the curated customers, on a pseudonymised sample."""

from datetime import UTC, datetime

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from assets.common import OWNERS, table_key
from customer_overview.entities import EntitySchema
from customer_overview.tables import current_snapshot_id
from pipelines.resources import LakehouseResource
from policies import OPERATORS, ColumnDecision, apply_masks
from quality.profiling import ProfileSettings, profile_table, sample_for_profile
from quality.report_index import ReportEntry, record_report

# Profiles are read by data stewards, not only by PII readers: names and contacts are hashed
# (distinct counts and missing shares survive hashing), dates of birth bucketed to the quarter.
PSEUDONYMISE = {
    "TW.mask": ("hash", {"algo": "sha256"}),
    "TW.dob": ("bucket_date", {"precision": "quarter"}),
}


class ProfileConfig(Config):
    """What to profile."""

    sample_size: int = Field(default=20_000, gt=0, description="Rows profiled at most.")
    seed: int = Field(default=42, description="Seed of the reproducible sample.")
    row_filter: str | None = Field(
        default=None,
        description="Optional Spark SQL condition, e.g. \"cust_segment = 'Semi-Urban' AND "
        "country = 'United States' AND occupation = 'Salaried' AND city = 'Chicago'\" "
        "(the slice the seed profiles).",
    )
    minimal: bool = Field(default=True, description="ydata-profiling minimal mode (fast).")


def pseudonymising_decisions(schema: EntitySchema, columns: list[str]) -> dict[str, ColumnDecision]:
    """Hash ``TW.mask`` columns, bucket ``TW.dob`` columns, keep untagged ones.

    A tagged column that neither rule covers is redacted: deny by default, as for consumers.
    """
    tags = schema.column_tags()
    decisions = {}
    for name in columns:
        column_tags = set(tags.get(name, ()))
        covered = sorted(column_tags & PSEUDONYMISE.keys())
        if covered:
            operator, raw = PSEUDONYMISE[covered[-1]]
        else:
            operator, raw = ("redact" if column_tags else "pass_through"), {}
        params = OPERATORS[operator].parse_params(raw)
        decisions[name] = ColumnDecision(
            column=name,
            operator=operator,
            params=params,
            policy=None,
            priority=None,
            reason="profile pseudonymisation",
        )
    return decisions


def customer_profile_asset(schema: EntitySchema) -> AssetsDefinition:
    """The profile of ``schema``'s curated table (``customer_overview_profile``)."""

    @asset(
        key=AssetKey([table_key(schema.curated_table).path[0], f"{schema.table_prefix}_profile"]),
        deps=[table_key(schema.curated_table)],
        group_name="quality",
        kinds={"spark", "pandas"},
        owners=OWNERS,
        description=(
            f"ydata-profiling report of `{schema.curated_table}`: per-column missing values, "
            "distinct counts, distributions and alerts, on a reproducible sample (size in the "
            "report), names and contacts hashed and dates of birth bucketed. HTML and JSON under "
            "reports/profiles/<table>/<snapshot>/."
        ),
    )
    def customer_overview_profile(
        context: AssetExecutionContext, config: ProfileConfig, lakehouse: LakehouseResource
    ) -> MaterializeResult:
        settings = lakehouse.settings()
        spark = lakehouse.spark()
        table = spark.table(settings.spark_table(schema.curated_table))
        masked = apply_masks(table, pseudonymising_decisions(schema, table.columns))
        profile_settings = ProfileSettings(
            sample_size=config.sample_size,
            seed=config.seed,
            row_filter=config.row_filter,
            minimal=config.minimal,
            key_columns=("cust_id", "country", "state", "cust_segment", "customer_type"),
        )
        sample, rows_total, rows_sampled = sample_for_profile(masked, schema.key, profile_settings)
        snapshot = str(current_snapshot_id(settings, schema.curated_table) or "empty")
        context.log.info(f"profiling {rows_sampled:,} of {rows_total:,} rows (snapshot {snapshot})")
        result = profile_table(
            sample,
            table=schema.curated_table,
            snapshot_id=snapshot,
            reports_dir=settings.reports_dir,
            rows_total=rows_total,
            settings=profile_settings,
        )
        record_report(
            settings.reports_dir,
            ReportEntry(
                kind="profile",
                table=schema.curated_table,
                title=f"Profile of {schema.curated_table} @ {snapshot}",
                status="warning" if result.alerts else "ok",
                created_at=datetime.now(UTC),
                path=str(result.html_path.relative_to(settings.reports_dir)),
                details=f"sample of {result.rows_profiled:,} of {result.rows_total:,} rows, "
                f"{len(result.alerts)} alerts",
            ),
        )
        return MaterializeResult(
            metadata={
                "report": MetadataValue.path(str(result.html_path)),
                "report_json": MetadataValue.path(str(result.json_path)),
                "summary": MetadataValue.md(result.summary_markdown()),
                "rows_total": result.rows_total,
                "rows_profiled": result.rows_profiled,
                "alerts": len(result.alerts),
                "seconds": round(result.seconds, 2),
                "snapshot_id": snapshot,
            }
        )

    return customer_overview_profile
