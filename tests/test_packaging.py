"""`pip install .` gives a working CLI with the bundled rules inside the installed package."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    (path,) = out.glob("shadowbot-*.whl")
    return path


def test_the_wheel_carries_rules_templates_and_migrations(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "shadowbot/_bundled/rules/any_approval.py" in names
    assert any(n.startswith("shadowbot/_bundled/migrations/versions/") for n in names)
    assert "shadowbot/_bundled/migrations/env.py" in names
    assert "shadowbot/_bundled/templates/comments/combined.md.j2" in names
    assert not any(n.startswith("tests/") for n in names)


def test_the_installed_cli_works_outside_the_checkout(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(target),
        "SHADOWBOT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
    }
    run = subprocess.run(
        [sys.executable, "-m", "shadowbot", "rules"],
        cwd=tmp_path,  # not the checkout: only the installed package can answer
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "any-approval" in run.stdout and "docs-only" in run.stdout
    where = subprocess.run(
        [sys.executable, "-c", "import shadowbot.resources as r; print(r.bundled_path('rules'))"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.stdout.strip().startswith(str(target))
