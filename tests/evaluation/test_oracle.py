"""Exact-size / exact-centre re-scoring (tracking/analysis/oracle.py)."""
from __future__ import annotations

import numpy as np
import pytest

from tracking.analysis.loader import parse_results_spec
from tracking.analysis.metrics import compute_ope
from tracking.analysis.oracle import oracle_aucs, substitute_box_part
from tracking.analysis.report import analyze, format_table, markdown_table

from test_analyze import _fake_dataset, _read_back, _write_run


def test_substitution_hand_worked():
    pred = np.array([[10.0, 10.0, 20.0, 40.0]])  # centre (20, 30)
    gt = np.array([[0.0, 0.0, 10.0, 10.0]])      # centre (5, 5)
    assert substitute_box_part(pred, gt, "size").tolist() == [[15.0, 25.0, 10.0, 10.0]]
    assert substitute_box_part(pred, gt, "centre").tolist() == [[-5.0, -15.0, 20.0, 40.0]]


def test_invalid_ground_truth_keeps_the_prediction():
    pred = np.array([[1.0, 2.0, 3.0, 4.0]] * 3)
    gt = np.array([[np.nan] * 4, [0.0, 0.0, 0.0, 5.0], [5.0, 5.0, 10.0, -1.0]])
    for part in ("size", "centre"):
        assert np.array_equal(substitute_box_part(pred, gt, part), pred)
    with pytest.raises(ValueError):
        substitute_box_part(pred, gt[:2], "size")
    with pytest.raises(ValueError):
        substitute_box_part(pred, gt, "width")


def test_each_oracle_removes_exactly_its_own_error():
    rng = np.random.default_rng(0)
    n = 40
    # integer corners and even sizes: every centre and substituted corner is exact in floating point
    gt = np.hstack([rng.integers(50, 150, (n, 2)), 2 * rng.integers(10, 30, (n, 2))]).astype(np.float64)
    # a pure size error about the right centre, and a pure shift with the right size
    wh = 2 * rng.integers(6, 45, (n, 2)).astype(np.float64)
    sized = np.hstack([gt[:, :2] + gt[:, 2:] / 2 - wh / 2, wh])
    shifted = gt + np.hstack([rng.integers(-20, 21, (n, 2)), np.zeros((n, 2))])
    for protocol in ("pytracking", "pysot", "got10k"):
        perfect = compute_ope([gt], [gt], protocol).auc
        o_sized = oracle_aucs([sized], [gt], protocol)
        o_shift = oracle_aucs([shifted], [gt], protocol)
        # the oracle for the error a tracker makes scores like the ground truth itself ...
        assert o_sized["exact_size"] == pytest.approx(perfect, abs=1e-9)
        assert o_shift["exact_centre"] == pytest.approx(perfect, abs=1e-9)
        # ... the other one changes nothing the IoU can see
        assert o_sized["exact_centre"] == pytest.approx(compute_ope([sized], [gt], protocol).auc, abs=1e-9)
        assert o_shift["exact_size"] == pytest.approx(compute_ope([shifted], [gt], protocol).auc, abs=1e-9)


def test_report_prints_the_oracle_scores(tmp_path):
    seqs = _fake_dataset(n=4)
    d = _write_run(tmp_path, "t", "c", None, seqs, 6.0, 3)
    an = analyze([parse_results_spec("t:c")], "fake", seqs, tmp_path, "pytracking")
    (t,) = an.trackers
    preds = _read_back(d, seqs)
    gts = [s.ground_truth for s in seqs]
    # independent re-scoring: resize each box by hand, then the plain metric
    resized = []
    for p, g in zip(preds, gts):
        c = p[:, :2] + p[:, 2:] / 2
        resized.append(np.hstack([c - g[:, 2:] / 2, g[:, 2:]]))
    assert t.oracle["exact_size"] == pytest.approx(compute_ope(resized, gts, "pytracking").auc, abs=1e-12)
    assert "exact size" in format_table(an) and "Where the AUC goes" in markdown_table(an)
