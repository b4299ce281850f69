"""The generated drops of one benchmark size, and the landing folder each run sees.

The generator writes the initial load (month 0) and one monthly drop (month 1) in one go, into a
staging folder. The full run's landing folder gets the month-0 files only; the incremental run's
gets the month-1 files added, as a real monthly delivery would arrive.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from generator import GeneratorConfig, generate

INITIAL_LOAD = 0
MONTHLY_DROP = 1


@dataclass(frozen=True)
class Drops:
    """Generated files in ``folder``, as ``<entity>/<file>`` paths per month."""

    folder: Path
    files_by_month: dict[int, list[str]]

    def customer_files(self, month: int) -> list[Path]:
        """The customers CSV files of one month, in arrival order."""
        return [
            self.folder / name
            for name in self.files_by_month.get(month, [])
            if name.startswith("customers/")
        ]


def generate_drops(customers: int, folder: Path) -> Drops:
    """The initial load of ``customers`` and a month in which 1% of them change.

    seed 42 makes every invocation benchmark the same bytes.
    """
    config = GeneratorConfig(customers=customers, months=1, update_rate=0.01, seed=42)
    manifest = generate(config, folder)
    files_by_month: dict[int, list[str]] = {}
    for entity in manifest["entities"].values():
        for drop in entity["files"]:
            files_by_month.setdefault(int(drop["month"]), []).append(str(drop["file"]))
    return Drops(folder, files_by_month)


def land(drops: Drops, month: int, landing: Path) -> int:
    """Put the files of ``month`` into ``landing`` (same layout); the number of files.

    Hard links where the file system allows (no second copy of 1M customers), else copies.
    The pipeline only reads landing files, so sharing them with the staging folder is safe.
    """
    names = drops.files_by_month.get(month, [])
    for name in names:
        target = landing / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(drops.folder / name, target)
        except OSError:
            shutil.copy2(drops.folder / name, target)
    return len(names)
