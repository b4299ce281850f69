"""Files that a reader sees whole: the old content or the new one, never half of it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomically(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as temporary:
        temporary.write(text)
    # NamedTemporaryFile creates the file 0600 whatever the umask; give it the mode the umask
    # gives any new file (077 in a run: owner-only, as everything that may hold personal data).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary.name, 0o666 & ~umask)
    os.replace(temporary.name, path)
    return path
