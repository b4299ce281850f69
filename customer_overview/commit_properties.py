"""Snapshot summary properties for a Spark SQL statement, committed with the data it writes.

A DataFrame write records provenance in its snapshot through ``snapshot-property.<key>``
options; a SQL statement such as ``MERGE INTO`` has no such option. Iceberg's Spark module has
``CommitMetadata.withCommitProperties(properties, callable, exception class)``: every commit
made on that thread while the callable runs carries the properties. From Python the callable is
a py4j callback (the callback server PySpark's ``foreachBatch`` uses); the statement it sends
comes back on the same JVM thread (py4j's pinned threads, PySpark's default), where the
thread-local properties are set.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.java_gateway import ensure_callback_server_started
from pyspark.sql import SparkSession


class _Statement:
    """The py4j ``Callable`` that runs one SQL statement; an error is kept for the caller.

    Kept rather than raised through the JVM: Iceberg would wrap it in a RuntimeException and the
    caller would lose the original (an AnalysisException names the column at fault).
    """

    def __init__(self, spark: SparkSession, statement: str) -> None:
        self.spark = spark
        self.statement = statement
        self.error: BaseException | None = None

    def call(self) -> None:
        try:
            self.spark.sql(self.statement)
        except BaseException as error:  # re-raised by sql_with_commit_properties
            self.error = error

    class Java:
        implements = ["java.util.concurrent.Callable"]


def sql_with_commit_properties(
    spark: SparkSession, statement: str, properties: Mapping[str, str]
) -> None:
    """Run ``statement``; each Iceberg snapshot it commits records ``properties``."""
    gateway = spark.sparkContext._gateway
    assert gateway is not None, "a Spark session started from this Python process"
    ensure_callback_server_started(gateway)  # type: ignore[no-untyped-call]
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    java_properties = jvm.java.util.HashMap()
    for key, value in properties.items():
        java_properties.put(key, value)
    callback = _Statement(spark, statement)
    jvm.org.apache.iceberg.spark.CommitMetadata.withCommitProperties(
        java_properties, callback, jvm.java.lang.Class.forName("java.lang.RuntimeException")
    )
    if callback.error is not None:
        raise callback.error
