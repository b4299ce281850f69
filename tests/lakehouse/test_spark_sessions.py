"""One JVM per process, one reused Spark session per lakehouse."""

from __future__ import annotations

from pyspark.sql import SparkSession

from customer_overview.config import LakehouseSettings
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
