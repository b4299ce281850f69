"""Which outputs a version publishes: inputs that have landed, lineage, and the quality gates.

Three questions decide it, each answered from declarations (no Spark here):

* **Has the input landed?** An input has landed once a file of its entity sits in the landing
  folder or the landing file log remembers one. A required input that never landed stops the run
  before Spark starts (:func:`customer_overview.landing_log.check_required_inputs`); an
  optional one leaves out every output built from it (:func:`decide_outputs`), visibly, until
  its first file lands.
* **What is an output built from?** Lineage is declared once: an entity's rules name the entities
  it references (``references`` rules), a mart's schema its ``sources:``. :func:`upstream` closes
  over both, so the products a campaign references, or the accounts a mart reads, count.
* **Which failed gate holds it back?** ``quality_gates`` in ``dataproduct.yaml`` list the checks
  that gate publishing. A ``version`` gate that fails stops the whole version. An ``outputs`` gate
  that fails on a table holds back the outputs whose lineage contains that table; they stay at
  their last published version. A failure on a table of a *required* input (the customer master)
  is escalated to ``version``: every output is built from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Literal

from customer_overview.entities import ENTITY_NAMES, load_entity
from customer_overview.product import DataProductManifest, ProductOutput
from quality.rules import load_rules

NO_INPUT_YET = "no input landed yet"


@cache
def direct_sources(entity: str) -> frozenset[str]:
    """The entities and marts ``entity`` reads directly (itself excluded): a mart's
    ``sources:``, an entity's ``references`` rules."""
    schema = load_entity(entity)
    if schema.kind == "mart":
        direct = set(schema.sources)
    else:
        direct = {rule.entity for rule in load_rules(entity).references if rule.entity}
    return frozenset(direct - {entity})


@cache
def upstream(entity: str) -> frozenset[str]:
    """``entity`` and every entity or mart it is built from, transitively."""
    closure = {entity}
    for name in direct_sources(entity):
        closure |= upstream(name)
    return frozenset(closure)


def input_entities(entity: str) -> frozenset[str]:
    """The landing entities whose files ``entity`` (an entity or a mart) is built from."""
    return frozenset(name for name in upstream(entity) if name in ENTITY_NAMES)


def upstream_tables(entity: str) -> frozenset[str]:
    """The curated tables (entities and marts) ``entity`` is built from, itself included."""
    return frozenset(load_entity(name).curated_table for name in upstream(entity))


@dataclass(frozen=True)
class FailedGate:
    """A gate check that failed on one table in this run."""

    table: str
    check: str


@dataclass(frozen=True)
class OutputDecision:
    """Whether an output moves to the new version, and why not."""

    output: str
    publish: bool
    status: Literal["published", "left_out", "held_back"]
    reason: str = ""


@dataclass(frozen=True)
class VersionDecision:
    """The outcome for the whole version: blocked, or one decision per output."""

    blocked_by: tuple[FailedGate, ...]
    outputs: Mapping[str, OutputDecision]

    @property
    def publishes_anything(self) -> bool:
        return not self.blocked_by and any(d.publish for d in self.outputs.values())

    @property
    def not_published(self) -> list[OutputDecision]:
        return [d for d in self.outputs.values() if not d.publish]


def stops_the_version(manifest: DataProductManifest, check: str, table: str) -> bool:
    """Whether a failure of ``check`` on ``table`` stops the whole version.

    True for a gate of scope ``version``, and for any gate on a table a required input feeds (the
    customer master): every output is built from it, so nothing may move past it. The Dagster
    checks are blocking exactly when this is true, and the publish step decides by it too.
    """
    gate = manifest.gate(check)
    if gate is None:
        return False
    required_tables = {
        name for item in manifest.required_inputs for name in upstream_tables(item.entity)
    }
    return gate.scope == "version" or table in required_tables


def decide_outputs(
    manifest: DataProductManifest, landed: Iterable[str], failed: Iterable[FailedGate]
) -> VersionDecision:
    """Decide, for each output, whether this version publishes it (pure: tested directly)."""
    landed = frozenset(landed)
    blocking: list[FailedGate] = []
    per_table: dict[str, list[str]] = {}
    for gate_failure in failed:
        if manifest.gate(gate_failure.check) is None:
            continue  # not a gate: reported, never blocking
        if stops_the_version(manifest, gate_failure.check, gate_failure.table):
            blocking.append(gate_failure)
        else:
            per_table.setdefault(gate_failure.table, []).append(gate_failure.check)
    decisions = {output.name: _decide(output, landed, per_table) for output in manifest.outputs}
    return VersionDecision(blocked_by=tuple(blocking), outputs=decisions)


def _decide(
    output: ProductOutput, landed: frozenset[str], failed_by_table: Mapping[str, list[str]]
) -> OutputDecision:
    missing = sorted(input_entities(output.entity) - landed)
    if missing:
        return OutputDecision(
            output.name, False, "left_out", f"{NO_INPUT_YET}: {', '.join(missing)}"
        )
    failing = sorted(
        f"{check} on {table}"
        for table in upstream_tables(output.entity)
        for check in failed_by_table.get(table, ())
    )
    if failing:
        return OutputDecision(
            output.name,
            False,
            "held_back",
            f"failed {'; '.join(failing)}: stays at its last published version",
        )
    return OutputDecision(output.name, True, "published")
