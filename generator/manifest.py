"""The run manifest: what was written and what the pipeline must end up with.

Written to `<out_dir>/manifest.json` (sorted keys, indent 2). Per entity:

- files: [{file, batch, month, rows}] in arrival order; rows = data rows.
- rows: data rows of all files = valid_rows + sum(bad_rows.values()).
- valid_rows = initial_rows + updates + new_keys + late_arrivals + exact_duplicates:
  initial_rows: rows of the initial load (month 0);
  updates: later versions of known keys with a newer modified_at;
  new_keys: first versions of keys that arrive in a monthly batch;
  late_arrivals: versions older than a version delivered in an earlier file;
  exact_duplicates: byte-identical repeats (index column aside) of earlier rows.
- bad_rows: {kind: count} of malformed rows (see badrows.py).
- distinct_versions: distinct (key, modified_at) among valid rows
  = valid_rows - exact_duplicates: what a raw table merged on key + modified_at holds.
- expected_latest: distinct keys with at least one valid row = initial_rows + new_keys:
  what the curated latest-per-key table must hold.
- distinct_keys: distinct non-empty keys in all rows (malformed rows' fresh
  keys included).
- funnel (campaigns only): {stage: distinct customers reaching it}, stages in
  funnel order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from generator.campaigns import FUNNEL_STAGES
from generator.changefeed import PieceCounts
from generator.config import GeneratorConfig
from generator.plan import ENTITIES
from generator.writer import DropFile

GENERATOR_VERSION = "1.1.0"
MANIFEST_FILE_NAME = "manifest.json"

KEY_COLUMNS: dict[str, str] = {
    "customers": "cust_id",
    "products": "product_id",
    "accounts": "account_id",
    "transactions": "transaction_id",
    "campaigns": "event_id",
}
VERSION_COLUMN = "modified_at"


@dataclass
class EntityTally:
    """Running totals of one entity."""

    counts: PieceCounts = field(default_factory=PieceCounts)
    bad_rows: dict[str, int] = field(default_factory=dict)
    funnel: np.ndarray | None = None

    def add(self, counts: PieceCounts, funnel: np.ndarray | None = None) -> None:
        """Add a piece's composition (and, for campaign events, its events per stage)."""
        if funnel is not None:
            self.funnel = funnel.copy() if self.funnel is None else self.funnel + funnel
        self.counts.initial_rows += counts.initial_rows
        self.counts.updates += counts.updates
        self.counts.new_keys += counts.new_keys
        self.counts.late_arrivals += counts.late_arrivals
        self.counts.exact_duplicates += counts.exact_duplicates

    def summary(self, files: list[DropFile]) -> dict[str, Any]:
        """The entity's manifest entry, given its files."""
        counts = self.counts
        valid_rows = (
            counts.initial_rows
            + counts.updates
            + counts.new_keys
            + counts.late_arrivals
            + counts.exact_duplicates
        )
        expected_latest = counts.initial_rows + counts.new_keys
        keyless = self.bad_rows.get("missing_id", 0)
        return {
            "files": [
                {"file": f.relative_path, "batch": f.batch, "month": f.month, "rows": f.rows}
                for f in sorted(files, key=lambda f: f.batch)
            ],
            "rows": sum(f.rows for f in files),
            "valid_rows": valid_rows,
            "initial_rows": counts.initial_rows,
            "updates": counts.updates,
            "new_keys": counts.new_keys,
            "late_arrivals": counts.late_arrivals,
            "exact_duplicates": counts.exact_duplicates,
            "bad_rows": dict(self.bad_rows),
            "distinct_versions": valid_rows - counts.exact_duplicates,
            "expected_latest": expected_latest,
            "distinct_keys": expected_latest + sum(self.bad_rows.values()) - keyless,
        }


def build_manifest(
    config: GeneratorConfig, files: list[DropFile], tallies: dict[str, EntityTally]
) -> dict[str, Any]:
    """The manifest of a finished run.

    Args:
        config: The run's config.
        files: Every file written.
        tallies: Totals per entity name.

    Returns:
        JSON-ready manifest.
    """
    entities = {}
    for entity in ENTITIES:
        entry = tallies[entity].summary([f for f in files if f.entity == entity])
        entry["key_column"] = KEY_COLUMNS[entity]
        entry["version_column"] = VERSION_COLUMN
        if entity == "campaigns":
            funnel = tallies[entity].funnel
            if funnel is None:
                funnel = np.zeros(len(FUNNEL_STAGES), dtype=np.int64)
            entry["funnel"] = {
                stage: int(n) for stage, n in zip(FUNNEL_STAGES, funnel, strict=True)
            }
        entities[entity] = entry
    return {
        "generator_version": GENERATOR_VERSION,
        "config": config.to_manifest_dict(),
        "entities": entities,
    }


def write_manifest(manifest: dict[str, Any], out_dir: Path) -> Path:
    """Write `manifest` as `<out_dir>/manifest.json` (sorted keys, indent 2)."""
    path = out_dir / MANIFEST_FILE_NAME
    path.write_text(json.dumps(manifest, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    return path
