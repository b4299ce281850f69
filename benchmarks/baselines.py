"""The two baselines bench_pipeline.py compares the product with, each one process per run.

Both do the least a "latest customers" job must do: read the customer CSV files (all columns as
text, nothing inferred), keep the row with the latest ``modified_at`` per ``cust_id`` and write
the result partitioned by country and state. Neither validates, quarantines, merges or records
anything.

    python benchmarks/baselines.py spark CSV [CSV ...] --warehouse DIR   # Iceberg, Spark local[2]
    python benchmarks/baselines.py duckdb CSV [CSV ...] --out DIR        # hive-partitioned parquet

Each prints the number of rows it wrote on its last stdout line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

CATALOG = "bench"
TABLE = f"{CATALOG}.bench.customers_latest"
# The product's local profile runs Spark with two cores; the baselines get the same.
CORES = 2


def spark_job(csv_files: list[Path], warehouse: Path) -> int:
    """Bare Spark: CSV -> row_number() per cust_id -> Iceberg table partitioned by country, state.

    Returns:
        Rows in the table written (from the snapshot summary; nothing is read back).
    """
    from pyspark.sql import SparkSession, Window
    from pyspark.sql.functions import col, row_number

    from customer_overview.config import load_settings
    from customer_overview.spark import iceberg_runtime_jar

    # The same jar and driver heap the product's local profile uses; env={} so that no
    # LAKEHOUSE_* variable of the caller changes them.
    settings = load_settings(profile="local", lakehouse_dir=warehouse, env={}).spark
    jar = iceberg_runtime_jar(settings)
    if jar is None:
        raise SystemExit("the local profile names no Iceberg runtime jar")
    spark = (
        SparkSession.builder.master(f"local[{CORES}]")
        .appName("bench-bare-spark")
        .config("spark.jars", jar)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", settings.driver_memory)
        .config("spark.sql.shuffle.partitions", "8")
        # A Hadoop catalog is only files in the warehouse: no catalog database to set up.
        .config(f"spark.sql.catalog.{CATALOG}", "org.apache.iceberg.spark.SparkCatalog")
        .config(f"spark.sql.catalog.{CATALOG}.type", "hadoop")
        .config(f"spark.sql.catalog.{CATALOG}.warehouse", warehouse.resolve().as_uri())
        .getOrCreate()
    )
    try:
        rows = spark.read.option("header", "true").csv([str(path) for path in csv_files])
        latest_first = Window.partitionBy("cust_id").orderBy(col("modified_at").desc())
        latest = (
            rows.withColumn("_rank", row_number().over(latest_first))
            .where(col("_rank") == 1)
            .drop("_rank")
        )
        spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {CATALOG}.bench")
        latest.writeTo(TABLE).partitionedBy(col("country"), col("state")).createOrReplace()
        summary = spark.sql(
            f"SELECT summary['total-records'] AS rows FROM {TABLE}.snapshots "
            "ORDER BY committed_at DESC LIMIT 1"
        ).first()
        return int(summary["rows"]) if summary else 0
    finally:
        spark.stop()


def duckdb_job(csv_files: list[Path], out: Path) -> int:
    """DuckDB: read_csv -> QUALIFY row_number() per cust_id -> parquet by country/state.

    Returns:
        Rows written (COPY's own count).
    """
    import duckdb

    files = ", ".join(_sql_string(str(path)) for path in csv_files)
    con = duckdb.connect()
    try:
        con.execute(f"SET threads = {CORES}")
        result = con.execute(
            f"""
            COPY (
                SELECT * FROM read_csv([{files}], header = true, all_varchar = true)
                QUALIFY row_number() OVER (PARTITION BY cust_id ORDER BY modified_at DESC) = 1
            ) TO {_sql_string(str(out))} (FORMAT parquet, PARTITION_BY (country, state))
            """
        ).fetchone()
    finally:
        con.close()
    return int(result[0]) if result else 0


def _sql_string(value: str) -> str:
    # COPY's target cannot be a prepared-statement parameter, so paths are quoted literals.
    return "'" + value.replace("'", "''") + "'"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run one baseline job of bench_pipeline.py.")
    engines = parser.add_subparsers(dest="engine", required=True)
    spark = engines.add_parser("spark", help="bare Spark job writing an Iceberg table")
    spark.add_argument("csv", type=Path, nargs="+")
    spark.add_argument("--warehouse", type=Path, required=True, help="Hadoop catalog folder")
    duck = engines.add_parser("duckdb", help="DuckDB job writing hive-partitioned parquet")
    duck.add_argument("csv", type=Path, nargs="+")
    duck.add_argument("--out", type=Path, required=True, help="output folder (must not exist)")
    args = parser.parse_args(argv)
    if args.engine == "spark":
        rows = spark_job(args.csv, args.warehouse)
    else:
        rows = duckdb_job(args.csv, args.out)
    print(rows)


if __name__ == "__main__":
    main()
