"""Samplers: frame windows by brute force, dataset mixing, negatives, determinism, bad samples."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _training_fixtures import make_got10k  # noqa: E402

from ltr.admin.train_config import DataConfig, DatasetSpec
from ltr.data.sampler import BadSampleError, TrackingSampler, pair_frame_ids, sample_visible_ids, sequence_frame_ids
from ltr.dataset.base import SequenceInfo, TrainDataset
from ltr.dataset.got10k import Got10kTrain


class MemDataset(TrainDataset):
    """In-memory dataset: sequence k has n_k frames, box fixed, images 32x32."""

    def __init__(self, name, lengths, visible=None, is_video=True):
        super().__init__(Path("/nonexistent"), "train")
        self.name = name
        self.is_video = is_video
        self.sequence_names = [f"{name}_{k}" for k in range(len(lengths))]
        self._vis = visible or [np.ones(n, bool) for n in lengths]

    def _load_sequence_info(self, seq_id):
        n = len(self._vis[seq_id])
        return SequenceInfo(np.tile([4.0, 4.0, 10.0, 10.0], (n, 1)), self._vis[seq_id])

    def read_frame(self, seq_id, frame_id):
        return np.zeros((32, 32, 3), np.uint8)

    def frame_path(self, seq_id, frame_id):
        return f"mem://{self.name}/{seq_id}/{frame_id}"


def _meta_proc(raw, rng):
    return {"train": raw.train_meta, "test": raw.test_meta, "neg": raw.negative}


def test_pair_frame_ids_support_brute_force():
    vis = np.array([1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1], bool)
    vis_ids = np.flatnonzero(vis)
    gap = 2
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(4000):
        tr, te = pair_frame_ids(vis, 1, 1, gap, rng)
        seen.add((int(tr[0]), int(te[0])))
    # brute force: all (template, search) pairs of visible frames within +-gap list positions
    expected = {(int(vis_ids[a]), int(vis_ids[b])) for a in range(len(vis_ids)) for b in range(len(vis_ids)) if abs(a - b) <= gap}
    assert seen == expected


@pytest.mark.parametrize("mode", ["causal", "interval"])
def test_sequence_frame_ids_windows(mode):
    rng = np.random.default_rng(1)
    vis = rng.random(80) > 0.3
    gap = 6
    for _ in range(500):
        r = sequence_frame_ids(vis, 3, 2, gap, 5, mode, rng)
        assert r is not None
        tr, te = r
        assert len(tr) == 3 and len(te) == 2
        assert vis[tr].all() and vis[te].all()
        b = tr[0]
        # gap may have grown by multiples of 5; but with 70 % visible frames the first try nearly always succeeds
        if mode == "causal":
            assert all(b - gap - 20 <= t <= b for t in tr[1:])
            assert all(b < t <= b + gap + 20 for t in te)
            assert 2 <= b <= 80 - 2 - 1
        else:
            assert all(b - gap - 20 <= t < b + gap + 20 for t in list(tr[1:]) + list(te))


def test_sequence_frame_ids_gap_increase_brute_force():
    # visible frames only at 0, 1 and 30: with gap 5 the causal test frame must come from a grown gap
    vis = np.zeros(40, bool)
    vis[[0, 1, 30]] = True
    rng = np.random.default_rng(2)
    for _ in range(50):
        tr, te = sequence_frame_ids(vis, 2, 1, 5, 5, "causal", rng)
        assert tr[0] == 1 and tr[1] in (0, 1) and te[0] == 30
    assert sample_visible_ids(vis, 1, rng, 2, 30) is None


def test_dataset_mixing_by_weight_and_negatives():
    a, b = MemDataset("A", [20, 20]), MemDataset("B", [30])
    cfg = DataConfig(datasets=[DatasetSpec("A"), DatasetSpec("B")], samples_per_epoch=2000, neg_prob=0.3, max_gap=5)
    s = TrackingSampler([a, b], [1.0, 3.0], cfg, _meta_proc, seed=3)
    n = 2000
    outs = [s[(0, i)] for i in range(n)]
    frac_b = np.mean([o["train"]["dataset"] == "B" for o in outs])
    assert abs(frac_b - 0.75) < 4 * np.sqrt(0.75 * 0.25 / n)
    negs = [o for o in outs if o["neg"]]
    assert abs(len(negs) / n - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n)
    pos = [o for o in outs if not o["neg"]]
    assert all(o["train"]["sequence"] == o["test"]["sequence"] for o in pos)
    assert all(abs(o["train"]["frames"][0] - o["test"]["frames"][0]) <= 5 for o in pos)
    # negatives: search frame from another video of the mix
    assert all(o["train"]["sequence"] != o["test"]["sequence"] for o in negs)


def test_image_dataset_and_determinism():
    coco_like = MemDataset("C", [1, 1, 1], is_video=False)
    cfg = DataConfig(datasets=[DatasetSpec("C")], sampler="sequence", num_train_frames=3, num_test_frames=2,
                     frame_sample_mode="causal", samples_per_epoch=10, min_visible_frames=5)
    s = TrackingSampler([coco_like], [1.0], cfg, _meta_proc, seed=0)
    o = s[(0, 3)]
    assert o["train"]["frames"] == [0, 0, 0] and o["test"]["frames"] == [0, 0]
    v = MemDataset("V", [50, 50, 50])
    s2 = TrackingSampler([v], [1.0], DataConfig(samples_per_epoch=10), _meta_proc, seed=0)
    assert s2[(1, 7)] == s2[(1, 7)]
    assert [s2[(1, i)] for i in range(6)] != [s2[(2, i)] for i in range(6)]


def _corrupt_tree(root):
    names = make_got10k(root, "train", nseq=3, nframes=4)
    # sequence 0: frame 2 is a truncated JPEG; sequence 2: box far outside the image in frame 1
    p = root / "train" / names[0] / "00000002.jpg"
    p.write_bytes(p.read_bytes()[:40])
    gt = root / "train" / names[2] / "groundtruth.txt"
    rows = gt.read_text().splitlines()
    rows[1] = "1000.0,900.0,10.0,10.0"
    gt.write_text("\n".join(rows) + "\n")
    return names


def test_bad_samples_reported_and_skipped(tmp_path):
    names = _corrupt_tree(tmp_path)
    ds = Got10kTrain(root=tmp_path, split="train")
    cfg = DataConfig(datasets=[DatasetSpec("got10k")], samples_per_epoch=200, max_gap=3)
    s = TrackingSampler([ds], [1.0], cfg, _meta_proc, seed=0)
    reports = []
    for i in range(200):
        o = s[(0, i)]
        reports += o["_bad"]
        for side in ("train", "test"):
            m = o[side]
            assert not (m["sequence"] == names[0] and 1 in m["frames"])
            assert not (m["sequence"] == names[2] and 1 in m["frames"])
    jpeg = [r for r in reports if "corrupt" in r]
    outside = [r for r in reports if "outside" in r]
    assert jpeg and outside
    assert all(f"dataset 'got10k', sequence '{names[0]}', frame 1" in r for r in jpeg)
    assert all(f"dataset 'got10k', sequence '{names[2]}', frame 1" in r for r in outside)
    cfg_fail = DataConfig(datasets=[DatasetSpec("got10k")], samples_per_epoch=200, max_gap=3, on_bad_sample="fail")
    s_fail = TrackingSampler([ds], [1.0], cfg_fail, _meta_proc, seed=0)
    with pytest.raises(BadSampleError, match=r"dataset 'got10k', sequence 'GOT-10k_Train_00000[13]', frame 1"):
        for i in range(200):
            s_fail[(0, i)]
