"""PNG screenshots of local HTML reports, taken with headless Chromium.

Used to check that a generated page (the reports index, a profile) really renders, and to attach
a picture of it where HTML cannot go. Run as ``python -m quality.screenshot IN.html OUT.png``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

# Looked up on PATH in this order when no executable is given (Debian, Ubuntu, Google builds).
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
DEFAULT_TIMEOUT_SECONDS = 60.0
_STDERR_LINES_SHOWN = 20

# Without the networking flags Chromium starts background services (component updates, sync,
# QUIC probes...) that try to reach Google; offline, their connections are refused many at a
# time and slow or break the run. --no-sandbox: containers usually lack the user namespaces the
# sandbox needs.
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
# A report is rendered as it is on disk: nothing but this machine resolves, so a page that would
# load from a CDN shows what an offline reader sees (and nothing calls out).
OFFLINE_FLAGS = ("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",)


def screenshot(
    html_path: Path,
    png_path: Path,
    width: int = 1280,
    height: int = 900,
    chromium: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> Path:
    """Render a local HTML file in headless Chromium and save the visible viewport as PNG.

    Each call uses a new, temporary Chromium profile, so runs do not share state.

    Args:
        html_path: The page to render.
        png_path: Where to write the PNG (parent folders are created).
        width: Viewport width in pixels.
        height: Viewport height in pixels.
        chromium: Chromium executable (name on PATH or path); by default the first of
            ``CHROMIUM_NAMES`` found on PATH.
        timeout: Seconds to wait for Chromium before killing it.

    Returns:
        ``png_path``.

    Raises:
        FileNotFoundError: ``html_path`` does not exist.
        RuntimeError: Chromium is missing, fails, times out or writes no image; the message
            names the command and ends with Chromium's last lines of stderr.
    """
    page = Path(html_path).resolve()
    if not page.is_file():
        raise FileNotFoundError(f"no such HTML file: {page}")
    executable = _find_chromium(chromium)
    image = Path(png_path).resolve()
    image.parent.mkdir(parents=True, exist_ok=True)
    # A picture left by an earlier run must not pass for this run's.
    image.unlink(missing_ok=True)

    with tempfile.TemporaryDirectory(
        prefix="chromium-profile-", ignore_cleanup_errors=True
    ) as profile_dir:
        command = [
            executable,
            *HEADLESS_FLAGS,
            *OFFLINE_FLAGS,
            f"--user-data-dir={profile_dir}",
            f"--window-size={width},{height}",
            f"--screenshot={image}",
            page.as_uri(),
        ]
        returncode, stderr = _run(command, timeout)

    if returncode != 0 or not image.is_file() or image.stat().st_size == 0:
        outcome = f"exit code {returncode}" if returncode != 0 else f"no image at {image}"
        raise RuntimeError(
            f"Chromium screenshot failed ({outcome}): {shlex.join(command)}\n{_tail(stderr)}"
        )
    return image


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m quality.screenshot IN.html OUT.png [--width W] [--height H]``."""
    parser = argparse.ArgumentParser(
        prog="python -m quality.screenshot",
        description="Screenshot a local HTML file with headless Chromium.",
    )
    parser.add_argument("html", type=Path, help="the HTML file to render")
    parser.add_argument("png", type=Path, help="the PNG file to write")
    parser.add_argument("--width", type=int, default=1280, help="viewport width (default 1280)")
    parser.add_argument("--height", type=int, default=900, help="viewport height (default 900)")
    parser.add_argument("--chromium", help="Chromium executable (default: found on PATH)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help=f"seconds before Chromium is killed (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    args = parser.parse_args(argv)
    try:
        written = screenshot(
            args.html, args.png, args.width, args.height, args.chromium, args.timeout
        )
    except (FileNotFoundError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(written)
    return 0


def _find_chromium(chromium: str | None) -> str:
    candidates = (chromium,) if chromium else CHROMIUM_NAMES
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    raise RuntimeError(
        f"Chromium not found (looked for {', '.join(candidates)}): install Debian's "
        "'chromium' package or pass the executable's path"
    )


def _run(command: list[str], timeout: float) -> tuple[int, str]:
    """Run ``command``; on timeout kill it with every process it started.

    Chromium forks renderer and utility processes: killing only the launcher would leave them
    running, so it gets its own process group and the whole group is killed.
    """
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as error:
        raise RuntimeError(f"cannot start Chromium: {shlex.join(command)}: {error}") from error
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        try:
            _, stderr = process.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # a child that left the group still holds the pipe
            stderr = ""
        raise RuntimeError(
            f"Chromium timed out after {timeout:g} s: {shlex.join(command)}\n{_tail(stderr)}"
        ) from None
    return process.returncode, stderr


def _tail(stderr: str) -> str:
    lines = stderr.strip().splitlines()[-_STDERR_LINES_SHOWN:]
    return "stderr:\n" + "\n".join(lines) if lines else "stderr: (empty)"


if __name__ == "__main__":
    sys.exit(main())
