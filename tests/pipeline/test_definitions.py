"""The Dagster definitions load and say what the product promises."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from dagster import AssetCheckKey, AssetKey

from pipelines import definitions as definitions_module
from pipelines.definitions import JOB_NAME, build_definitions

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def defs():
    """The definitions as workspace.yaml loads them: through the lazy ``defs`` entry point."""
    return definitions_module.defs()


def test_importing_the_definitions_reads_no_yaml_and_no_environment():
    # workspace.yaml's attribute is a @definitions function: Dagster calls it when it loads the
    # code location, so importing the module (tests, the runner) reads nothing. An audit hook in a
    # fresh interpreter records every YAML file opened and every LAKEHOUSE_* variable read.
    probe = textwrap.dedent(
        """
        import os, sys
        opened = []
        sys.addaudithook(
            lambda event, args: opened.append(str(args[0]))
            if event == "open" and str(args[0]).endswith((".yaml", ".yml")) else None
        )
        read = []
        class Watched(dict):
            def get(self, key, default=None):
                read.append(key)
                return super().get(key, default)
            def __getitem__(self, key):
                read.append(key)
                return super().__getitem__(key)
        os.environ = Watched(os.environ)
        import pipelines.definitions
        print(repr(opened), repr([k for k in read if k.startswith(("LAKEHOUSE", "DATAPRODUCT"))]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stdout.strip() == "[] []", result.stdout


def test_definitions_load_with_every_table_as_an_asset(defs):
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    for table in (
        "customer_overview_raw",
        "customer_overview_dp",
        "customer_overview_quarantine",
        "customer_overview_dp__restricted",
        "customer_overview_dp__dob_bucketed",
        "customer_overview_dp__pii_reader",
        "customer_overview_publish_log",
        "customer_overview_profile",
        "transactions_dp",
        "accounts_dp",
        "products_dp",
    ):
        assert f"fs_accelerator/{table}" in keys
    assert defs.resolve_job_def(JOB_NAME) is not None
    assert {s.name for s in defs.schedules} == {
        "daily_customer_overview",
        "weekly_lakehouse_maintenance",
    }
    assert {s.name for s in defs.sensors} == {"new_landing_files", "freshness_checks_sensor"}


def test_lineage_runs_from_landing_to_publish(defs):
    graph = defs.resolve_asset_graph()
    curated = graph.get(AssetKey(["fs_accelerator", "customer_overview_dp"]))
    assert AssetKey(["fs_accelerator", "customer_overview_raw"]) in curated.parent_keys
    accounts = graph.get(AssetKey(["fs_accelerator", "accounts_dp"]))
    assert AssetKey(["fs_accelerator", "customer_overview_dp"]) in accounts.parent_keys
    publish = graph.get(AssetKey(["fs_accelerator", "customer_overview_publish_log"]))
    assert AssetKey(["fs_accelerator", "transactions_dp__pii_reader"]) in publish.parent_keys


def test_gates_are_blocking_and_owned(defs):
    graph = defs.resolve_asset_graph()
    blocking = {
        (key.asset_key.path[-1], key.name)
        for key in graph.asset_check_keys
        if graph.get_check_spec(key).blocking
    }
    assert ("customer_overview_dp", "gx_blocking_expectations") in blocking
    assert ("customer_overview_dp", "no_row_lost") in blocking
    assert ("customer_overview_dp__restricted", "no_pii_leak") in blocking
    assert ("customer_overview_dp", "gx_warning_expectations") not in blocking
    # An `outputs` gate on a table no required input feeds holds back outputs at publish time
    # instead of stopping the run.
    assert ("products_dp", "gx_blocking_expectations") not in blocking
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners, key
        assert node.group_name in {
            "ingest",
            "curate",
            "quality",
            "marts",
            "govern_restricted",
            "govern_dob_bucketed",
            "govern_pii_reader",
            "publish",
            "maintenance",
        }, key
    for key in graph.get_all_asset_keys():
        # Each role group's masked copies sit in that group's own asset group.
        if key.path[-1].endswith("__restricted"):
            assert graph.get(key).group_name == "govern_restricted", key


def test_role_groups_come_from_the_manifest(tmp_path):
    import yaml

    from customer_overview.product import DEFAULT_MANIFEST, load_manifest

    data = yaml.safe_load(DEFAULT_MANIFEST.read_text())
    data["consumers"]["role_groups"].append(
        {"name": "auditor", "description": "Internal audit", "tags": ["roles:id:pii-reader"]}
    )
    path = tmp_path / "dataproduct.yaml"
    path.write_text(yaml.safe_dump(data))
    graph = build_definitions(manifest=load_manifest(path)).resolve_asset_graph()
    assert (
        AssetKey(["fs_accelerator", "customer_overview_dp__auditor"]) in graph.get_all_asset_keys()
    )


def _manifest_file(tmp_path, change):
    import yaml

    from customer_overview.product import DEFAULT_MANIFEST

    data = yaml.safe_load(DEFAULT_MANIFEST.read_text())
    change(data)
    path = tmp_path / "dataproduct.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_quality_gates_decide_what_blocks(tmp_path):
    from customer_overview.product import load_manifest

    def gx_blocks_version(data):
        for gate in data["quality_gates"]:
            if gate["check"] == "gx_blocking_expectations":
                gate["scope"] = "version"

    graph = build_definitions(
        manifest=load_manifest(_manifest_file(tmp_path, gx_blocks_version))
    ).resolve_asset_graph()
    spec = graph.get_check_spec(
        AssetCheckKey(AssetKey(["fs_accelerator", "products_dp"]), "gx_blocking_expectations")
    )
    assert spec.blocking


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["quality_gates"].append({"check": "no_such_check"}), "name no check"),
        (
            lambda d: d.update(
                quality_gates=[g for g in d["quality_gates"] if g["check"] != "no_pii_leak"]
            ),
            r"\['no_pii_leak'\] stop the run",
        ),
    ],
)
def test_gates_and_checks_must_agree(tmp_path, change, message):
    from customer_overview.errors import ManifestError
    from customer_overview.product import load_manifest

    with pytest.raises(ManifestError, match=message):
        build_definitions(manifest=load_manifest(_manifest_file(tmp_path, change)))


def test_freshness_check_watches_the_published_product(defs):
    graph = defs.resolve_asset_graph()
    key = AssetCheckKey(
        AssetKey(["fs_accelerator", "customer_overview_publish_log"]), "freshness_check"
    )
    assert key in graph.asset_check_keys
