"""Asset keys, deps, groups, kinds, owners and checks are a contract: they change only on purpose."""

from __future__ import annotations

import json

from asset_specs import SNAPSHOT_FILE, asset_spec_snapshot, render

from pipelines.definitions import build_definitions


def test_the_graph_matches_its_reviewed_snapshot():
    current = json.loads(render(asset_spec_snapshot(build_definitions())))
    expected = json.loads(SNAPSHOT_FILE.read_text())
    assert current == expected, (
        "the Dagster graph changed (asset keys, deps, groups, kinds, owners, tags, checks, jobs, "
        "schedules or sensors); if on purpose, run `python tests/pipeline/asset_specs.py` and "
        "review the snapshot's diff"
    )


def test_the_snapshot_sees_a_changed_dependency():
    # The comparison is not vacuous: a graph that loses one dep differs from the snapshot.
    snapshot = json.loads(SNAPSHOT_FILE.read_text())
    published = snapshot["assets"]["fs_accelerator/customer_overview_publish_log"]
    assert published["deps"], "the publish step depends on the masked outputs"
    published["deps"] = published["deps"][1:]
    assert snapshot != json.loads(render(asset_spec_snapshot(build_definitions())))
