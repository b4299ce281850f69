"""The marts' business rules (``marts/rules.yaml``): spend segments, archetypes, funnel stages."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from customer_overview.errors import InvalidRulesError
from customer_overview.yaml_files import load_yaml_model, repeated

RULES_FILE = Path(__file__).with_name("rules.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SpendSegments(_Strict):
    """Total spend below ``low_below`` is Low, from ``high_from`` High, Medium in between (INR)."""

    low_below: float = Field(gt=0)
    high_from: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> SpendSegments:
        if self.high_from <= self.low_below:
            raise ValueError("high_from must be greater than low_below")
        return self

    def segment(self, total_spend: float) -> str:
        """The segment of a total spend (the Python reference of the Spark rule)."""
        if total_spend < self.low_below:
            return "Low"
        return "High" if total_spend >= self.high_from else "Medium"


class ArchetypeRule(_Strict):
    name: str
    rule: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    when: str
    why: str


class MartRules(_Strict):
    spend_segments: SpendSegments
    archetypes: tuple[ArchetypeRule, ...] = Field(min_length=1)
    funnel_stages: tuple[str, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _catch_all_last(self) -> MartRules:
        if self.archetypes[-1].when.strip().upper() != "TRUE":
            raise ValueError("the last archetype rule must be the catch-all (when: TRUE)")
        duplicates = repeated(rule.rule for rule in self.archetypes)
        if duplicates:
            raise ValueError(f"duplicate archetype rule names {duplicates}")
        return self


@cache
def load_mart_rules(path: Path = RULES_FILE) -> MartRules:
    """Load and validate ``marts/rules.yaml``.

    Raises:
        InvalidRulesError: The file is missing, not YAML or invalid; the message names it.
    """
    return load_yaml_model(path, MartRules, InvalidRulesError, "mart rules")
