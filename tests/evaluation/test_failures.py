"""Loss-cause classification (tracking/analysis/failures.py) on hand-built sequences and a generated split."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ltr.dataset.synthetic import generator as G
from tracking.analysis.failures import classify_dataset, classify_sequence, count_causes, load_distractor_boxes
from tracking.evaluation.datasets.got10k import load_got10k_split

N = 60


def _walk(x0: float, vx: float, n: int = N) -> np.ndarray:
    """A 20x20 box moving right by vx px per frame from x0."""
    t = np.arange(n, dtype=np.float64)
    return np.stack([x0 + vx * t, np.full(n, 50.0), np.full(n, 20.0), np.full(n, 20.0)], 1)


def test_perfect_tracking_is_kept():
    gt = _walk(10, 1)
    f = classify_sequence("s", gt.copy(), gt)
    assert f.cause == "kept" and f.lost_frame is None


def test_switch_to_a_look_alike():
    gt = _walk(10, 1)
    alike = _walk(200, -2)  # crosses the target
    pred = gt.copy()
    pred[25:] = alike[25:]  # from frame 25 the box follows the look-alike
    f = classify_sequence("s", pred, gt, distractors=alike[:, None, :])
    assert (f.cause, f.lost_frame, f.last_good_frame, f.recovered) == ("look-alike", 25, 24, False)
    # the same boxes without the distractor annotation: a drift, lost at the same frame
    assert classify_sequence("s", pred, gt).cause == "drift"


def test_loss_during_a_full_occlusion():
    gt = _walk(10, 3)
    cover = np.full(N, 8)
    cover[20:31] = 0  # fully hidden for 11 frames
    pred = gt.copy()
    pred[20:] = gt[19]  # the tracker stays where the target disappeared
    f = classify_sequence("s", pred, gt, cover=cover)
    # hidden frames are not counted as lost; the loss starts at the first visible frame the box misses
    assert (f.cause, f.lost_frame) == ("occlusion/exit", 31)


def test_occlusion_not_counted_as_loss_when_the_target_is_found_again():
    gt = _walk(10, 1)
    cover = np.full(N, 8)
    cover[20:40] = 0
    pred = gt.copy()
    pred[20:40] += np.array([200.0, 0, 0, 0])  # wrong while hidden, right again when it reappears
    assert classify_sequence("s", pred, gt, cover=cover).cause == "kept"


def test_drift_and_recovery():
    gt = _walk(10, 1)
    pred = gt.copy()
    pred[30:45, 1] += 100.0  # slides off for 15 frames, then back
    f = classify_sequence("s", pred, gt)
    assert (f.cause, f.lost_frame, f.recovered_frame) == ("drift", 30, 45)
    # a dip shorter than min_run is no loss
    pred2 = gt.copy()
    pred2[30:38, 1] += 100.0
    assert classify_sequence("s", pred2, gt).cause == "kept"


def test_counts_and_bad_input():
    gt = _walk(10, 1)
    bad = gt.copy()
    bad[5:, 1] += 100
    fs = [classify_sequence("a", gt, gt), classify_sequence("b", bad, gt)]
    assert count_causes(fs) == {"kept": 1, "look-alike": 0, "occlusion/exit": 0, "drift": 1, "recovered": 0}
    with pytest.raises(ValueError, match="'?s'?.*3 predicted boxes"):
        classify_sequence("s", gt[:3], gt)


def test_generated_split_oracle_on_a_distractor(tmp_path):
    """On a generated split the classifier reads distractors.txt and cover.label: a 'tracker' that jumps
    onto a look-alike's annotated box is classified as a look-alike switch at that frame."""
    params = replace(G.SyntheticParams(num_sequences=6, min_frames=60, max_frames=60, width=128, height=96),
                     max_distractors=3)
    split = G.ensure_synthetic(tmp_path, "val", params=params, verbose=False)
    seqs = load_got10k_split(split, "synthetic_val", require_labels=False, full_gt=None)
    seq = next(s for s in seqs if (load_distractor_boxes(s) is not None and load_distractor_boxes(s).shape[1] > 0
                                   and np.isfinite(load_distractor_boxes(s)[30:, 0]).all()))
    d = load_distractor_boxes(seq)
    pred = seq.ground_truth.copy()
    pred[30:] = d[30:, 0]
    f_gt, f_sw = classify_dataset([seq.ground_truth, pred], [seq, seq])
    assert f_gt.cause == "kept"
    # it may overlap the target for a while; the loss is where the IoU with a visible target stays below 0.1
    assert f_sw.cause == "look-alike" and f_sw.lost_frame >= 30
