"""One JVM per process, one reused Spark session per lakehouse, a catalog per run."""

from __future__ import annotations

from dagster import build_resources
from pyspark.sql import SparkSession

from customer_overview.catalog import cached_catalog
from customer_overview.config import LakehouseSettings
from customer_overview.resources import LakehouseResource
from customer_overview.spark import spark_session


def test_each_lakehouse_reuses_its_own_session_on_one_jvm(
    spark: SparkSession, session_settings: LakehouseSettings, lakehouse: LakehouseSettings
):
    assert spark_session(session_settings) is spark
    own = spark_session(lakehouse)
    assert own is not spark
    assert spark_session(lakehouse) is own
    assert own.sparkContext is spark.sparkContext
    assert own.conf.get("spark.sql.catalog.lakehouse.uri") == (
        f"jdbc:sqlite:{lakehouse.sqlite_catalog_path}"
    )
    assert spark.conf.get("spark.sql.catalog.lakehouse.uri") == (
        f"jdbc:sqlite:{session_settings.sqlite_catalog_path}"
    )


def test_a_run_opens_its_own_catalog_and_leaves_no_cached_data(lakehouse: LakehouseSettings):
    resource = LakehouseResource(lakehouse_dir=str(lakehouse.lakehouse_dir))
    before = cached_catalog(lakehouse)
    with build_resources({"lakehouse": resource}) as resources:
        run_catalog = resources.lakehouse.catalog()
        assert run_catalog is not before, "set-up opens the catalog with new connections"
        assert cached_catalog(lakehouse) is run_catalog, "engines use the run's catalog"
        spark = resources.lakehouse.spark()
        assert spark is spark_session(lakehouse)
        spark.range(5).createOrReplaceTempView("left_cached")
        spark.catalog.cacheTable("left_cached")
        assert spark.catalog.isCached("left_cached")
    assert not spark.catalog.isCached("left_cached"), "teardown clears what a step left cached"
    assert cached_catalog(lakehouse) is not run_catalog, "teardown closed the run's catalog"
