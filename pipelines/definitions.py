"""The one entry point that builds the product's Dagster ``Definitions``.

``workspace.yaml`` loads this module for ``dagster dev``; ``customer-overview run`` executes the
same job headless. The graph's shape comes from ``dataproduct.yaml`` (inputs, outputs, role
groups) and the entity schemas. Importing this module starts nothing (no Spark, no catalog):
resources read their configuration when a run starts.
"""

from __future__ import annotations

from dagster import (
    AssetSelection,
    Definitions,
    ScheduleDefinition,
    define_asset_job,
    in_process_executor,
)

from assets.curate import curated_assets
from assets.govern import masked_output_assets
from assets.ingest import raw_asset
from assets.marts import marts_asset
from assets.profile import customer_profile_asset
from assets.publish import publish_asset
from assets.quality import gx_checks
from customer_overview.entities import ENTITY_NAMES, load_entity
from customer_overview.product import DataProductManifest, load_manifest
from pipelines.resources import LakehouseResource
from pipelines.sensors import landing_sensor

JOB_NAME = "customer_overview_pipeline"

# One process, one Spark session: every step of a run shares the JVM and the catalog connection
# (a SQLite catalog also wants a single writer process).
pipeline_job = define_asset_job(
    JOB_NAME,
    selection=AssetSelection.all(),
    executor_def=in_process_executor,
    description="Landing files -> raw -> curated + quarantine -> quality -> masked outputs -> "
    "published customer-overview data product.",
)

daily_schedule = ScheduleDefinition(
    name="daily_customer_overview",
    job=pipeline_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    description="Daily refresh (the product's freshness promise is daily).",
)


def build_definitions(
    lakehouse: LakehouseResource | None = None, manifest: DataProductManifest | None = None
) -> Definitions:
    """The product's definitions, bound to ``lakehouse`` (default: from the environment)."""
    lakehouse = lakehouse or LakehouseResource()
    manifest = manifest or load_manifest()
    wanted = {item.entity for item in manifest.inputs}
    # Dependency order: customers and products before accounts, accounts before transactions.
    entities = [load_entity(name) for name in ENTITY_NAMES if name in wanted]
    assets = [
        *(raw_asset(schema) for schema in entities),
        *(curated_assets(schema) for schema in entities),
        customer_profile_asset(load_entity("customers")),
        marts_asset(),
        *(masked_output_assets(manifest, output) for output in manifest.outputs),
        publish_asset(manifest),
    ]
    return Definitions(
        assets=assets,
        asset_checks=[
            *(gx_checks(schema) for schema in entities),
            *(gx_checks(load_entity(name)) for name in ("customer_archetype", "campaign_funnel")),
        ],
        jobs=[pipeline_job],
        schedules=[daily_schedule],
        sensors=[landing_sensor(pipeline_job, lakehouse)],
        resources={"lakehouse": lakehouse},
    )


defs = build_definitions()
