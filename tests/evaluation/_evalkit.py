"""Test kit for the evaluation tests: tiny GOT-10k-layout sequences with a known
trajectory, a dataset reader for them, and test trackers (slow / failing).

It is imported by the tests and, as a script, runs the real CLIs in a subprocess
with its test trackers and the ``evalkit`` dataset registered
(``python _evalkit.py track ARGS...`` / ``python _evalkit.py analyze ARGS...``).
Registration happens only in :func:`register` so that importing this module in the
pytest process leaves the global registries untouched.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tracking.evaluation.data import Sequence, SequenceList  # noqa: E402
from tracking.tracker.ncc import NCCConfig, NCCTracker  # noqa: E402

ENV_DIR = "SOTLAB_EVALKIT_DIR"
#: test trackers reuse the NCC YAML (given as a path: they have no configs/<name>/ folder)
NCC_YAML = str(REPO / "configs" / "ncc" / "default.yaml")
ENV_SLEEP = "SOTLAB_EVALKIT_SLEEP"


def smooth_texture(rng: np.random.Generator, h: int, w: int, sigma: float = 1.5) -> np.ndarray:
    """Random RGB texture with spatial correlation (white noise is a poor stand-in for images)."""
    a = rng.random((h, w, 3)).astype(np.float32)
    a = cv2.GaussianBlur(a, (0, 0), sigma)
    a = (a - a.min()) / max(float(a.max() - a.min()), 1e-6)
    return (a * 255).astype(np.uint8)


def textured(rng: np.random.Generator, h: int, w: int, sigma: float) -> np.ndarray:
    return smooth_texture(rng, h, w, sigma)


def iou_xywh(a, b) -> float:
    """Continuous IoU of two xywh boxes, written out independently of the metrics module."""
    ax0, ay0, aw, ah = [float(v) for v in a]
    bx0, by0, bw, bh = [float(v) for v in b]
    iw = max(0.0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    ih = max(0.0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def make_sequence_frames(seed: int, n_frames: int = 12, size: Tuple[int, int] = (96, 72),
                         obj: Tuple[int, int] = (20, 16), step: Tuple[int, int] = (2, 1)) -> Tuple[List[np.ndarray], np.ndarray]:
    """Frames (RGB uint8) of a textured object moving on a textured background, and its xywh boxes."""
    rng = np.random.default_rng(seed)
    w_img, h_img = size
    bg = smooth_texture(rng, h_img, w_img, 2.0)
    ob = smooth_texture(rng, obj[1], obj[0], 1.0)
    x0 = int(rng.integers(4, w_img - obj[0] - step[0] * n_frames - 4))
    y0 = int(rng.integers(4, h_img - obj[1] - step[1] * n_frames - 4))
    frames, boxes = [], []
    for k in range(n_frames):
        x, y = x0 + step[0] * k, y0 + step[1] * k
        f = bg.copy()
        f[y:y + obj[1], x:x + obj[0]] = ob
        frames.append(f)
        boxes.append([x, y, obj[0], obj[1]])
    return frames, np.asarray(boxes, dtype=np.float64)


def write_got10k_tree(root: Path, names: List[str], n_frames: int = 12, split: str = "val",
                      lengths: Optional[Dict[str, int]] = None,
                      sizes: Optional[Dict[str, Tuple[int, int]]] = None) -> Path:
    """GOT-10k layout incl. meta_info.ini and the .label files (readable by the got10k toolkit)."""
    d = Path(root) / split
    d.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        n = (lengths or {}).get(name, n_frames)
        frames, boxes = make_sequence_frames(1000 + k, n, size=(sizes or {}).get(name, (96, 72)))
        sd = d / name
        sd.mkdir(exist_ok=True)
        for i, f in enumerate(frames):
            cv2.imwrite(str(sd / f"{i + 1:08d}.jpg"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        np.savetxt(sd / "groundtruth.txt", boxes, fmt="%.4f", delimiter=",")
        (sd / "absence.label").write_text("0\n" * n)
        (sd / "cover.label").write_text("8\n" * n)
        (sd / "cut_by_image.label").write_text("0\n" * n)
        h, w = frames[0].shape[:2]
        (sd / "meta_info.ini").write_text(
            f"[METAINFO]\nurl: none\nbegin_time: 0\nend_time: 0\nmajor_class: test\nroot_class: test\n"
            f"motion_class: test\nobject_class: {'big' if k % 2 else 'small'}\nresolution: ({w}, {h})\n")
    (d / "list.txt").write_text("".join(f"{n}\n" for n in names))
    return d


def load_got10k_tree(split_dir: Path, dataset: str = "evalkit") -> SequenceList:
    """Minimal reader of the tree above (the real loaders live in tracking/evaluation/datasets)."""
    split_dir = Path(split_dir)
    seqs = SequenceList()
    for k, name in enumerate((split_dir / "list.txt").read_text().split()):
        sd = split_dir / name
        gt = np.loadtxt(sd / "groundtruth.txt", delimiter=",", ndmin=2)
        frames = sorted(str(p) for p in sd.glob("*.jpg"))
        seqs.append(Sequence(name, frames, gt, dataset, attributes={"odd": bool(k % 2), "even": not (k % 2)}))
    return seqs


class SlowNCC(NCCTracker):
    """NCC that sleeps per frame, so a run can be killed midway reliably."""

    def track(self, image):
        time.sleep(float(os.environ.get(ENV_SLEEP, "0.02")))
        return super().track(image)


class NaNTracker(NCCTracker):
    """Returns NaN boxes on every 3rd frame (output validation test)."""

    def initialize(self, image, box):
        self._n = 0
        return super().initialize(image, box)

    def track(self, image):
        self._n += 1
        out = super().track(image)
        if self._n % 3 == 0:
            out["box"] = np.array([np.nan, 1.0, 2.0, 3.0])
        return out


BAD_WIDTH = 97


class FailOnBad(NCCTracker):
    """Fails on the 3rd tracked frame of any sequence whose frames are BAD_WIDTH pixels wide."""

    def initialize(self, image, box):
        self._n = 0
        self._bad = np.asarray(image).shape[1] == BAD_WIDTH
        return super().initialize(image, box)

    def track(self, image):
        self._n += 1
        if self._bad and self._n == 3:
            raise RuntimeError("evalkit: deliberate failure")
        return super().track(image)


ENV_BUILD_LOG = "SOTLAB_EVALKIT_BUILD_LOG"


class CountingNCC(NCCTracker):
    """Logs every build_network call (pid) to $SOTLAB_EVALKIT_BUILD_LOG and checks it gets that network."""

    uses_network = False

    @classmethod
    def build_network(cls, cfg, device="cpu"):
        with open(os.environ[ENV_BUILD_LOG], "a") as f:
            f.write(f"{os.getpid()} {device}\n")
        return ("net-of", os.getpid())

    def __init__(self, cfg, net=None, device="cpu"):
        assert net == ("net-of", os.getpid()), net
        super().__init__(cfg, net, device)


_REGISTERED = ["evalkit_slow", "evalkit_fail", "evalkit_nan"]


def register() -> None:
    """Register the test trackers and the ``evalkit`` dataset (reads $SOTLAB_EVALKIT_DIR/val)."""
    from ltr.admin.registry import EVAL_DATASETS, TRACKERS

    TRACKERS.register("evalkit_slow", config=NCCConfig, override=True)(SlowNCC)
    TRACKERS.register("evalkit_fail", config=NCCConfig, override=True)(FailOnBad)
    TRACKERS.register("evalkit_nan", config=NCCConfig, override=True)(NaNTracker)

    def evalkit(**kw) -> SequenceList:
        return load_got10k_tree(Path(os.environ[ENV_DIR]) / "val", "evalkit")

    EVAL_DATASETS.register("evalkit", override=True, results_format="got10k")(evalkit)


def unregister() -> None:
    from ltr.admin.registry import EVAL_DATASETS, TRACKERS

    for n in _REGISTERED:
        TRACKERS._entries.pop(n, None)
    EVAL_DATASETS._entries.pop("evalkit", None)


if __name__ == "__main__":
    # The CLI runs for real, but plugin auto-discovery (which imports every model and torch) is
    # skipped: everything this process needs is registered explicitly, and start-up stays ~1 s.
    import ltr.admin.registry as _registry

    _registry._discovered = True
    register()
    cmd, rest = sys.argv[1], sys.argv[2:]
    if cmd == "track":
        from tracking.run_tracker import main as track_main

        sys.exit(track_main(rest))
    if cmd == "analyze":
        from tracking.analyze import main as analyze_main

        sys.exit(analyze_main(rest))
    raise SystemExit(f"unknown command {cmd}")
