"""The generated drops of one benchmark size, and the landing folder each run sees.

The generator writes ``history`` months (0 .. history-1: the initial load and its monthly
changes) and one more monthly drop in one go, into a staging folder. The full run's landing
folder gets the history; the incremental run's gets the next month's files added, as a real
monthly delivery would arrive. With a history, the drop is what a month is in production: a
fraction of the accounts and transactions, not as many again (with one month of history, the
drop doubled them and the incremental run measured a second full load).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from generator import GeneratorConfig, generate

DEFAULT_HISTORY_MONTHS = 3


@dataclass(frozen=True)
class Drops:
    """Generated files in ``folder``, as ``<entity>/<file>`` paths per month."""

    folder: Path
    files_by_month: dict[int, list[str]]

    @property
    def history(self) -> range:
        """The months the full run's landing folder holds."""
        return range(self.drop_month)

    @property
    def drop_month(self) -> int:
        """The month that lands before the incremental run (the last one generated)."""
        return max(self.files_by_month)

    def customer_files(self, months: range) -> list[Path]:
        """The customers CSV files of ``months``, in arrival order."""
        return [
            self.folder / name
            for month in months
            for name in self.files_by_month.get(month, [])
            if name.startswith("customers/")
        ]


def generate_drops(customers: int, folder: Path, history: int = DEFAULT_HISTORY_MONTHS) -> Drops:
    """``history`` months for ``customers``, then a month in which 1% of them change.

    Every month (the history's too) changes 1% of the customers and adds a month of accounts,
    transactions and campaign events. seed 42 makes every invocation benchmark the same bytes.
    """
    if history < 1:
        raise ValueError(f"the history is at least the initial load (1 month), got {history}")
    config = GeneratorConfig(customers=customers, months=history, update_rate=0.01, seed=42)
    manifest = generate(config, folder)
    files_by_month: dict[int, list[str]] = {}
    for entity in manifest["entities"].values():
        for drop in entity["files"]:
            files_by_month.setdefault(int(drop["month"]), []).append(str(drop["file"]))
    return Drops(folder, files_by_month)


def land(drops: Drops, months: range, landing: Path) -> int:
    """Put the files of ``months`` into ``landing`` (same layout); the number of files.

    Hard links where the file system allows (no second copy of 1M customers), else copies.
    The pipeline only reads landing files, so sharing them with the staging folder is safe.
    """
    names = [name for month in months for name in drops.files_by_month.get(month, [])]
    for name in names:
        target = landing / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(drops.folder / name, target)
        except OSError:
            shutil.copy2(drops.folder / name, target)
    return len(names)
