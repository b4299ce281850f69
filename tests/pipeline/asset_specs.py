"""The shape of the Dagster graph as plain data: what the asset-spec snapshot test compares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dagster import Definitions


def asset_spec_snapshot(definitions: Definitions) -> dict[str, Any]:
    """Keys, deps, groups, kinds, owners, tags and checks of every asset; jobs, schedules, sensors."""
    graph = definitions.resolve_asset_graph()
    assets: dict[str, Any] = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "owners": sorted(node.owners),
            "tags": dict(sorted(node.tags.items())),
            "checks": {
                check.name: {
                    "blocking": graph.get_check_spec(check).blocking,
                }
                for check in sorted(node.check_keys, key=lambda c: c.name)
            },
        }
    return {
        "assets": assets,
        "jobs": sorted(job.name for job in definitions.jobs or []),
        "schedules": sorted(
            (schedule.name, schedule.cron_schedule) for schedule in definitions.schedules or []
        ),
        "sensors": sorted(sensor.name for sensor in definitions.sensors or []),
    }


SNAPSHOT_FILE = Path(__file__).with_name("asset_specs.snapshot.json")


def render(snapshot: dict[str, Any]) -> str:
    # Tuples (schedules) become lists: the file holds what json.loads gives back.
    return json.dumps(snapshot, indent=1, sort_keys=True, default=list) + "\n"


if __name__ == "__main__":
    # After a deliberate change to the graph: `python tests/pipeline/asset_specs.py` rewrites the
    # snapshot; review its diff like code (asset keys, deps and checks are a contract).
    from pipelines.definitions import build_definitions

    SNAPSHOT_FILE.write_text(render(asset_spec_snapshot(build_definitions())))
    print(f"wrote {SNAPSHOT_FILE}")
