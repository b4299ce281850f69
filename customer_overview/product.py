"""The data-product manifest (``dataproduct.yaml``): model, validation and loading.

The manifest is the product's contract with its consumers (name, version, owner, support,
freshness, outputs and who may see what) and the source of truth the Dagster graph reads its
inputs, outputs and role groups from.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
    model_validator,
)

from customer_overview.entities import ENTITY_NAMES, MART_NAMES, EntitySchema, load_entity
from customer_overview.errors import ManifestError
from customer_overview.yaml_files import load_yaml_model, repeated

# The manifest ships inside the package (``dataproduct.yaml`` at the repository root links to it),
# so an installed package has it too. Relative paths in it (``policies_dir``) are read from the
# folder that holds the product's packages: the checkout, or site-packages when installed.
DEFAULT_MANIFEST = Path(__file__).with_name("dataproduct.yaml")
PRODUCT_ROOT = Path(__file__).resolve().parents[1]
# SemVer 2.0.0 core version (pre-release allowed; build metadata is added per publish).
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Owner(_Strict):
    name: str = Field(min_length=1)
    email: EmailStr
    dagster_owner: str = Field(pattern=r"^(team:[a-z0-9-]+|[^@\s]+@[^@\s]+)$")


class Support(_Strict):
    contact: EmailStr
    channel: str | None = None
    hours: str | None = None


class Freshness(_Strict):
    expectation: Literal["hourly", "daily", "weekly"]
    # Fractions are allowed (a test promises seconds); the freshness check reads it.
    max_age_hours: float = Field(gt=0)


class Resource(_Strict):
    name: str
    type: str
    description: str
    purpose: str
    ref: str


class ProductInput(_Strict):
    name: str
    entity: str
    purpose: str
    format: Literal["csv"]
    ref: str
    description: str
    # A required input with no file ever landed fails the run before Spark starts; an optional
    # one leaves the outputs built from it out of the version until its first file lands.
    required: bool = True

    @field_validator("entity")
    @classmethod
    def _known_entity(cls, entity: str) -> str:
        if entity not in ENTITY_NAMES:
            raise ValueError(f"unknown entity {entity!r} (known: {', '.join(ENTITY_NAMES)})")
        return entity


class ProductOutput(_Strict):
    """One consumer-facing dataset; published once per role group as ``<table>__<group>``."""

    name: str
    entity: str
    purpose: str
    description: str
    schema_ref: str

    @field_validator("name")
    @classmethod
    def _identifier(cls, name: str) -> str:
        if not _IDENTIFIER.match(name):
            raise ValueError(f"output name {name!r} must be a lower snake-case identifier")
        return name

    @field_validator("entity")
    @classmethod
    def _known_entity(cls, entity: str) -> str:
        known = (*ENTITY_NAMES, *MART_NAMES)
        if entity not in known:
            raise ValueError(f"unknown entity {entity!r} (known: {', '.join(known)})")
        return entity

    @property
    def entity_schema(self) -> EntitySchema:
        return load_entity(self.entity)

    @property
    def source_table(self) -> str:
        """The curated table the output is masked from."""
        return self.entity_schema.curated_table

    def published_table(self, role_group: str) -> str:
        return f"{self.source_table}__{role_group}"


def _check_tag(tag: str) -> str:
    # Tags are identifiers compared exactly: a stray space would silently never match.
    if not tag or tag != tag.strip():
        raise ValueError(f"tag {tag!r} is empty or has leading/trailing whitespace")
    return tag


Tag = Annotated[str, AfterValidator(_check_tag)]


class RoleGroup(_Strict):
    """A group of consumers that see the same masked view (``consumers.role_groups``).

    Attributes:
        name: Identifier of the group, e.g. ``restricted``; part of published table names.
        description: Who belongs to the group, for the access matrix and the product card.
        tags: The user tags every member holds, e.g. ``{"roles:id:restricted-acess"}``.
            Masking policies select users by these tags.
        unix_group: The Unix group that may read this group's DuckDB export and published
            tables (0640); without one, only the lakehouse's owner can
            (customer_overview/file_modes.py).
    """

    name: str
    description: str
    tags: frozenset[Tag] = Field(min_length=1)
    unix_group: str | None = Field(default=None, min_length=1)

    @field_validator("name")
    @classmethod
    def _identifier(cls, name: str) -> str:
        if not _IDENTIFIER.match(name):
            raise ValueError(f"role group name {name!r} must be a lower snake-case identifier")
        return name


class Consumers(_Strict):
    default_deny: Literal["redact", "drop"] = "redact"
    policies_dir: str = "policies"
    role_groups: tuple[RoleGroup, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_groups(self) -> Consumers:
        duplicates = repeated(group.name for group in self.role_groups)
        if duplicates:
            raise ValueError(f"duplicate role groups {duplicates}")
        return self


GateScope = Literal["version", "outputs"]


class QualityGate(_Strict):
    """A check that gates publishing, and how much a failure holds back.

    ``version``: a failure anywhere stops the whole version (nothing is published; the previous
    version stays current). ``outputs``: a failure on a table holds back only the outputs built
    from that table (lineage); they stay at their last published version while the others move.
    """

    check: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    scope: GateScope = "version"
    description: str | None = None


class DataProductManifest(_Strict):
    """``dataproduct.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid", ignored_types=(cached_property,))

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    version: str
    type: Literal["data"]
    entity: Literal["product"] = "product"
    domain: str
    description: str = Field(min_length=20)
    tags: tuple[str, ...] = ()
    owner: Owner
    support: Support
    freshness: Freshness
    resources: tuple[Resource, ...] = ()
    inputs: tuple[ProductInput, ...] = Field(min_length=1)
    outputs: tuple[ProductOutput, ...] = Field(min_length=1)
    consumers: Consumers
    quality_gates: tuple[QualityGate, ...] = ()

    @field_validator("quality_gates", mode="before")
    @classmethod
    def _gate_names(cls, gates: object) -> object:
        # A bare check name (the manifest's first format) gates the whole version.
        if isinstance(gates, list | tuple):
            return [{"check": gate} if isinstance(gate, str) else gate for gate in gates]
        return gates

    @field_validator("version")
    @classmethod
    def _semver(cls, version: str) -> str:
        if not _SEMVER.match(version):
            raise ValueError(f"version {version!r} is not a semantic version like 1.2.0")
        return version

    @model_validator(mode="after")
    def _outputs_have_inputs(self) -> DataProductManifest:
        duplicates = repeated(output.name for output in self.outputs)
        if duplicates:
            raise ValueError(f"duplicate outputs {duplicates}")
        input_entities = {item.entity for item in self.inputs}
        orphaned = [
            o.name
            for o in self.outputs
            if o.entity in ENTITY_NAMES and o.entity not in input_entities
        ]
        if orphaned:
            raise ValueError(f"outputs {orphaned} have no input of their entity")
        gates = repeated(gate.check for gate in self.quality_gates)
        if gates:
            raise ValueError(f"quality_gates lists {gates} more than once")
        if not self.required_inputs:
            raise ValueError("at least one input must be `required: true` (the product's master)")
        return self

    def gate(self, check: str) -> QualityGate | None:
        """The gate a check name is listed under, or None: the check does not gate publishing."""
        return next((gate for gate in self.quality_gates if gate.check == check), None)

    @property
    def required_inputs(self) -> tuple[ProductInput, ...]:
        return tuple(item for item in self.inputs if item.required)

    def output(self, name: str) -> ProductOutput:
        for output in self.outputs:
            if output.name == name:
                return output
        known = ", ".join(o.name for o in self.outputs)
        raise ManifestError(f"unknown output {name!r} (known: {known})")

    def role_group(self, name: str) -> RoleGroup:
        for group in self.consumers.role_groups:
            if group.name == name:
                return group
        known = ", ".join(g.name for g in self.consumers.role_groups)
        raise ManifestError(f"unknown role group {name!r} (known: {known})")

    @property
    def policies_path(self) -> Path:
        path = Path(self.consumers.policies_dir)
        return path if path.is_absolute() else PRODUCT_ROOT / path


def manifest_path() -> Path:
    """``$DATAPRODUCT_MANIFEST`` or the packaged ``dataproduct.yaml``."""
    return Path(os.environ.get("DATAPRODUCT_MANIFEST") or DEFAULT_MANIFEST)


def load_manifest(path: Path | None = None) -> DataProductManifest:
    """Load and validate the manifest.

    Raises:
        ManifestError: Missing file, not YAML, or invalid; the message names the file and field.
    """
    path = path or manifest_path()
    return load_yaml_model(path, DataProductManifest, ManifestError, "manifest")
