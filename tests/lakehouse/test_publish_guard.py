"""Publishing refuses, before moving anything, a table whose main cannot fast-forward to audit."""

from __future__ import annotations

import pytest

from customer_overview.errors import PublishError
from customer_overview.governance import AUDIT_BRANCH
from customer_overview.publishing import _require_fast_forward
from customer_overview.tables import load_iceberg_table


def test_main_must_be_an_ancestor_of_audit(lake_spark, lakehouse):
    table = "guard_probe"
    qualified = lakehouse.spark_table(table)
    lake_spark.sql(f"CREATE TABLE {qualified} (id bigint) USING iceberg")
    with pytest.raises(PublishError, match=f"no '{AUDIT_BRANCH}' branch"):
        _require_fast_forward(load_iceberg_table(lakehouse, table), table)

    lake_spark.sql(f"INSERT INTO {qualified} VALUES (1)")
    lake_spark.sql(f"ALTER TABLE {qualified} CREATE BRANCH {AUDIT_BRANCH}")
    lake_spark.sql(f"INSERT INTO {qualified}.branch_{AUDIT_BRANCH} VALUES (2)")
    _require_fast_forward(load_iceberg_table(lakehouse, table), table)  # audit is ahead: fine

    lake_spark.sql(f"INSERT INTO {qualified} VALUES (3)")  # main moved on its own
    with pytest.raises(PublishError, match=r"is not an ancestor of 'audit'.*nothing was published"):
        _require_fast_forward(load_iceberg_table(lakehouse, table), table)
