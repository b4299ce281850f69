"""Set up, serve, stop and check the Superset dashboards: ``python -m bi.superset COMMAND``.

Commands (everything under ``$LAKEHOUSE_DIR``, default ``./lakehouse``):

- ``prepare``: only the steps that need no export (the test runs it beside the pipeline).
- ``setup``: create ``.venv-superset`` if missing (Superset cannot share the pipeline's
  environment), ``superset db upgrade``, ``superset init``, then ``bi/provision.py``: the admin
  and one user + role per consumer role group, one DuckDB database per group over
  ``exports/<group>.duckdb``, and the three dashboards per group from ``bi/templates/``.
- ``serve``: start Superset (gunicorn) on 127.0.0.1 in the background; print URL and logins.
- ``up``: setup + serve (what ``make bi`` runs).
- ``stop``, ``status``.
- ``screenshots``: log in as each group's user, render its dashboards in headless Chromium,
  save screenshots to ``$LAKEHOUSE_DIR/reports/dashboards/`` and check every chart.

This module uses the standard library only (and ``customer_overview.process_groups``, which does
too), so any Python 3.11 runs it from the repository (the pipeline's venv, the system's);
everything that needs Superset runs in ``.venv-superset``.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from customer_overview.process_groups import free_port, is_alive, start_group, stop_group

REPO = Path(__file__).resolve().parent.parent
BI_DIR = REPO / "bi"
REQUIREMENTS = BI_DIR / "requirements.txt"
CONSTRAINTS = BI_DIR / "constraints.txt"
# The consumer role groups of dataproduct.yaml (this module cannot read YAML: stdlib only);
# tests/bi checks that both agree.
ROLE_GROUPS = ("restricted", "dob_bucketed", "pii_reader")
DEFAULT_PORT = 8088
CHROMEDRIVER = "/usr/bin/chromedriver"
PROGRESS_SECONDS = 15
# Measured on 2 cores with a warm pip cache and without: what `make bi` announces for the
# install (the first install downloads ~0.9 GB).
INSTALL_ESTIMATE = "about 2 minutes with pip's cache, 5 or more on a fresh machine"


class BIError(RuntimeError):
    """A step failed; the message says which and where its log is."""


def venv_dir() -> Path:
    return Path(os.environ.get("BI_VENV") or REPO / ".venv-superset").resolve()


def lakehouse_dir() -> Path:
    return Path(os.environ.get("LAKEHOUSE_DIR") or "./lakehouse").resolve()


def state_dir() -> Path:
    path = lakehouse_dir() / "superset"
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _log(message: str) -> None:
    print(f"[bi] {message}", flush=True)


def superset_env() -> dict[str, str]:
    env = dict(os.environ)
    # The pipeline's venv must not leak into Superset's (make exports VIRTUAL_ENV etc.).
    for key in ("VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(key, None)
    env.update(
        {
            "LAKEHOUSE_DIR": str(lakehouse_dir()),
            "SUPERSET_CONFIG_PATH": str(BI_DIR / "superset_config.py"),
            "SUPERSET_HOME": str(state_dir()),
            "FLASK_APP": "superset.app:create_app()",
            "PYTHONPATH": str(REPO),
            "PATH": f"{venv_dir() / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    return env


def _run(
    args: list[str],
    log: Path,
    what: str,
    env: dict[str, str] | None = None,
    progress: Callable[[Path, int], str] | None = None,
) -> None:
    """Run a step, appending its output to ``log``; on failure show the end of the log.

    Every PROGRESS_SECONDS a line says the step is still running, how long so far and, with
    ``progress`` (which reads the log from the step's first line), how far it is. Interrupted
    (Ctrl-C, SIGTERM), the step's process is stopped before this returns, so nothing keeps
    installing in the background.
    """
    started = time.monotonic()
    offset = log.stat().st_size if log.exists() else 0
    with log.open("a") as handle:
        handle.write(f"\n$ {' '.join(args)}\n")
        handle.flush()
        process = subprocess.Popen(
            args, stdout=handle, stderr=subprocess.STDOUT, env=env or superset_env(), cwd=REPO
        )
        try:
            while True:
                try:
                    returncode = process.wait(timeout=PROGRESS_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    detail = progress(log, offset) if progress else f"output in {log}"
                    _log(f"{what}: {time.monotonic() - started:.0f} s so far; {detail}")
        except BaseException:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            _log(f"{what}: stopped after {time.monotonic() - started:.0f} s (interrupted)")
            raise
    if returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise BIError(f"{what} failed (exit {returncode}); log {log}:\n{tail}")
    _log(f"{what}: {time.monotonic() - started:.1f} s")


def pip_progress(log: Path, offset: int, total: int) -> str:
    """How far ``pip install`` is, read from its log after ``offset``: packages of ``total``.

    pip prints ``Collecting X`` per requirement it resolves (``total`` is the number of pins in
    the constraints file, every package the environment ends up with), then one ``Installing
    collected packages`` line before it unpacks them all.
    """
    with log.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode("utf-8", "replace")
    if "Installing collected packages" in text:
        return f"resolved and downloaded all {total} packages, now installing them"
    collected = text.count("\nCollecting ")
    return f"resolved {min(collected, total)} of {total} packages (downloading as it goes)"


# --- the virtual environment -------------------------------------------------------------


def _requirements_digest() -> str:
    digest = hashlib.sha256()
    for path in (REQUIREMENTS, CONSTRAINTS):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_venv() -> Path:
    """Create ``.venv-superset`` and install ``bi/requirements.txt`` unless already done.

    Serialised with a lock file next to it: two set-ups at once (a test and `make bi`) share
    one virtualenv.
    """
    venv = venv_dir()
    lock_path = venv.with_name(venv.name + ".lock")
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install(venv)


def _install(venv: Path) -> Path:
    stamp = venv / ".bi-requirements.sha256"
    digest = _requirements_digest()
    if stamp.exists() and stamp.read_text().strip() == digest and (venv / "bin/superset").exists():
        return venv
    log = state_dir() / "install.log"
    if not (venv / "bin" / "python").exists():
        _log(f"creating {venv}")
        _run([sys.executable, "-m", "venv", str(venv)], log, "create virtualenv", dict(os.environ))
    total = sum(1 for line in CONSTRAINTS.read_text().splitlines() if "==" in line)
    _log(f"installing Superset and the DuckDB driver into it: {total} packages, {INSTALL_ESTIMATE}")
    _run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--progress-bar",
            "off",
            "--disable-pip-version-check",
            "-r",
            str(REQUIREMENTS),
            "-c",
            str(CONSTRAINTS),
        ],
        log,
        "pip install",
        dict(os.environ),
        progress=lambda log, offset: pip_progress(log, offset, total),
    )
    stamp.write_text(digest + "\n")
    return venv


def ensure_chromedriver() -> str:
    """Debian's chromedriver (package chromium-driver), installed with apt-get if missing."""
    if Path(CHROMEDRIVER).exists():
        return CHROMEDRIVER
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends"]
    _log("installing Debian package chromium-driver (chromedriver for the screenshots)")
    packages = ["chromium-driver"] + ([] if shutil.which("chromium") else ["chromium"])
    if subprocess.run([*install, *packages], env=env).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run([*install, *packages], env=env, check=True)
    if not Path(CHROMEDRIVER).exists():
        raise BIError(f"{CHROMEDRIVER} is still missing after installing chromium-driver")
    return CHROMEDRIVER


# --- set-up --------------------------------------------------------------------------------


def export_file(lakehouse: Path, group: str) -> Path:
    """The DuckDB file publishing writes for ``group`` (as ``LakehouseSettings.duckdb_export``)."""
    return lakehouse / "exports" / f"{group}.duckdb"


def missing_exports() -> list[Path]:
    exports = [export_file(lakehouse_dir(), group) for group in ROLE_GROUPS]
    return [path for path in exports if not path.exists()]


def prepare() -> Path:
    """Everything that does not need the exports: the venv, the metadata DB, Superset's roles.

    ``superset db upgrade`` and ``superset init`` run again only when the installed packages
    changed (a stamp in the state folder), since each loads the whole app (~7-20 s).
    """
    venv = ensure_venv()
    stamp = state_dir() / ".initialized"
    digest = _requirements_digest()
    if (
        stamp.exists()
        and stamp.read_text().strip() == digest
        and (state_dir() / "superset.db").exists()
    ):
        return venv
    log = state_dir() / "setup.log"
    superset = str(venv / "bin" / "superset")
    _run([superset, "db", "upgrade"], log, "superset db upgrade")
    _run([superset, "init"], log, "superset init")
    stamp.write_text(digest + "\n")
    return venv


def setup() -> dict:
    """Install (if needed) and provision Superset; returns the provisioning summary."""
    missing = missing_exports()
    if missing:
        raise BIError(
            "no published export for "
            + ", ".join(p.stem for p in missing)
            + f" under {lakehouse_dir() / 'exports'}: run `make demo` (or `customer-overview "
            "demo`) with the same LAKEHOUSE_DIR first"
        )
    started = time.monotonic()
    venv = prepare()
    log = state_dir() / "setup.log"
    summary_path = state_dir() / "provision.json"
    _run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "bi.provision",
            "--lakehouse-dir",
            str(lakehouse_dir()),
            "--summary",
            str(summary_path),
        ],
        log,
        "users, roles, databases and dashboards",
    )
    summary = json.loads(summary_path.read_text())
    _log(f"set-up done in {time.monotonic() - started:.1f} s")
    return summary


# --- the server ----------------------------------------------------------------------------


def _server_file() -> Path:
    return state_dir() / "server.json"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=3) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def running_server() -> dict | None:
    """``{"pid", "port", "url"}`` of the Superset this LAKEHOUSE_DIR started, if it runs."""
    path = _server_file()
    if not path.exists():
        return None
    server = json.loads(path.read_text())
    if is_alive(server["pid"]):
        return server
    path.unlink()
    return None


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def serve(port: int | None = None, timeout: float = 180) -> dict:
    """Start Superset in the background on 127.0.0.1 (or return the one already running)."""
    server = running_server()
    if server:
        _log(f"Superset already running (pid {server['pid']}) on {server['url']}")
        return server
    venv = ensure_venv()
    wanted = port or int(os.environ.get("BI_PORT") or DEFAULT_PORT)
    if not _port_free(wanted):
        chosen = free_port()
        _log(f"port {wanted} is taken; using {chosen}")
        wanted = chosen
    url = f"http://127.0.0.1:{wanted}"
    log = state_dir() / "superset.log"
    process = start_group(
        [
            str(venv / "bin" / "gunicorn"),
            "--bind",
            f"127.0.0.1:{wanted}",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            "8",
            "--timeout",
            "120",
            "--graceful-timeout",
            "10",
            "--access-logfile",
            "-",
            "--error-logfile",
            "-",
            "superset.app:create_app()",
        ],
        log,
        superset_env(),
        cwd=REPO,  # its own process group: `stop` ends gunicorn's master and workers
    )
    server = {"pid": process.pid, "port": wanted, "url": url}
    _server_file().write_text(json.dumps(server))
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            _server_file().unlink(missing_ok=True)
            tail = "\n".join(log.read_text().splitlines()[-30:])
            raise BIError(f"Superset exited with {process.returncode}; log {log}:\n{tail}")
        if _healthy(url):
            _log(f"Superset is up on {url} after {time.monotonic() - started:.1f} s")
            return server
        time.sleep(1)
    stop()
    raise BIError(f"Superset did not answer on {url}/health within {timeout:.0f} s; log {log}")


def stop() -> bool:
    """Stop the Superset started by ``serve`` for this LAKEHOUSE_DIR (its process group)."""
    server = running_server()
    if not server:
        _log("Superset is not running")
        return False
    pid = server["pid"]
    stop_group(pid, grace_seconds=20)
    _server_file().unlink(missing_ok=True)
    _log(f"stopped Superset (pid {pid})")
    return True


def print_logins(url: str, created: list[str] | None = None) -> None:
    logins_path = state_dir() / "logins.json"
    logins = json.loads(logins_path.read_text()) if logins_path.exists() else {}
    print()
    print(f"Superset: {url}/login/")
    for username, login in logins.items():
        roles = ", ".join(login["roles"])
        if created is not None and username in created:
            print(f"  user {username:<13} password {login['password']}  (roles: {roles})")
        else:
            print(f"  user {username:<13} (roles: {roles})")
    if created is None or set(logins) - set(created):
        print(f"  passwords: {logins_path} (mode 0600; shown only when generated)")
    print("  each role group's user sees only its own three dashboards; admin sees all nine")
    print()


# --- screenshots and checks ----------------------------------------------------------------


def screenshots(out: Path | None = None, report: Path | None = None) -> dict:
    """Render every group's dashboards as its user, save PNGs and check every chart."""
    ensure_chromedriver()
    out = out or lakehouse_dir() / "reports" / "dashboards"
    report = report or out / "report.json"
    server = running_server()
    started_here = server is None
    if started_here:
        server = serve()
    try:
        venv = venv_dir()
        args = [
            str(venv / "bin" / "python"),
            "-m",
            "bi.dashboard_checks",
            "--url",
            server["url"],
            "--lakehouse-dir",
            str(lakehouse_dir()),
            "--out",
            str(out),
            "--report",
            str(report),
        ]
        report.unlink(missing_ok=True)
        result = subprocess.run(args, env=superset_env(), cwd=REPO)
        if result.returncode not in (0, 1) or not report.exists():
            raise BIError(f"dashboard checks crashed (exit {result.returncode}), no report")
        data = json.loads(report.read_text())
        _log(f"screenshots in {out}; report {report}; problems: {len(data['problems'])}")
        for problem in data["problems"]:
            _log(f"  PROBLEM {problem}")
        return data
    finally:
        if started_here:
            stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bi.superset", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "prepare", help="only what needs no exports: virtualenv, metadata DB, `superset init`"
    )
    commands.add_parser("setup", help="install (if needed) and provision Superset")
    for name in ("serve", "up"):
        command = commands.add_parser(name, help="start Superset in the background")
        command.add_argument("--port", type=int, help=f"default $BI_PORT or {DEFAULT_PORT}")
    commands.add_parser("stop", help="stop the Superset started by serve/up")
    commands.add_parser("status", help="is it running, where")
    shots = commands.add_parser("screenshots", help="render and check every dashboard")
    shots.add_argument("--out", type=Path, help="default $LAKEHOUSE_DIR/reports/dashboards")
    shots.add_argument("--report", type=Path, help="JSON report (default OUT/report.json)")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C: the running step's process is stopped with it (_run).
    signal.signal(signal.SIGTERM, _terminate)
    try:
        if args.command == "prepare":
            prepare()
        elif args.command == "setup":
            summary = setup()
            server = running_server()
            print_logins(server["url"] if server else "(not running)", summary["created_logins"])
        elif args.command in ("serve", "up"):
            created = None
            if args.command == "up":
                created = setup()["created_logins"]
                try:  # for `screenshots` later; serving does not need it
                    ensure_chromedriver()
                except (BIError, subprocess.CalledProcessError, OSError) as exc:
                    _log(f"warning: chromedriver not installed ({exc}); screenshots need it")
            server = serve(args.port)
            print_logins(server["url"], created)
            print(
                f"Stop it with `make bi-stop` (or python -m bi.superset stop); log: "
                f"{state_dir() / 'superset.log'}"
            )
        elif args.command == "stop":
            stop()
        elif args.command == "status":
            server = running_server()
            print(json.dumps(server or {"running": False}))
            return 0 if server else 3
        elif args.command == "screenshots":
            data = screenshots(args.out, args.report)
            return 1 if data["problems"] else 0
    except BIError as exc:
        print(f"[bi] ERROR: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("[bi] interrupted; run the same command again to go on", file=sys.stderr)
        return 130
    return 0


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
