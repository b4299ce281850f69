"""``scan_for_leaks`` on real tables: clean masked outputs pass, a clear value in a masked column
is found and counted, and a column the group may see in clear is never called a leak."""

from __future__ import annotations

from lakehouse_support import customer, write_customers

from assets.curated.curation import curate_entity
from assets.governed.governance import (
    AUDIT_BRANCH,
    product_policies,
    scan_for_leaks,
    write_masked_outputs,
)
from assets.raw.ingestion import ingest_entity
from customer_overview.entities import load_entity
from customer_overview.product import load_manifest
from quality.rules import load_rules

CUSTOMERS = load_entity("customers")


def _masked_lakehouse(spark, settings):
    rows = [
        customer("1000000001", email_addr="ana.silva@example.com"),
        customer("1000000002", email_addr="soren.odegard@example.com"),
        customer("1000000003", email_addr="li.wei@example.com"),
    ]
    write_customers(settings.landing_dir, "customers_00001.csv", rows)
    ingest_entity(spark, settings, CUSTOMERS, "leak-test")
    curate_entity(spark, settings, CUSTOMERS, load_rules("customers"), "leak-test")
    manifest = load_manifest()
    output = manifest.output("customer_overview")
    policies = product_policies(manifest)
    write_masked_outputs(spark, settings, manifest, output, policies, progress=lambda _: None)
    return manifest, output, policies


def test_masked_outputs_hold_no_clear_value_and_a_planted_one_is_counted(lake_spark, lakehouse):
    manifest, output, policies = _masked_lakehouse(lake_spark, lakehouse)
    restricted = manifest.role_group("restricted")
    clean = scan_for_leaks(lake_spark, lakehouse, manifest, output, restricted, policies)
    assert not clean.leaked, clean.leaks
    assert "email_addr" in clean.checked_columns  # hashed for restricted: the scan looks at it
    assert not clean.remembered
    # The same two snapshots again (the publish step after the govern step): the clean answer
    # is remembered, not scanned again.
    again = scan_for_leaks(lake_spark, lakehouse, manifest, output, restricted, policies)
    assert again.remembered and not again.leaked
    assert again.checked_columns == clean.checked_columns

    # Plant the clear e-mail of one customer in the restricted copy's audit branch.
    table = lakehouse.spark_table(output.published_table("restricted"))
    lake_spark.sql(
        f"UPDATE {table}.branch_{AUDIT_BRANCH} SET email_addr = 'li.wei@example.com' "
        "WHERE cust_id = '1000000003'"
    )
    leaked = scan_for_leaks(lake_spark, lakehouse, manifest, output, restricted, policies)
    assert leaked.leaked
    assert leaked.leaks["email_addr"] == 1
    assert all(count == 0 for column, count in leaked.leaks.items() if column != "email_addr")


def test_a_group_entitled_to_clear_values_has_nothing_to_leak(lake_spark, lakehouse):
    manifest, output, policies = _masked_lakehouse(lake_spark, lakehouse)
    report = scan_for_leaks(
        lake_spark, lakehouse, manifest, output, manifest.role_group("pii_reader"), policies
    )
    # pii_reader's policy passes the personal columns through: none is guarded, none can leak.
    assert "email_addr" not in report.checked_columns
    assert not report.leaked


def test_a_masked_schema_change_replaces_the_table_and_keeps_earlier_snapshots(
    lake_spark, lakehouse
):
    from assets.governed.governance import _write_audit_branch
    from customer_overview.tables import BUILT_FROM, load_iceberg_table

    _, output, _ = _masked_lakehouse(lake_spark, lakehouse)
    table = output.published_table("restricted")
    qualified = lakehouse.spark_table(table)
    before = load_iceberg_table(lakehouse, table).snapshot_by_name(AUDIT_BRANCH)
    # A policy change that drops a column from what the group sees: a different schema.
    current = lake_spark.read.option("branch", AUDIT_BRANCH).table(qualified).drop("email_addr")
    masked = lake_spark.createDataFrame(current.collect(), current.schema)  # not read lazily
    replaced = _write_audit_branch(
        lake_spark, lakehouse, table, masked, output.entity_schema, {BUILT_FROM: "changed"}
    )
    assert replaced
    iceberg = load_iceberg_table(lakehouse, table)
    audit = iceberg.snapshot_by_name(AUDIT_BRANCH)
    assert audit is not None and audit.snapshot_id != before.snapshot_id
    assert "email_addr" not in iceberg.schemas()[audit.schema_id].column_names
    after = lake_spark.read.option("branch", AUDIT_BRANCH).table(qualified)
    assert "email_addr" not in after.columns and after.count() == 3
    earlier = lake_spark.read.option("snapshot-id", before.snapshot_id).table(qualified)
    assert earlier.count() == 3  # the snapshot before the change is still readable


def test_a_remembered_clean_scan_is_trusted_only_for_the_snapshots_it_read(
    lake_spark, lakehouse, caplog
):
    manifest, output, policies = _masked_lakehouse(lake_spark, lakehouse)
    restricted = manifest.role_group("restricted")
    assert not scan_for_leaks(lake_spark, lakehouse, manifest, output, restricted, policies).leaked

    # The curated table moves on (a new customer, the masked copy not rewritten): scanned again.
    rows = [customer("1000000004", email_addr="amara.okafor@example.com")]
    write_customers(lakehouse.landing_dir, "customers_00002.csv", rows)
    ingest_entity(lake_spark, lakehouse, CUSTOMERS, "leak-test-2")
    curate_entity(lake_spark, lakehouse, CUSTOMERS, load_rules("customers"), "leak-test-2")
    moved = scan_for_leaks(lake_spark, lakehouse, manifest, output, restricted, policies)
    assert not moved.remembered and not moved.leaked
    assert scan_for_leaks(lake_spark, lakehouse, manifest, output, restricted, policies).remembered

    # A record that cannot be read is not trusted: the scan runs and says so in the log.
    table = output.published_table("restricted")
    record = lakehouse.lakehouse_dir / "state" / "leak_scans" / f"{table}.json"
    record.write_text("{not json", encoding="utf-8")
    unreadable = scan_for_leaks(lake_spark, lakehouse, manifest, output, restricted, policies)
    assert not unreadable.remembered and not unreadable.leaked
    assert "unreadable leak scan record" in caplog.text
