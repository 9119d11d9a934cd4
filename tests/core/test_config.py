"""Typed YAML configs: strict keys/types, suggestions, inheritance, --set overrides."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Literal, Optional, Tuple

import pytest

from ltr.admin.config import ConfigError, config_from_dict, config_to_dict, load_config


@dataclass
class Track:
    lr: float = 0.35
    penalty_k: float = 0.04
    window_lr: float = 0.4
    window_influence: float = 0.42
    score_size: int = 25
    variant: Literal["paper", "jan2020", "head"] = "head"


@dataclass
class Optim:
    lr: float
    momentum: float = 0.9
    groups: Dict[str, float] = field(default_factory=dict)


@dataclass
class Train:
    optim: Optim
    epochs: int = 20
    datasets: List[str] = field(default_factory=lambda: ["got10k"])
    sizes: Tuple[int, int] = (127, 255)


@dataclass
class Root:
    train: Train
    track: Track = field(default_factory=Track)
    weights: Optional[str] = None
    description: str = ""


def write(p: Path, text: str) -> Path:
    p.write_text(text)
    return p


@pytest.fixture
def cfgdir(tmp_path: Path) -> Path:
    write(tmp_path / "default.yaml", "train:\n  optim: {lr: 0.01}\n  epochs: 20\ntrack:\n  lr: 0.35\n  penalty_k: 0.04\n")
    write(tmp_path / "otb.yaml", "extends: default.yaml\ntrack:\n  lr: 0.33\n  penalty_k: 0.08\n  window_lr: 0.3\n")
    return tmp_path


def test_basic_load_and_types(cfgdir):
    cfg = load_config(Root, cfgdir / "default.yaml")
    assert isinstance(cfg.train.optim.lr, float) and cfg.train.optim.lr == 0.01
    assert cfg.train.sizes == (127, 255) and cfg.track.variant == "head"


def test_extends_overrides_only_given_keys(cfgdir):
    base = load_config(Root, cfgdir / "default.yaml")
    otb = load_config(Root, cfgdir / "otb.yaml")
    assert (otb.track.lr, otb.track.penalty_k, otb.track.window_lr) == (0.33, 0.08, 0.3)
    # everything else inherited unchanged
    assert otb.train == base.train
    assert otb.track.window_influence == base.track.window_influence


def test_misspelt_key_names_file_keypath_and_suggestion(cfgdir):
    bad = write(cfgdir / "bad.yaml", "extends: default.yaml\ntrack:\n  penalty_kk: 0.1\n")
    with pytest.raises(ConfigError) as ei:
        load_config(Root, bad)
    msg = str(ei.value)
    assert str(bad.resolve()) in msg
    assert "track.penalty_kk" in msg
    assert "Did you mean 'penalty_k'" in msg


def test_error_in_parent_file_names_the_parent(cfgdir):
    write(cfgdir / "parent.yaml", "train:\n  optim: {lr: 0.01, momentun: 0.8}\n")
    child = write(cfgdir / "child.yaml", "extends: parent.yaml\ntrack: {lr: 0.2}\n")
    with pytest.raises(ConfigError) as ei:
        load_config(Root, child)
    assert "parent.yaml" in str(ei.value) and "train.optim.momentun" in str(ei.value)
    assert "momentum" in str(ei.value)


def test_wrong_type(cfgdir):
    bad = write(cfgdir / "t.yaml", "extends: default.yaml\ntrain: {epochs: twenty}\n")
    with pytest.raises(ConfigError, match=r"train\.epochs: expected an integer"):
        load_config(Root, bad)
    bad2 = write(cfgdir / "t2.yaml", "extends: default.yaml\ntrack: {variant: heads}\n")
    with pytest.raises(ConfigError, match="Did you mean 'head'"):
        load_config(Root, bad2)
    bad3 = write(cfgdir / "t3.yaml", "extends: default.yaml\ntrain: {sizes: [127]}\n")
    with pytest.raises(ConfigError, match="expected 2 values"):
        load_config(Root, bad3)
    # bool is not an int, int is accepted for float
    bad4 = write(cfgdir / "t4.yaml", "extends: default.yaml\ntrain: {epochs: true}\n")
    with pytest.raises(ConfigError):
        load_config(Root, bad4)
    ok = write(cfgdir / "t5.yaml", "extends: default.yaml\ntrack: {lr: 1}\n")
    assert load_config(Root, ok).track.lr == 1.0


def test_missing_required(tmp_path):
    f = write(tmp_path / "m.yaml", "track: {lr: 0.3}\n")
    with pytest.raises(ConfigError, match=r"missing required value 'train'"):
        load_config(Root, f)
    f2 = write(tmp_path / "m2.yaml", "train: {epochs: 3}\n")
    with pytest.raises(ConfigError, match=r"missing required value 'train.optim'"):
        load_config(Root, f2)


def test_set_overrides(cfgdir):
    cfg = load_config(Root, cfgdir / "otb.yaml", ["track.window_influence=0.4", "train.datasets=[lasot, coco]",
                                                  "train.optim.groups.backbone=0.1", "weights=/tmp/x.pth"])
    assert cfg.track.window_influence == 0.4
    assert cfg.train.datasets == ["lasot", "coco"]
    assert cfg.train.optim.groups == {"backbone": 0.1}
    assert cfg.weights == "/tmp/x.pth"
    assert cfg.track.lr == 0.33  # untouched values keep the file's


def test_set_unknown_key_is_an_error(cfgdir):
    with pytest.raises(ConfigError) as ei:
        load_config(Root, cfgdir / "default.yaml", ["track.window_influense=0.4"])
    assert "--set track.window_influense=0.4" in str(ei.value)
    assert "window_influence" in str(ei.value)


def test_circular_extends(tmp_path):
    write(tmp_path / "a.yaml", "extends: b.yaml\n")
    write(tmp_path / "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ConfigError, match="circular"):
        load_config(Root, tmp_path / "a.yaml")


def test_roundtrip_through_plain_dict(cfgdir):
    cfg = load_config(Root, cfgdir / "otb.yaml")
    d = config_to_dict(cfg)
    import json
    again = config_from_dict(Root, json.loads(json.dumps(d)))
    assert again == cfg


def test_repo_configs_all_load():
    """Every YAML shipped in configs/ loads into its tracker's schema."""
    from ltr.admin.config import config_dir, list_configs
    from ltr.admin.experiment import load_tracker_config
    from ltr.admin.registry import TRACKERS

    n = 0
    for tracker in TRACKERS.names():
        for name in list_configs(tracker):
            load_tracker_config(tracker, name)
            n += 1
    # every configs/<dir> belongs to a registered tracker
    for d in config_dir().iterdir():
        if d.is_dir():
            assert d.name in TRACKERS.names(), f"configs/{d.name} has no registered tracker"
