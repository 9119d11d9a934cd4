"""``scripts/scale_response.py``: the one-frame size-correction share, checked on stand-in trackers whose
answer is known (one that snaps to the true box removes all of the error, one that keeps its state none,
one that moves halfway in log size half)."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("scale_response", REPO / "scripts" / "scale_response.py")
sr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sr)


class _Stand:
    """Keeps ``pos``/``sz`` like the Siamese trackers; ``track`` moves the log size a share ``k`` of the way to
    the true one (the ground truth it is given)."""

    def __init__(self, gt: np.ndarray, k: float) -> None:
        self.gt, self.k, self.t = gt, k, 0

    def initialize(self, image, box) -> None:
        self.pos, self.sz = np.asarray(box[:2]) + np.asarray(box[2:]) / 2, np.asarray(box[2:], float)

    def track(self, image):
        g = self.gt[int(image[0, 0, 0])]  # the frame index is written into the image
        true = np.sqrt(g[2] * g[3])
        side = np.exp((1 - self.k) * np.log(np.sqrt(self.sz[0] * self.sz[1])) + self.k * np.log(true))
        c = self.pos
        return {"box": np.array([c[0] - side / 2, c[1] - side / 2, side, side])}


@pytest.mark.parametrize("k", [1.0, 0.0, 0.5])
def test_share_corrected_matches_the_stand_in(tmp_path, k):
    n = 6
    gt = np.array([[20 + i, 30, 40 + 2 * i, 40 + 2 * i] for i in range(n)], float)
    frames = []
    for i in range(n):
        im = np.full((120, 160, 3), i, np.uint8)
        frames.append(tmp_path / f"{i:08d}.png")
        cv2.imwrite(str(frames[-1]), im)
    seq = SimpleNamespace(name="s", frames=frames, ground_truth=gt)
    rows = sr.one_frame_correction(lambda: _Stand(gt, k), [seq], 4, np.random.default_rng(0))
    assert rows.shape == (4, 3) and set(np.round(np.abs(rows[:, 0]), 1)) <= {0.1, 0.2, 0.3}
    np.testing.assert_allclose(rows[:, 1], k, atol=1e-9)
    np.testing.assert_allclose(rows[:, 2], 0.0, atol=1e-9)  # the state was set to the true centre


def test_spec_parsing():
    assert sr.parse_spec("ocean:tiny") == ("ocean", "tiny", [])
    assert sr.parse_spec("ocean:tiny:track.scale_step=0,track.lr=0.5") == (
        "ocean", "tiny", ["track.scale_step=0", "track.lr=0.5"])
    with pytest.raises(SystemExit, match="TRACKER:CONFIG"):
        sr.parse_spec("ocean")
