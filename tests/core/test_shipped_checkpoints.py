"""The committed small models must be what their recipe trains.

Why: a training checkpoint stores the full resolved config it was trained with. If someone edits
``configs/<tracker>/tiny.yaml`` (epochs, augmentation, labels, ...) without retraining, the README's
"``python ltr/run_training.py <tracker> tiny`` reproduces the committed model" stops being true
silently — this happened once. The test loads the checkpoint's stored config through the same
typed schema as the YAML (so keys added to the schema later get their defaults on both sides) and
compares the ``model`` and ``train`` sections field by field.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from ltr.admin.checkpoint import load_checkpoint
from ltr.admin.config import config_from_dict, config_to_dict
from ltr.admin.experiment import load_tracker_config
from ltr.admin.registry import TRACKERS

REPO = Path(__file__).resolve().parents[2]


def _shipped() -> List[Tuple[str, str]]:
    out = []
    for ckpt in sorted((REPO / "checkpoints").glob("*/*.pth")):
        tracker, name = ckpt.parent.name, ckpt.stem
        if (REPO / "configs" / tracker / f"{name}.yaml").is_file():
            out.append((tracker, name))
    return out


def _leaves(d: Any, prefix: str = "") -> Iterator[Tuple[str, Any]]:
    if isinstance(d, dict):
        for k, v in d.items():
            yield from _leaves(v, f"{prefix}.{k}" if prefix else str(k))
    else:
        yield prefix, d


def test_some_checkpoints_are_shipped() -> None:
    assert ("siamcar", "tiny") in _shipped() and ("ocean", "tiny") in _shipped()


@pytest.mark.parametrize("tracker,name", _shipped())
def test_committed_checkpoint_matches_its_recipe(tracker: str, name: str) -> None:
    import tracking.tracker  # noqa: F401  (registers the trackers)

    cfg, _ = load_tracker_config(tracker, name)
    state = load_checkpoint(REPO / "checkpoints" / tracker / f"{name}.pth")
    assert state.get("tracker") == tracker, f"checkpoints/{tracker}/{name}.pth was trained for {state.get('tracker')!r}"
    stored: Dict[str, Any] = dict(state["config"])
    stored.pop("weights", None)
    trained = config_from_dict(TRACKERS.meta(tracker)["config"], stored, source=f"checkpoints/{tracker}/{name}.pth")
    want, got = config_to_dict(cfg), config_to_dict(trained)
    diffs = []
    for section in ("model", "train"):
        a, b = dict(_leaves(want[section])), dict(_leaves(got[section]))
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                diffs.append(f"{section}.{key}: yaml {a.get(key)!r} vs checkpoint {b.get(key)!r}")
    assert not diffs, (f"configs/{tracker}/{name}.yaml no longer describes checkpoints/{tracker}/{name}.pth "
                       f"(retrain and export, or restore the recipe):\n  " + "\n  ".join(diffs))
