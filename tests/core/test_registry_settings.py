from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ltr.admin.registry import Registry, RegistryError
from ltr.admin.settings import SettingsError, get_settings, write_template

REPO = Path(__file__).resolve().parents[2]


def test_registry_lookup_and_suggestion():
    reg: Registry = Registry("widget")

    @reg.register("siamcar", config=int)
    class A:
        pass

    assert reg.get("siamcar") is A and reg.meta("siamcar") == {"config": int}
    with pytest.raises(RegistryError) as ei:
        reg.get("siamcr")
    assert "Did you mean 'siamcar'" in str(ei.value)
    with pytest.raises(ValueError):
        @reg.register("siamcar")
        class B:  # noqa: F811 - a different class under a taken name
            pass


def test_settings_env_overrides_and_errors(tmp_path, monkeypatch):
    sfile = tmp_path / "settings.yaml"
    monkeypatch.setenv("SOTLAB_SETTINGS", str(sfile))
    monkeypatch.delenv("SOTLAB_WORKSPACE", raising=False)
    monkeypatch.delenv("SOTLAB_GOT10K_DIR", raising=False)
    with pytest.raises(SettingsError) as ei:
        get_settings().dataset_dir("got10k")
    msg = str(ei.value)
    assert "datasets.got10k" in msg and "SOTLAB_GOT10K_DIR" in msg and "list.txt" in msg

    write_template(sfile)
    text = sfile.read_text()
    assert "SOTLAB_LASOT_DIR" in text and "workspace:" in text
    with pytest.raises(SettingsError):
        write_template(sfile)  # never overwrites
    sfile.write_text(f"workspace: {tmp_path/'ws'}\ndatasets:\n  otb: {tmp_path/'nope'}\n")
    s = get_settings()
    assert s.workspace == tmp_path / "ws"
    with pytest.raises(SettingsError, match="does not exist"):
        s.dataset_dir("otb")
    (tmp_path / "otb_env").mkdir()
    monkeypatch.setenv("SOTLAB_OTB_DIR", str(tmp_path / "otb_env"))
    monkeypatch.setenv("SOTLAB_WORKSPACE", str(tmp_path / "ws2"))
    s = get_settings()
    assert s.dataset_dir("otb") == tmp_path / "otb_env" and s.workspace == tmp_path / "ws2"
    sfile.write_text("workspcae: /x\n")
    with pytest.raises(SettingsError, match="unknown key"):
        get_settings()


def test_sotlab_settings_cli(tmp_path):
    env = dict(os.environ, SOTLAB_SETTINGS=str(tmp_path / "s.yaml"))
    r = subprocess.run([sys.executable, "-m", "ltr.admin.cli", "settings", "init"], env=env,
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "s.yaml").is_file()
    r = subprocess.run([sys.executable, "-m", "ltr.admin.cli", "settings", "show"], env=env,
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0 and "workspace" in r.stdout


def test_weights_spec_pretrained_name_resolves_through_settings(tmp_path, monkeypatch):
    """``pretrained:<name>`` (the trunk entries of the siamcar/ocean configs) maps to the settings' file."""
    from ltr.admin.checkpoint import resolve_weights_path

    f = tmp_path / "resnet50.model"
    f.write_bytes(b"x")
    monkeypatch.setenv("SOTLAB_PRETRAINED_PYSOT_RESNET50", str(f))
    assert resolve_weights_path("pretrained:pysot_resnet50") == f
    monkeypatch.delenv("SOTLAB_PRETRAINED_PYSOT_RESNET50")
    monkeypatch.setenv("SOTLAB_SETTINGS", str(tmp_path / "none.yaml"))
    with pytest.raises(SettingsError, match="SOTLAB_PRETRAINED_NOPE"):
        resolve_weights_path("pretrained:nope")
