"""Local paths: dataset roots, workspace, pretrained weights.

One YAML settings file replaces pytracking's two ``local.py`` files.

Location (first that applies):
  1. ``$SOTLAB_SETTINGS`` (a file path);
  2. ``~/.config/sotlab/settings.yaml`` (``$XDG_CONFIG_HOME/sotlab/settings.yaml``).
A missing file is fine: every value has a default or comes from the environment.

Environment overrides (take precedence over the file):
  ``SOTLAB_WORKSPACE``              workspace (checkpoints, logs, results)
  ``SOTLAB_<NAME>_DIR``             dataset root, e.g. ``SOTLAB_GOT10K_DIR``
  ``SOTLAB_PRETRAINED_<NAME>``      pretrained weight file, e.g. ``SOTLAB_PRETRAINED_RESNET50``
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional

import yaml

__all__ = ["Settings", "SettingsError", "get_settings", "settings_path", "repo_root", "DATASET_LAYOUTS", "write_template"]


class SettingsError(FileNotFoundError):
    pass


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def settings_path() -> Path:
    env = os.environ.get("SOTLAB_SETTINGS")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sotlab" / "settings.yaml"


#: Short description of each dataset's expected on-disk layout, used in error messages and the template.
DATASET_LAYOUTS: Dict[str, str] = {
    "got10k": "<root>/{train,val,test}/list.txt and <root>/<split>/GOT-10k_*_NNNNNN/{00000001.jpg,groundtruth.txt,absence.label,cover.label,meta_info.ini}",
    "lasot": "<root>/<class>/<class>-<n>/{img/00000001.jpg,groundtruth.txt,full_occlusion.txt,out_of_view.txt,nlp.txt} (+ optional testing_set.txt)",
    "trackingnet": "<root>/TRAIN_<k>/{frames/<seq>/<i>.jpg,anno/<seq>.txt} and <root>/TEST/{frames,anno}",
    "otb": "<root>/<Seq>/{img/0001.jpg,groundtruth_rect.txt} (multi-target: groundtruth_rect.1.txt, .2.txt)",
    "uav": "<root>/{data_seq/UAV123/<seq>/000001.jpg,anno/UAV123/<seq>.txt} (UAV20L: anno/UAV20L/<seq>.txt)",
    "nfs": "<root>/<seq>/30/{<seq>/00001.jpg,<seq>.txt}",
    "vot2018": "<root>/{list.txt,<seq>/{color/00000001.jpg | 00000001.jpg},groundtruth.txt,*.tag|*.label}",
    "vot2019": "<root>/{list.txt,<seq>/{color/00000001.jpg | 00000001.jpg},groundtruth.txt,*.tag|*.label}",
    "coco": "<root>/{images/train2017/*.jpg | train2017/*.jpg}, <root>/annotations/instances_train2017.json",
    "imagenetvid": "<root>/{Data/VID/train/<snippet>/000000.JPEG,Annotations/VID/train/<snippet>/000000.xml}",
    "youtubebb": "<root>/{frames/<youtube_id>/<timestamp_ms>.jpg, yt_bb_detection_train.csv}",
    "synthetic": "generated on first use in GOT-10k layout under <workspace>/synthetic",
}


@dataclass
class Settings:
    """Resolved local settings; use :func:`get_settings`."""

    workspace: Path
    datasets: Dict[str, str] = field(default_factory=dict)
    pretrained: Dict[str, str] = field(default_factory=dict)
    source: Optional[Path] = None

    # ---- workspace sub-folders
    @property
    def checkpoints_dir(self) -> Path:
        return self.workspace / "checkpoints"

    @property
    def results_dir(self) -> Path:
        return self.workspace / "results"

    @property
    def logs_dir(self) -> Path:
        return self.workspace / "logs"

    @property
    def synthetic_dir(self) -> Path:
        env = os.environ.get("SOTLAB_SYNTHETIC_DIR")
        if env:
            return Path(env).expanduser()
        if "synthetic" in self.datasets:
            return Path(self.datasets["synthetic"]).expanduser()
        return self.workspace / "synthetic"

    def _where(self) -> str:
        return str(self.source) if self.source else f"{settings_path()} (not created yet; run `sotlab settings init`)"

    def dataset_dir(self, name: str, must_exist: bool = True) -> Path:
        """Root folder of dataset ``name``; raises a message naming the setting, the variable and the layout."""
        key = name.lower()
        env_name = f"SOTLAB_{key.upper()}_DIR"
        val = os.environ.get(env_name) or self.datasets.get(key)
        layout = DATASET_LAYOUTS.get(key, "see README 'Dataset layouts'")
        if not val:
            raise SettingsError(
                f"dataset '{key}' has no path: set 'datasets.{key}' in {self._where()} "
                f"or the environment variable {env_name}. Expected layout: {layout}"
            )
        p = Path(val).expanduser()
        if must_exist and not p.exists():
            src = f"environment variable {env_name}" if os.environ.get(env_name) else f"'datasets.{key}' in {self._where()}"
            raise SettingsError(
                f"dataset '{key}': path {p} (from {src}) does not exist. Expected layout: {layout}"
            )
        return p

    def pretrained_path(self, name: str) -> Path:
        env_name = f"SOTLAB_PRETRAINED_{name.upper()}"
        val = os.environ.get(env_name) or self.pretrained.get(name)
        if not val:
            raise SettingsError(
                f"pretrained weights '{name}' have no path: set 'pretrained.{name}' in {self._where()} "
                f"or the environment variable {env_name}"
            )
        p = Path(val).expanduser()
        if not p.is_file():
            raise SettingsError(f"pretrained weights '{name}': file {p} does not exist ({env_name} / 'pretrained.{name}')")
        return p


def get_settings() -> Settings:
    path = settings_path()
    data: Dict = {}
    source = None
    if path.is_file():
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise SettingsError(f"{path}: invalid YAML: {e}") from e
        if not isinstance(data, dict):
            raise SettingsError(f"{path}: top level must be a mapping")
        unknown = set(data) - {"workspace", "datasets", "pretrained"}
        if unknown:
            raise SettingsError(f"{path}: unknown key(s) {sorted(unknown)}; valid: workspace, datasets, pretrained")
        source = path
    ws = os.environ.get("SOTLAB_WORKSPACE") or data.get("workspace") or str(repo_root() / "workspace")
    datasets = {str(k).lower(): str(v) for k, v in (data.get("datasets") or {}).items() if v}
    pretrained = {str(k): str(v) for k, v in (data.get("pretrained") or {}).items() if v}
    return Settings(Path(ws).expanduser(), datasets, pretrained, source)


def write_template(path: Optional[Path] = None, force: bool = False) -> Path:
    """Write a commented settings template (never overwrites unless ``force``)."""
    path = Path(path) if path else settings_path()
    if path.exists() and not force:
        raise SettingsError(f"{path} already exists (use --force to overwrite)")
    lines = [
        "# SOTLab settings. Location: $SOTLAB_SETTINGS or ~/.config/sotlab/settings.yaml",
        "# Every value can be overridden by an environment variable (shown after each key).",
        "",
        "# Checkpoints, logs, results and the generated synthetic benchmark. ($SOTLAB_WORKSPACE)",
        f"workspace: {repo_root() / 'workspace'}",
        "",
        "datasets:",
    ]
    for k, layout in DATASET_LAYOUTS.items():
        lines.append(f"  # ${'SOTLAB_' + k.upper() + '_DIR'}; layout: {layout}")
        lines.append(f"  {k}:")
    lines += [
        "",
        "# Pretrained weights (local files; nothing is downloaded). ($SOTLAB_PRETRAINED_<NAME>)",
        "pretrained:",
        "  # torchvision ImageNet checkpoints, e.g. resnet50-0676ba61.pth",
        "  resnet18:",
        "  resnet50:",
        "  # pysot / TracKit atrous ResNet-50 (resnet50.model, ...)",
        "  pysot_resnet50:",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
