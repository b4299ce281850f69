"""The session's first publish, saved once and restored for each scenario that starts from it.

Iceberg metadata holds absolute paths, so a copy goes back to the folder it was built in: one
scenario at a time (the fixtures that restore it are module- or function-scoped, and pytest
ends a module's fixtures before the next module starts), each restore a fresh copy (~1 s for
the 600-customer lakehouse).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from customer_overview.catalog import release_catalog
from customer_overview.config import LakehouseSettings
from customer_overview.spark import release_session
from pipelines.runner import RunSummary


@dataclass(frozen=True)
class FirstPublish:
    """Where the first publish was built, its saved copy, and what made it."""

    settings: LakehouseSettings
    copy: Path
    generated: dict[str, Any]
    summary: RunSummary

    @classmethod
    def save(
        cls, settings: LakehouseSettings, copy: Path, generated: dict[str, Any], summary: RunSummary
    ) -> FirstPublish:
        """Copy the lakehouse just published to ``copy`` (this process lets go of it first)."""
        _let_go(settings)
        shutil.copytree(settings.lakehouse_dir, copy, symlinks=True)
        return cls(settings, copy, generated, summary)

    def restore(self) -> LakehouseSettings:
        """Put a fresh copy of the first publish in place of whatever a scenario left there."""
        _let_go(self.settings)
        shutil.rmtree(self.settings.lakehouse_dir, ignore_errors=True)
        shutil.copytree(self.copy, self.settings.lakehouse_dir, symlinks=True)
        return self.settings


def _let_go(settings: LakehouseSettings) -> None:
    # Pooled catalog connections of this process would keep reading the replaced files.
    release_session(settings)
    release_catalog(settings)
