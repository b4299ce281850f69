"""Entity schemas: the landing-file contract, the curated table's types, and column tags.

Each entity is declared once in ``customer_overview/schemas/<entity>.yaml``. Ingestion reads its
column list (the CSV contract), curation its types and partitioning, governance its tags, and the
Dagster assets its descriptions.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from customer_overview.errors import SchemaDefinitionError
from customer_overview.sql import sql_string
from customer_overview.yaml_files import load_yaml_model, repeated

SCHEMAS_DIR = Path(__file__).with_name("schemas")
# Landing entities, in dependency order (a table's references come before it).
ENTITY_NAMES = ("customers", "products", "accounts", "transactions", "campaigns")
# Consumption marts built from the curated entities (marts/).
MART_NAMES = (
    "transactions_monthly",
    "customer_spend",
    "customer_archetype",
    "spend_by_segment",
    "campaign_funnel",
    "product_sales",
)

_SIMPLE_TYPES = {"string", "int", "bigint", "double", "boolean", "date", "timestamp"}
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")

# Columns the pipeline adds to every raw and curated row: where the row came from.
SOURCE_FILE = "_source_file"
SOURCE_LINE = "_source_line"
INGESTED_AT = "_ingested_at"
LINEAGE_COLUMNS = (SOURCE_FILE, SOURCE_LINE, INGESTED_AT)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ColumnSpec(_Frozen):
    """One business column."""

    name: str
    type: str
    description: str
    format: str | None = None  # parse pattern for date/timestamp text, Spark datetime syntax
    tags: tuple[str, ...] = ()

    @field_validator("name")
    @classmethod
    def _snake_case(cls, name: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise ValueError(f"column name {name!r} is not lower snake case")
        return name

    @field_validator("type")
    @classmethod
    def _known_type(cls, kind: str) -> str:
        if kind not in _SIMPLE_TYPES and not _DECIMAL.match(kind):
            raise ValueError(
                f"unknown type {kind!r} (known: {sorted(_SIMPLE_TYPES)}, decimal(p,s))"
            )
        return kind


class PartitionField(_Frozen):
    """An Iceberg partition field: a source column and a transform."""

    column: str
    transform: Literal["identity", "year", "month", "day"] = "identity"

    def spark_sql(self) -> str:
        if self.transform == "identity":
            return f"`{self.column}`"
        return f"{self.transform}s(`{self.column}`)"


class EntitySchema(_Frozen):
    """One table family: a landing entity (raw, curated, quarantine tables) or a mart."""

    entity: str
    kind: Literal["entity", "mart"] = "entity"
    landing_folder: str | None = None
    table_prefix: str
    description: str
    grain: str
    key: tuple[str, ...] = Field(min_length=1)
    version_column: str | None = None
    partition_by: tuple[PartitionField, ...] = ()
    # A mart's lineage: the entities and marts it is built from (the Dagster deps and the inputs
    # an output needs come from here, so they are declared once).
    sources: tuple[str, ...] = ()
    columns: tuple[ColumnSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _columns_exist(self) -> EntitySchema:
        if self.kind == "entity" and not (self.landing_folder and self.version_column):
            raise ValueError("an entity needs landing_folder and version_column")
        if self.kind == "mart" and not self.sources:
            raise ValueError("a mart needs `sources:` (the entities and marts it is built from)")
        if self.kind == "entity" and self.sources:
            raise ValueError("`sources:` is for marts; an entity's lineage is its landing folder")
        unknown = [s for s in self.sources if s not in (*ENTITY_NAMES, *MART_NAMES)]
        if unknown:
            raise ValueError(f"unknown sources {unknown} (known: {[*ENTITY_NAMES, *MART_NAMES]})")
        names = [column.name for column in self.columns]
        duplicates = repeated(names)
        if duplicates:
            raise ValueError(f"duplicate columns: {duplicates}")
        referenced = [*self.key, *(p.column for p in self.partition_by)]
        if self.version_column:
            referenced.append(self.version_column)
        missing = [name for name in referenced if name not in names]
        if missing:
            raise ValueError(f"key/version/partition columns not declared: {missing}")
        return self

    @property
    def version(self) -> str:
        """The version column of an entity (marts have none)."""
        if self.version_column is None:
            raise SchemaDefinitionError(f"{self.entity} is a mart: it has no version column")
        return self.version_column

    @property
    def folder(self) -> str:
        """The landing folder of an entity."""
        if self.landing_folder is None:
            raise SchemaDefinitionError(f"{self.entity} is a mart: it has no landing folder")
        return self.landing_folder

    # ------------------------------------------------------------------------------ table names
    @property
    def raw_table(self) -> str:
        return f"{self.table_prefix}_raw"

    @property
    def curated_table(self) -> str:
        """The curated table of an entity (``<prefix>_dp``), or the mart's table (``<prefix>``)."""
        return f"{self.table_prefix}_dp" if self.kind == "entity" else self.table_prefix

    @property
    def quarantine_table(self) -> str:
        return f"{self.table_prefix}_quarantine"

    # ---------------------------------------------------------------------------------- helpers
    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> ColumnSpec:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.entity} has no column {name!r}")

    def column_tags(self) -> dict[str, frozenset[str]]:
        """Tags per column, for governance (untagged columns map to an empty set)."""
        return {column.name: frozenset(column.tags) for column in self.columns}

    def partition_sql(self) -> str:
        """``PARTITIONED BY (...)`` clause, empty for an unpartitioned table."""
        if not self.partition_by:
            return ""
        return "PARTITIONED BY (" + ", ".join(p.spark_sql() for p in self.partition_by) + ")"

    def curated_ddl_columns(self) -> str:
        """Column list of the curated table: typed business columns, then lineage columns."""
        business = [
            f"`{c.name}` {c.type} COMMENT {sql_string(c.description)}" for c in self.columns
        ]
        if self.kind == "mart":
            return ",\n  ".join(business)
        lineage = [
            f"`{SOURCE_FILE}` string COMMENT 'Landing file the row came from'",
            f"`{SOURCE_LINE}` bigint COMMENT 'Line of the landing file (header = line 1)'",
            f"`{INGESTED_AT}` timestamp COMMENT 'When the row was ingested into the raw table'",
        ]
        return ",\n  ".join(business + lineage)


@cache
def load_entity(entity: str, schemas_dir: Path = SCHEMAS_DIR) -> EntitySchema:
    """Load and validate ``schemas/<entity>.yaml``.

    Raises:
        SchemaDefinitionError: The file is missing, not YAML, or invalid; the message names it.
    """
    path = schemas_dir / f"{entity}.yaml"
    return load_yaml_model(path, EntitySchema, SchemaDefinitionError, f"schema of {entity!r}")


def all_entities() -> tuple[EntitySchema, ...]:
    """Every landing entity in dependency order (customers, products, accounts, ...)."""
    return tuple(load_entity(name) for name in ENTITY_NAMES)


def all_marts() -> tuple[EntitySchema, ...]:
    """Every consumption mart."""
    return tuple(load_entity(name) for name in MART_NAMES)
