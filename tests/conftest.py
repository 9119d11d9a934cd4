"""Shared pytest fixtures: every test runs with a private workspace and no user settings file."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PARITY_DIR = REPO_ROOT.parent / "shared" / "parity"


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory, monkeypatch):
    """Keep tests away from the user's settings file and workspace."""
    ws = tmp_path_factory.getbasetemp() / "workspace"
    monkeypatch.setenv("SOTLAB_SETTINGS", str(tmp_path_factory.getbasetemp() / "no-settings.yaml"))
    if "SOTLAB_TEST_KEEP_WORKSPACE" not in os.environ:
        monkeypatch.setenv("SOTLAB_WORKSPACE", str(ws))
    yield
