"""What has landed: the landing file log, and which inputs of the product have ever landed.

Every stage asks the same two questions (the raw step: which files are new; the quality checks
and the publish decision: has this input ever landed; the sensor: is there anything to run), so
the answers live here, in the base layer, read through PyIceberg without a JVM.
"""

from __future__ import annotations

from pyiceberg.exceptions import NoSuchTableError
from pyspark.sql import SparkSession
from pyspark.sql.types import (
    ArrayType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from customer_overview.config import LakehouseSettings
from customer_overview.entities import EntitySchema, all_entities, load_entity
from customer_overview.errors import MissingInputError
from customer_overview.landing import LandingFile, LandingScan, list_landing_files, scan_landing
from customer_overview.product import DataProductManifest
from customer_overview.tables import columns_ddl, create_table_if_missing, load_iceberg_table

FILE_LOG_TABLE = "landing_file_log"
# Declared once: the table's DDL and the rows a run appends (by name) both come from it.
FILE_LOG_SCHEMA = StructType(
    [
        StructField("entity", StringType()),
        StructField("file", StringType()),
        StructField("size", LongType()),
        StructField("modified_ns", LongType()),
        StructField("fingerprint", StringType()),
        StructField("status", StringType()),
        StructField("data_lines", LongType()),
        StructField("structural_errors", LongType()),
        StructField("problems", ArrayType(StringType())),
        StructField("run_id", StringType()),
        StructField("ingested_at", TimestampType()),
        StructField("raw_snapshot_id", LongType()),
    ]
)


def ensure_file_log(spark: SparkSession, settings: LakehouseSettings) -> None:
    create_table_if_missing(
        spark,
        settings,
        FILE_LOG_TABLE,
        columns_ddl(FILE_LOG_SCHEMA),
        comment="Every landing file the pipeline has seen, so that a run reads only new files.",
    )


def ingested_fingerprints(settings: LakehouseSettings) -> set[str]:
    """Fingerprints (name, size, mtime) of every landing file in the file log, via PyIceberg.

    The sensor calls this too, so it reads the catalog without starting a JVM.
    """
    try:
        log_table = load_iceberg_table(settings, FILE_LOG_TABLE)
    except NoSuchTableError:
        return set()
    fingerprints = log_table.scan(selected_fields=("fingerprint",)).to_arrow()["fingerprint"]
    return set(fingerprints.to_pylist())


def landing_scan(settings: LakehouseSettings) -> LandingScan:
    """Every file under the lakehouse's ``landing/``: each entity's files and the rest."""
    return scan_landing(settings.landing_dir, all_entities())


def new_landing_files(
    settings: LakehouseSettings, *schemas: EntitySchema, scan: LandingScan | None = None
) -> list[LandingFile]:
    """Landing files of the entities whose fingerprint is not in the file log (read once).

    ``scan``: an inventory of landing/ already taken (it must cover ``schemas``).
    """
    scan = scan or scan_landing(settings.landing_dir, schemas)
    files = [file for schema in schemas for file in scan.files[schema.entity]]
    seen = ingested_fingerprints(settings) if files else set()
    return [file for file in files if file.fingerprint not in seen]


def landed_inputs(settings: LakehouseSettings, manifest: DataProductManifest) -> frozenset[str]:
    """Entities of the manifest's inputs with at least one file landed, now or in the past."""
    # A fresh embedded lakehouse has no catalog yet: do not create one just to ask.
    no_catalog_yet = settings.catalog.type == "sqlite" and not settings.sqlite_catalog_path.exists()
    fingerprints = set() if no_catalog_yet else ingested_fingerprints(settings)
    remembered = {fingerprint.split("/", 1)[0] for fingerprint in fingerprints}
    landed = set()
    for item in manifest.inputs:
        schema = load_entity(item.entity)
        if schema.folder in remembered or list_landing_files(settings.landing_dir, schema):
            landed.add(item.entity)
    return frozenset(landed)


def check_required_inputs(settings: LakehouseSettings, manifest: DataProductManifest) -> None:
    """Fail before any work when a required input has never landed.

    Raises:
        MissingInputError: Names each required input and the folder to fill.
    """
    landed = landed_inputs(settings, manifest)
    missing = [item for item in manifest.required_inputs if item.entity not in landed]
    if missing:
        folders = "; ".join(
            f"{item.name}: put its CSV files in "
            f"{settings.landing_dir / load_entity(item.entity).folder}/"
            for item in missing
        )
        raise MissingInputError(
            f"required input(s) with no file ever landed ({folders}). "
            "dataproduct.yaml marks them `required: true`."
        )
