"""The installed wheel is the product: outside the checkout, ``customer-overview demo`` publishes.

The wheel is built from this checkout and installed without dependencies into a folder of its
own. It then runs with this environment's libraries, from an empty working folder, with nothing
of the checkout on ``sys.path``. So the manifest, schemas, rules, policies and report assets
must come from the wheel itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the installed packages of the wheel built from this checkout."""
    wheels = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("customer_overview-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for data_file in (
        "customer_overview/dataproduct.yaml",
        "customer_overview/profiles.yaml",
        "customer_overview/schemas/customers.yaml",
        "quality/rules/customers.yaml",
        "marts/rules.yaml",
        "policies/pii_hash_restricted.yaml",
    ):
        assert data_file in names, f"{data_file} is not in the wheel"
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return target


def _run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # -P: the working folder is not put on sys.path; PYTHONPATH names only the installed wheel,
    # ahead of this environment's site-packages (which map the checkout, editable).
    env = {**os.environ, "PYTHONPATH": str(site), "LAKEHOUSE_DIR": str(cwd / "lakehouse")}
    env.pop("DATAPRODUCT_MANIFEST", None)
    return subprocess.run(
        [sys.executable, "-P", "-m", "operations.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )


def test_the_installed_package_reads_its_own_files(installed, tmp_path):
    probe = subprocess.run(
        [
            sys.executable,
            "-P",
            "-c",
            "import customer_overview.product as p; print(p.manifest_path())",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(probe.stdout.strip()).is_relative_to(installed)


def test_demo_in_an_empty_folder_publishes_the_product(installed, tmp_path):
    result = _run_installed(installed, tmp_path, "demo", "--customers", "300", "--months", "1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "1.0.0+1" in result.stdout, result.stdout[-3000:]
    shown = _run_installed(installed, tmp_path, "versions")
    assert shown.returncode == 0 and "1.0.0+1" in shown.stdout, shown.stdout + shown.stderr
