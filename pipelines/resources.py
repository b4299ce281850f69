"""Dagster resources: the lakehouse (one config -> Spark session + PyIceberg catalog)."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field
from pyiceberg.catalog import Catalog
from pyspark.sql import SparkSession

from customer_overview.catalog import prepare_catalog
from customer_overview.config import LakehouseSettings, load_settings
from customer_overview.spark import spark_session


class LakehouseResource(ConfigurableResource):
    """The lakehouse a run works on.

    Empty fields fall back to ``$LAKEHOUSE_DIR`` / ``$LAKEHOUSE_PROFILE`` and then to the embedded
    defaults (``./lakehouse``, profile ``local``), read when a run starts, never at import.
    """

    lakehouse_dir: str | None = Field(
        default=None, description="State directory (catalog.db, warehouse/, landing/, reports/)."
    )
    profile: str | None = Field(
        default=None, description="Deployment profile from customer_overview/profiles.yaml."
    )

    def settings(self) -> LakehouseSettings:
        return load_settings(profile=self.profile, lakehouse_dir=self.lakehouse_dir)

    def spark(self) -> SparkSession:
        """The process's Spark session bound to this lakehouse's catalog."""
        return spark_session(self.settings())

    def catalog(self) -> Catalog:
        """The same catalog through PyIceberg (no JVM)."""
        return prepare_catalog(self.settings())
