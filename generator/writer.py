"""Writing the CSV drops: file layout, header, index column, line ends.

Layout: `<out_dir>/<entity>/<entity>_<batch:05d>.csv`, UTF-8, `\n` line ends.
The first column is the source system's unnamed pandas index: empty header
name, values 0..n-1 per file (the pipeline drops it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from generator.encoding import csv_field


@dataclass
class DropFile:
    """One written file and what it holds."""

    entity: str
    batch: int
    month: int
    path: Path
    relative_path: str
    rows: int = 0


def drop_file_name(entity: str, batch: int) -> str:
    """`customers_00001.csv`: batch zero-padded so names sort in arrival order."""
    return f"{entity}_{batch:05d}.csv"


class DropWriter:
    """Creates the drop files and appends encoded lines to them in order."""

    def __init__(self, out_dir: Path) -> None:
        """Write under `out_dir` (which must exist)."""
        self._out_dir = out_dir
        self._files: dict[tuple[str, int], DropFile] = {}

    @property
    def files(self) -> list[DropFile]:
        """Files created so far, in creation order."""
        return list(self._files.values())

    def create(self, entity: str, batch: int, month: int, columns: tuple[str, ...]) -> DropFile:
        """Create a file holding only its header row.

        Args:
            entity: Entity name (also the folder).
            batch: Batch number.
            month: Month whose data the file carries (0 = initial load).
            columns: Column names after the unnamed index column.

        Returns:
            The file record, updated as rows are appended.
        """
        folder = self._out_dir / entity
        folder.mkdir(parents=True, exist_ok=True)
        name = drop_file_name(entity, batch)
        record = DropFile(entity, batch, month, folder / name, f"{entity}/{name}")
        header = ",".join(["", *(csv_field(column) for column in columns)]) + "\n"
        record.path.write_bytes(header.encode("utf-8"))
        self._files[(entity, batch)] = record
        return record

    def append(self, entity: str, batch: int, lines: pa.Array) -> None:
        """Append encoded lines (no index, no line end) to a created file."""
        record = self._files[(entity, batch)]
        if len(lines) == 0:
            return
        index = pc.cast(pa.array(np.arange(record.rows, record.rows + len(lines))), pa.string())
        rows = pc.binary_join_element_wise(index, ",", lines, "\n", "")
        with record.path.open("ab") as handle:
            handle.write(_utf8_bytes(rows))
        record.rows += len(lines)


def _utf8_bytes(strings: pa.Array) -> memoryview:
    """The concatenated UTF-8 bytes of a null-free string array, without copying."""
    _, offsets_buffer, data_buffer = strings.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[
        strings.offset : strings.offset + len(strings) + 1
    ]
    return memoryview(data_buffer)[offsets[0] : offsets[-1]]
