"""Helpers for the VOT integration tests (toolkit location, tiny toy sequences)."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import List

import cv2
import numpy as np

from tracking.evaluation.data import Sequence

TESTS_VOT = Path(__file__).resolve().parent
REPO = TESTS_VOT.parents[1]
VOT_BIN = Path(sys.executable).parent / "vot"

#: where the toy target teleports in the "jump" sequence (the NCC search window cannot follow)
JUMP_FRAME = 12


def toolkit_available() -> bool:
    try:
        import trax  # noqa: F401  (vot-trax; the toolkit itself is only used through its CLI)
    except ImportError:
        return False
    return VOT_BIN.is_file() or shutil.which("vot") is not None


def vot_command() -> List[str]:
    return [str(VOT_BIN)] if VOT_BIN.is_file() else ["vot"]


def make_toy_sequence(root: Path, name: str, seed: int, n: int = 30, jump_at: int = -1) -> Sequence:
    """A textured 18x14 target gliding over a static textured 96x72 background.

    The ground truth is the painted box plus +-1.5 px annotation noise, so the toolkit's
    (pixel-rounded) overlaps of a good tracker are below 1 and vary; with ``jump_at`` the target
    teleports to the opposite corner at that frame (a guaranteed tracking failure).
    """
    rng = np.random.default_rng(seed)
    h, w, th, tw = 72, 96, 14, 18
    bg = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (7, 7), 0)
    target = rng.integers(0, 256, (th, tw, 3), dtype=np.uint8)
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    x, y = 6.0 + 3 * rng.random(), 5.0 + 3 * rng.random()
    vx, vy = 1.1 + 0.4 * rng.random(), 0.6 + 0.4 * rng.random()
    frames, gt = [], []
    for i in range(n):
        if i == jump_at:
            x, y = w - tw - 4.3, h - th - 3.6
            vx, vy = -vx, -vy
        img = bg.copy()
        xi, yi = int(round(x)), int(round(y))
        img[yi:yi + th, xi:xi + tw] = target
        p = d / f"{i + 1:08d}.jpg"
        cv2.imwrite(str(p), img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        frames.append(str(p))
        gt.append([xi + rng.uniform(-1.5, 1.5), yi + rng.uniform(-1.5, 1.5), tw, th])
        x = float(np.clip(x + vx, 0, w - tw - 1))
        y = float(np.clip(y + vy, 0, h - th - 1))
    gt_arr = np.round(np.array(gt), 4)
    np.savetxt(d / "groundtruth.txt", gt_arr, fmt="%.4f", delimiter=",")
    return Sequence(name, frames, gt_arr, "toy")
