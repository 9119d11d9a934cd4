"""``scripts/setup_env.sh`` refuses to start a torch install it cannot finish (CI once died on pip's ENOSPC)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("df") is None, reason="needs bash and df")
def test_setup_stops_before_pip_when_the_disk_is_too_small(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    free_kb = shutil.disk_usage(tmp_path).free // 1024
    env = dict(os.environ, SOTLAB_VENV=str(venv), PYTHON=sys.executable,
               SOTLAB_VENV_NEED_KB=str(free_kb + 10 * 1024 * 1024))  # 10 GB more than there is
    r = subprocess.run(["bash", str(ROOT / "scripts" / "setup_env.sh"), "test"], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert str(venv) in r.stderr and "SOTLAB_VENV" in r.stderr
    # the message reports df's free space (MB), within what changed on the disk while the test ran
    mb = int(r.stderr.split("only ")[1].split(" MB")[0])
    assert abs(mb - free_kb // 1024) < 2048
    # nothing was installed and the install stamp was not written
    assert not list(venv.glob(".sotlab-installed-*"))
    assert not list(venv.glob("lib/python*/site-packages/torch"))
