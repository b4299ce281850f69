"""The data-product manifest: the real one loads, broken ones fail with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from customer_overview.errors import ManifestError
from customer_overview.product import DEFAULT_MANIFEST, load_manifest


def test_the_manifest_loads_and_drives_the_outputs():
    manifest = load_manifest(DEFAULT_MANIFEST)
    assert manifest.name == "customer-overview-dp" and manifest.domain == "financial-services"
    assert manifest.outputs[0].name == "customer_overview"
    assert manifest.output("customer_overview").published_table("restricted") == (
        "customer_overview_dp__restricted"
    )
    assert {g.name for g in manifest.consumers.role_groups} == {
        "restricted",
        "dob_bucketed",
        "pii_reader",
    }


def _broken(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(DEFAULT_MANIFEST.read_text())
    change(data)
    path = tmp_path / "dataproduct.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["outputs"][0].update(entity="custmers"),
            "outputs.0.entity: .*unknown entity 'custmers'",
        ),
        (lambda d: d.pop("owner"), "owner: Field required"),
        (lambda d: d.update(version="v1alpha"), "version 'v1alpha' is not a semantic version"),
        (lambda d: d["owner"].update(email="not-an-email"), "owner.email"),
        (
            lambda d: d["consumers"]["role_groups"].append(d["consumers"]["role_groups"][0]),
            "duplicate role groups \\['restricted'\\]",
        ),
    ],
)
def test_manifest_errors_name_the_field(tmp_path: Path, change, message):
    path = _broken(tmp_path, change)
    with pytest.raises(ManifestError, match=message) as error:
        load_manifest(path)
    assert str(path) in str(error.value)


def test_unknown_output_is_a_manifest_error():
    with pytest.raises(
        ManifestError, match="unknown output 'customer' \\(known: customer_overview"
    ):
        load_manifest(DEFAULT_MANIFEST).output("customer")
