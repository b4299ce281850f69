"""Configuration: profiles, environment references, one source for Spark and PyIceberg."""

from __future__ import annotations

from pathlib import Path

import pytest

from customer_overview.config import load_settings
from customer_overview.errors import ConfigurationError


def test_embedded_default_needs_no_variables(tmp_path: Path):
    settings = load_settings(lakehouse_dir=tmp_path, env={})
    assert settings.profile == "local"
    assert settings.spark.master == "local[2]"
    assert settings.catalog_name == "lakehouse" and settings.namespace == "fs_accelerator"
    assert settings.warehouse == (tmp_path / "warehouse").as_uri()
    assert settings.sqlite_catalog_path == tmp_path / "catalog.db"
    assert (
        settings.spark_table("customer_overview_dp")
        == "lakehouse.fs_accelerator.customer_overview_dp"
    )


def test_spark_and_pyiceberg_point_at_the_same_catalog(tmp_path: Path):
    settings = load_settings(lakehouse_dir=tmp_path, env={})
    spark = settings.spark_catalog_conf()
    pyiceberg = settings.pyiceberg_properties()
    assert spark["spark.sql.catalog.lakehouse.uri"] == f"jdbc:sqlite:{tmp_path / 'catalog.db'}"
    assert pyiceberg["uri"] == f"sqlite:///{tmp_path / 'catalog.db'}"
    assert spark["spark.sql.catalog.lakehouse.warehouse"] == pyiceberg["warehouse"]
    assert spark["spark.sql.catalog.lakehouse.cache-enabled"] == "false"
    assert spark["spark.sql.catalog.lakehouse.jdbc.init-catalog-tables"] == "false"


def test_cluster_profile_reads_credentials_from_the_environment(tmp_path: Path):
    env = {
        "SPARK_MASTER": "spark://127.0.0.1:7077",
        "LAKEHOUSE_CATALOG_URI": "127.0.0.1:5432/lake",
        "LAKEHOUSE_CATALOG_PASSWORD": "s3cret",
    }
    settings = load_settings(profile="cluster", lakehouse_dir=tmp_path, env=env)
    assert settings.spark.master == "spark://127.0.0.1:7077"
    assert settings.spark_catalog_conf()["spark.sql.catalog.lakehouse.uri"] == (
        "jdbc:postgresql://127.0.0.1:5432/lake"
    )
    assert (
        settings.pyiceberg_properties()["uri"]
        == "postgresql+psycopg2://lakehouse:s3cret@127.0.0.1:5432/lake"
    )
    shown = settings.redacted()
    assert shown["catalog"]["password"] == "**********"
    assert "s3cret" not in str(shown)


def test_rest_profile(tmp_path: Path):
    env = {"ICEBERG_REST_URI": "http://127.0.0.1:8181", "LAKEHOUSE_WAREHOUSE": "s3a://bank/wh"}
    settings = load_settings(profile="rest", lakehouse_dir=tmp_path, env=env)
    assert settings.spark_catalog_conf()["spark.sql.catalog.lakehouse.type"] == "rest"
    assert settings.pyiceberg_properties() == {
        "type": "rest",
        "uri": "http://127.0.0.1:8181",
        "warehouse": "s3://bank/wh",
    }


@pytest.mark.parametrize(
    ("profile", "env", "message"),
    [
        ("nope", {}, "unknown profile 'nope'"),
        ("cluster", {}, "environment variable SPARK_MASTER is not set"),
        ("local", {"SPARK_MASTER": "mesos://x"}, "unsupported Spark master 'mesos://x'"),
    ],
)
def test_wrong_profiles_fail_clearly_before_spark_starts(tmp_path, profile, env, message):
    with pytest.raises(ConfigurationError, match=message):
        load_settings(profile=profile, lakehouse_dir=tmp_path, env=env)


def test_custom_profiles_file(tmp_path: Path):
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(
        "profiles:\n  tiny:\n    spark: {master: 'local[1]', shuffle_partitions: 2}\n"
    )
    settings = load_settings(
        profile="tiny", lakehouse_dir=tmp_path, env={"LAKEHOUSE_PROFILES_FILE": str(profiles)}
    )
    assert settings.spark.master == "local[1]" and settings.spark.shuffle_partitions == 2
    profiles.write_text("profiles:\n  tiny:\n    spark: {masterr: 'local[1]'}\n")
    with pytest.raises(ConfigurationError, match=r"spark.masterr: Extra inputs are not permitted"):
        load_settings(
            profile="tiny", lakehouse_dir=tmp_path, env={"LAKEHOUSE_PROFILES_FILE": str(profiles)}
        )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"profiles\.yaml: profiles file not found"),
        ("profiles: [unclosed\n", r"profiles\.yaml: not valid YAML"),
        ("tiny: {}\n", r"profiles\.yaml: expected a top-level 'profiles:' mapping"),
    ],
    ids=["missing", "not-yaml", "no-profiles-key"],
)
def test_unreadable_profiles_file_names_the_file(tmp_path: Path, content, message):
    profiles = tmp_path / "profiles.yaml"
    if content is not None:
        profiles.write_text(content)
    with pytest.raises(ConfigurationError, match=message):
        load_settings(lakehouse_dir=tmp_path, env={"LAKEHOUSE_PROFILES_FILE": str(profiles)})


def test_secrets_in_properties_and_spark_conf_never_shown_or_written(tmp_path: Path):
    from assets.published.engine_configs import write_engine_configs

    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(
        "profiles:\n"
        "  s3:\n"
        "    spark:\n"
        "      conf: {spark.hadoop.fs.s3a.secret.key: '${S3_SECRET}'}\n"
        "    catalog:\n"
        "      type: rest\n"
        "      uri: http://127.0.0.1:8181\n"
        "      properties: {s3.secret-access-key: '${S3_SECRET}', s3.region: eu-west-1}\n"
        "    warehouse: s3a://bank/wh\n"
    )
    env = {"LAKEHOUSE_PROFILES_FILE": str(profiles), "S3_SECRET": "do-not-print"}
    settings = load_settings(profile="s3", lakehouse_dir=tmp_path, env=env)
    assert settings.pyiceberg_properties()["s3.secret-access-key"] == "do-not-print"
    shown = settings.redacted()
    assert "do-not-print" not in str(shown)
    assert shown["catalog"]["properties"]["s3.region"] == "eu-west-1"
    files = write_engine_configs(settings, tmp_path / "connect")
    for path in files.values():
        assert "do-not-print" not in path.read_text(), path
    assert "${LAKEHOUSE_CATALOG_SECRET_ACCESS_KEY}" in files["pyiceberg"].read_text()
    assert "s3.region" in files["spark_sql"].read_text()
