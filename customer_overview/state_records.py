"""Small JSON records a stage keeps beside its tables: ``LAKEHOUSE_DIR/state/<kind>/<name>.json``.

Each is a dataclass of what a stage did last (a mart build, a clean leak scan), trusted only
while the snapshots it names are current. A record that cannot be read is not an error: the
stage does its work in full, and says so in the log.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from customer_overview.atomic_files import write_text_atomically
from customer_overview.config import LakehouseSettings

log = logging.getLogger(__name__)

RecordT = TypeVar("RecordT")


def state_record_path(settings: LakehouseSettings, kind: str, name: str) -> Path:
    return settings.lakehouse_dir / "state" / kind / f"{name}.json"


def read_state_record(
    path: Path, record_type: type[RecordT], what: str, otherwise: str
) -> RecordT | None:
    """The record at ``path`` (None: there is none, or it is unreadable, logged as
    ``<path>: unreadable <what>, <otherwise>``)."""
    if not path.is_file():
        return None
    try:
        fields: Any = json.loads(path.read_text(encoding="utf-8"))
        return record_type(**fields)
    except (ValueError, TypeError) as error:  # not JSON, or not such a record
        log.warning("%s: unreadable %s, %s (%s)", path, what, otherwise, error)
        return None


def write_state_record(path: Path, record: Any) -> None:
    """Write the dataclass ``record`` to ``path`` at once (a reader sees the old or the new)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, json.dumps(asdict(record), sort_keys=True))
