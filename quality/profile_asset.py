"""Profiling: a ydata-profiling report of the curated customers, on a pseudonymised sample.

What the profile describes (``profiled_columns``): ydata-profiling takes every text column for
free text (word clouds, character statistics), which for this table means word clouds of ids,
sha256 digests and codes such as ``cust_segment``. Identifiers (the key), hashed columns and the
text columns of the schema (all codes, categories and places) are declared categorical instead:
distinct and missing counts, uniqueness, frequency tables. The lineage columns
(``_source_file``, ``_source_line``, ``_ingested_at``) are left out: they describe the pipeline,
not the customers, and what matters about them (every landed row accounted for, per file) is
the curation's ``no_row_lost`` check and ``landing_file_log``.
"""

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

from customer_overview.asset_keys import OWNERS, Materialized, table_key
from customer_overview.config import LakehouseSettings
from customer_overview.entities import LINEAGE_COLUMNS, EntitySchema
from customer_overview.report_links import report_url
from customer_overview.resources import LakehouseResource
from customer_overview.tables import current_snapshot_id
from policies import OPERATORS, ColumnDecision, apply_masks
from quality.profiling import (
    ProfileResult,
    ProfileSettings,
    earlier_profile,
    profile_table,
    sample_for_profile,
)
from quality.report_index import ReportEntry, record_report

# The entities whose curated table has a profile asset (pipelines/definitions.py): the curated
# asset links the latest profile of these.
PROFILED_ENTITIES = frozenset({"customers"})

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


def profiled_columns(
    schema: EntitySchema, decisions: dict[str, ColumnDecision]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(columns profiled as categories, columns left out) of ``schema``'s curated table.

    Categories, in column order: the key columns, every column the pseudonymisation hashes (a
    digest has no words or characters worth counting) and the schema's text columns. Left out:
    the lineage columns.
    """
    text_columns = {column.name for column in schema.columns if column.type == "string"}
    categorical = tuple(
        name
        for name, decision in decisions.items()
        if name in schema.key or decision.operator == "hash" or name in text_columns
    )
    excluded = tuple(name for name in LINEAGE_COLUMNS if name in decisions)
    return categorical, excluded


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
            "distinct counts, distributions and alerts, on a reproducible sample (size and filter "
            "in the run config and the report), names and contacts hashed and dates of birth "
            "bucketed; identifiers, hashed and text columns profiled as categories, lineage "
            "columns left out. HTML and JSON under `reports/profiles/<table>/<snapshot>/`, "
            "served by `customer-overview reports serve` (linked in the metadata)."
        ),
    )
    def customer_overview_profile(
        context: AssetExecutionContext, config: ProfileConfig, lakehouse: LakehouseResource
    ) -> Materialized:
        settings = lakehouse.settings()
        spark = lakehouse.spark()
        table = spark.table(settings.spark_table(schema.curated_table))
        decisions = pseudonymising_decisions(schema, table.columns)
        masked = apply_masks(table, decisions)
        categorical, excluded = profiled_columns(schema, decisions)
        profile_settings = ProfileSettings(
            sample_size=config.sample_size,
            seed=config.seed,
            row_filter=config.row_filter,
            minimal=config.minimal,
            key_columns=("cust_id", "country", "state", "cust_segment", "customer_type"),
            categorical_columns=categorical,
            exclude_columns=excluded,
        )
        masking = {column: _masking_text(decision) for column, decision in decisions.items()}
        snapshot = str(current_snapshot_id(settings, schema.curated_table) or "empty")
        earlier = earlier_profile(
            settings.reports_dir, schema.curated_table, snapshot, profile_settings, masking
        )
        if earlier is not None:
            context.log.info(f"snapshot {snapshot} is profiled already: {earlier.html_path}")
            return _materialized(settings, earlier, reused=True)
        sample, rows_total, rows_sampled = sample_for_profile(masked, schema.key, profile_settings)
        context.log.info(f"profiling {rows_sampled:,} of {rows_total:,} rows (snapshot {snapshot})")
        result = profile_table(
            sample,
            table=schema.curated_table,
            snapshot_id=snapshot,
            reports_dir=settings.reports_dir,
            rows_total=rows_total,
            settings=profile_settings,
            masking=masking,
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
        return _materialized(settings, result, reused=False)

    return customer_overview_profile


def _masking_text(decision: ColumnDecision) -> str:
    """A column's operator and its parameters, e.g. ``bucket_date {"precision":"quarter"}``."""
    params = decision.params.model_dump_json() if decision.params else ""
    return f"{decision.operator} {params}".strip()


def _materialized(settings: LakehouseSettings, result: ProfileResult, reused: bool) -> Materialized:
    return MaterializeResult(
        metadata={
            "report": MetadataValue.url(report_url(settings, result.html_path)),
            "report_json": MetadataValue.url(report_url(settings, result.json_path)),
            "summary": MetadataValue.md(result.summary_markdown()),
            "rows_total": result.rows_total,
            "rows_profiled": result.rows_profiled,
            "alerts": len(result.alerts),
            "seconds": round(result.seconds, 2),
            "snapshot_id": result.snapshot_id,
            # The table did not change since this report was made: it is linked, not remade.
            "reused": reused,
        }
    )
