"""Which outputs a version publishes: landed inputs, lineage and the manifest's quality gates."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from customer_overview.config import load_settings
from customer_overview.errors import ManifestError, MissingInputError
from customer_overview.landing_log import check_required_inputs, landed_inputs
from customer_overview.product import DEFAULT_MANIFEST, load_manifest
from quality.gates import NO_INPUT_YET, FailedGate, decide_outputs, input_entities, upstream

ALL_INPUTS = {"customers", "products", "accounts", "transactions", "campaigns"}


@pytest.fixture(scope="module")
def manifest():
    return load_manifest()


def test_lineage_follows_references_and_mart_sources() -> None:
    # Campaign events reference customers and products; the funnel is built from the archetypes,
    # which read customers, accounts and transactions; accounts reference products.
    assert input_entities("campaign_funnel") == ALL_INPUTS
    assert input_entities("customers") == {"customers"}
    assert input_entities("accounts") == {"accounts", "customers", "products"}
    assert input_entities("product_sales") == {"accounts", "customers", "products"}
    assert "customer_spend" in upstream("spend_by_segment")


def test_customer_files_only_publish_the_customer_overview(manifest) -> None:
    decision = decide_outputs(manifest, landed={"customers"}, failed=[])
    published = [d.output for d in decision.outputs.values() if d.publish]
    assert published == ["customer_overview"]
    assert decision.publishes_anything
    products = decision.outputs["products"]
    assert products.status == "left_out"
    assert products.reason == f"{NO_INPUT_YET}: products"
    assert decision.outputs["campaign_funnel"].reason == (
        f"{NO_INPUT_YET}: accounts, campaigns, products, transactions"
    )


def test_everything_landed_publishes_everything(manifest) -> None:
    decision = decide_outputs(manifest, landed=ALL_INPUTS, failed=[])
    assert all(d.publish for d in decision.outputs.values())
    assert decision.not_published == []


def test_an_outputs_gate_holds_back_only_what_is_built_from_the_failing_table(manifest) -> None:
    failed = [FailedGate("products_dp", "gx_blocking_expectations")]
    decision = decide_outputs(manifest, landed=ALL_INPUTS, failed=failed)
    assert decision.blocked_by == ()
    held = {d.output for d in decision.not_published}
    # Built from products: the catalogue, accounts (product_exists), and through accounts the
    # transactions and every mart; the customer master is not, so it moves on.
    assert held == {o.name for o in manifest.outputs} - {"customer_overview"}
    assert decision.outputs["customer_overview"].publish
    campaigns_only = decide_outputs(
        manifest, ALL_INPUTS, [FailedGate("campaign_events_dp", "gx_blocking_expectations")]
    )
    assert {d.output for d in campaigns_only.not_published} == {
        "campaign_events",
        "campaign_funnel",
    }
    reason = decision.outputs["products"].reason
    assert "gx_blocking_expectations on products_dp" in reason
    assert decision.outputs["products"].status == "held_back"


def test_a_failure_on_the_master_or_a_version_gate_blocks_the_version(manifest) -> None:
    on_master = FailedGate("customer_overview_dp", "gx_blocking_expectations")
    assert decide_outputs(manifest, ALL_INPUTS, [on_master]).blocked_by == (on_master,)
    lost = FailedGate("transactions_dp", "no_row_lost")
    decision = decide_outputs(manifest, ALL_INPUTS, [lost])
    assert decision.blocked_by == (lost,)
    assert not decision.publishes_anything


def test_a_check_that_is_not_a_gate_holds_back_nothing(manifest) -> None:
    warning = FailedGate("products_dp", "gx_warning_expectations")
    decision = decide_outputs(manifest, ALL_INPUTS, [warning])
    assert decision.blocked_by == ()
    assert decision.not_published == []


def _manifest_with(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(DEFAULT_MANIFEST.read_text())
    change(data)
    path = tmp_path / "dataproduct.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_bare_gate_names_gate_the_whole_version(tmp_path: Path) -> None:
    def bare(data):
        data["quality_gates"] = ["no_row_lost", "gx_blocking_expectations"]

    manifest = load_manifest(_manifest_with(tmp_path, bare))
    assert [g.scope for g in manifest.quality_gates] == ["version", "version"]
    assert manifest.gate("no_pii_leak") is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["quality_gates"].append({"check": "no_row_lost"}), "more than once"),
        (lambda d: d["quality_gates"].append({"check": "x", "scope": "all"}), "scope"),
        (
            lambda d: [item.update(required=False) for item in d["inputs"]],
            "at least one input must be `required: true`",
        ),
        (lambda d: d["freshness"].update(max_age_hours=0), "max_age_hours"),
    ],
)
def test_manifest_mistakes_name_the_field(tmp_path: Path, change, message) -> None:
    with pytest.raises(ManifestError, match=message):
        load_manifest(_manifest_with(tmp_path, change))


def test_a_required_input_that_never_landed_names_the_folder(tmp_path: Path, manifest) -> None:
    settings = load_settings(profile="local", lakehouse_dir=tmp_path / "lh", env={})
    with pytest.raises(MissingInputError) as raised:
        check_required_inputs(settings, manifest)
    assert str(settings.landing_dir / "customers") in str(raised.value)
    folder = settings.landing_dir / "products"
    folder.mkdir(parents=True)
    (folder / "products_1.csv").write_text("x\n", encoding="utf-8")
    assert landed_inputs(settings, manifest) == {"products"}
    with pytest.raises(MissingInputError):
        check_required_inputs(settings, manifest)
    customers = settings.landing_dir / "customers"
    customers.mkdir()
    (customers / "customers_1.csv").write_text("x\n", encoding="utf-8")
    check_required_inputs(settings, manifest)
    assert landed_inputs(settings, manifest) == {"customers", "products"}
