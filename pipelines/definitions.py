"""The one entry point that builds the product's Dagster ``Definitions``.

``workspace.yaml`` loads this module for ``dagster dev``; ``customer-overview run`` executes the
same job headless. The graph's shape comes from ``dataproduct.yaml`` (inputs, outputs, role
groups) and the entity schemas, read when the definitions are built (:func:`defs`), never at
import. Building them starts nothing (no Spark, no catalog): resources read their configuration
when a run starts.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

from dagster import (
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetSelection,
    DefaultSensorStatus,
    Definitions,
    ScheduleDefinition,
    SensorDefinition,
    build_last_update_freshness_checks,
    build_sensor_for_freshness_checks,
    define_asset_job,
    definitions,
    in_process_executor,
)

from assets.curated.asset import curated_assets
from assets.governed.asset import masked_output_assets
from assets.maintenance.asset import maintenance_asset
from assets.published.asset import publish_asset
from assets.raw.asset import raw_asset
from customer_overview.asset_keys import table_key
from customer_overview.entities import ENTITY_NAMES, load_entity
from customer_overview.errors import ManifestError
from customer_overview.product import DataProductManifest, load_manifest, manifest_path
from customer_overview.publish_log import PUBLISH_LOG_TABLE
from customer_overview.resources import LakehouseResource
from marts.asset import marts_asset
from pipelines.sensors import landing_sensor
from quality.checks import gx_checks
from quality.profile_asset import customer_profile_asset

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

# `run` (the pipeline job) maintains the lakehouse after every publish; this job does it alone,
# for a lakehouse whose runs are rare or keep failing before the publish step.
maintenance_job = define_asset_job(
    "lakehouse_maintenance",
    selection=AssetSelection.groups("maintenance"),
    executor_def=in_process_executor,
    description="Expire old snapshots, remove orphan files, compact small files.",
)

maintenance_schedule = ScheduleDefinition(
    name="weekly_lakehouse_maintenance",
    job=maintenance_job,
    cron_schedule="0 4 * * 0",
    execution_timezone="UTC",
    description="Weekly maintenance, also when no run reached the publish step.",
)


def freshness_checks(
    manifest: DataProductManifest,
) -> tuple[list[AssetChecksDefinition], SensorDefinition]:
    """``freshness.max_age_hours`` as Dagster freshness checks on the published product.

    The publish asset reports the publish time of the version consumers read as
    ``dagster/last_updated_timestamp``, so the check measures the age of the published data (a run
    that publishes nothing new does not make old data look fresh). The sensor re-evaluates the
    check while nothing runs, so it turns red in the UI when the promise is broken.
    """
    with warnings.catch_warnings():
        # Dagster marks the builder "superseded" by FreshnessPolicy, whose evaluation open-source
        # Dagster does not run headless; the check is what `run` and the UI can both evaluate.
        warnings.simplefilter("ignore")
        checks = build_last_update_freshness_checks(
            assets=[table_key(PUBLISH_LOG_TABLE)],
            lower_bound_delta=timedelta(hours=manifest.freshness.max_age_hours),
            severity=AssetCheckSeverity.ERROR,
        )
        sensor = build_sensor_for_freshness_checks(
            freshness_checks=checks,
            minimum_interval_seconds=600,
            default_status=DefaultSensorStatus.RUNNING,
        )
    return list(checks), sensor


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
        *(raw_asset(schema, manifest) for schema in entities),
        *(curated_assets(schema) for schema in entities),
        customer_profile_asset(load_entity("customers")),
        marts_asset(),
        *(masked_output_assets(manifest, output) for output in manifest.outputs),
        publish_asset(manifest),
        maintenance_asset(),
    ]
    freshness, freshness_sensor = freshness_checks(manifest)
    definitions = Definitions(
        assets=assets,
        asset_checks=[
            *freshness,
            *(gx_checks(schema, manifest) for schema in entities),
            *(
                gx_checks(load_entity(name), manifest)
                for name in ("customer_archetype", "campaign_funnel")
            ),
        ],
        jobs=[pipeline_job, maintenance_job],
        schedules=[daily_schedule, maintenance_schedule],
        sensors=[landing_sensor(JOB_NAME, lakehouse), freshness_sensor],
        resources={"lakehouse": lakehouse},
        # Also for the UI's ad-hoc materializations: one process holds the writer lock and the
        # Spark session for the whole run (a step process per asset would contend for both).
        executor=in_process_executor,
    )
    _check_gates_match(definitions, manifest)
    return definitions


def _check_gates_match(definitions: Definitions, manifest: DataProductManifest) -> None:
    """``quality_gates`` name real checks, and every check that stops a run is a gate.

    Raises:
        ManifestError: A gate names no check of the graph, or a Dagster-blocking check is not
            listed (the manifest, not the code, decides what blocks publishing).
    """
    graph = definitions.resolve_asset_graph()
    specs = [graph.get_check_spec(key) for key in graph.asset_check_keys]
    names = {spec.name for spec in specs}
    unknown = [gate.check for gate in manifest.quality_gates if gate.check not in names]
    if unknown:
        raise ManifestError(
            f"{manifest_path()}: quality_gates name no check of the graph: {unknown} "
            f"(checks: {', '.join(sorted(names))})"
        )
    ungated = sorted(
        {spec.name for spec in specs if spec.blocking}
        - {gate.check for gate in manifest.quality_gates}
    )
    if ungated:
        raise ManifestError(
            f"{manifest_path()}: checks {ungated} stop the run when they fail but are not listed "
            "in quality_gates; add them (scope: version) or make them non-blocking"
        )


@definitions
def defs() -> Definitions:
    """What ``workspace.yaml`` loads: built when Dagster loads the code location, not at import
    (importing this module reads no YAML and consults no environment variable)."""
    return build_definitions()
