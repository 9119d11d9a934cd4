"""Golden tests: one per edge case of shared/notes/anchors.md §2.4, expected values worked by hand.

Conventions used in the hand computations:
  * the 21 IoU thresholds are t_k = 0.05 k (k = 0..20); a frame with IoU u succeeds at t_k iff u > t_k,
    so u = 1 succeeds at 20 thresholds (k = 0..19), u = 0.5 at 10 (k = 0..9), u = 0.25 at 5 (k = 0..4),
    u = 2/3 at 14 (k = 0..13), u = 0 at none;
  * AUC (mean protocols) = (sum over frames of the #thresholds it passes) / (denominator * 21);
  * GT boxes are [10, 10, 10, 10] unless stated, so centres are at 14.5 with the (w-1)/2 rule.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from tracking.analysis.metrics import (MetricError, as_saved, center_error, compute_got10k, compute_ope, iou,
                                       normalized_center_error, vot_multistart, vot_rect_overlap, vot_supervised)

EPS = np.finfo(float).eps
G = [10.0, 10.0, 10.0, 10.0]
FAR = [100.0, 100.0, 10.0, 10.0]


def approx(x: float) -> object:
    return pytest.approx(x, abs=1e-12)


# 1 -------------------------------------------------------------------------------------------
def test_case01_21_vs_101_points_and_mean_vs_trapz():
    # IoUs per frame: 1 (frame 0, forced to the GT), 0.5 ([10,10,10,5]: 50/100), 0.25 ([10,10,5,5]), 0 (far)
    gt = np.array([G] * 4)
    pred = np.array([G, [10, 10, 10, 5], [10, 10, 5, 5], FAR], float)
    # 21-point mean (pytracking): (20 + 10 + 5 + 0) / (4 * 21) = 35/84
    assert compute_ope([pred], [gt], "pytracking").auc == approx(35 / 84)
    # TrackingNet trapz over x = linspace(0,1,21): y_k = #frames passing / 4; sum y = 35/4, y_0 = 3/4,
    # y_20 = 0 -> 0.05 * (35/4 - (3/4 + 0)/2) = 0.41875 = 67/160 (differs from the mean 35/84)
    assert compute_ope([pred], [gt], "trackingnet").auc == approx(67 / 160)
    # GOT-10k's 101-point curve (frame 0 excluded, IoUs 0.5, 0.25, 0): 0.5 passes thresholds 0..0.49
    # (50 of 101), 0.25 passes 25, 0 none -> mean (50 + 25) / (3 * 101) = 75/303, while AO = 0.25
    r = compute_got10k([pred], [gt])
    assert len(r["succ_curve"]) == 101
    assert float(np.mean(r["succ_curve"])) == approx(75 / 303)
    assert r["ao"] == approx(0.25)


# 2 -------------------------------------------------------------------------------------------
def test_case02_strict_greater_at_threshold_zero():
    # pysot does not force frame 0: IoUs 0, 0, 0.01 ([10,10,1,1] in G: 1/100)
    gt = np.array([G] * 3)
    pred = np.array([FAR, FAR, [10, 10, 1, 1]], float)
    r = compute_ope([pred], [gt], "pysot")
    # IoU = 0 fails even at t = 0 (0 > 0 is false): curve[0] = 1/3 (only the 0.01 frame), rest 0
    assert r.success_curve[0] == approx(1 / 3)
    assert r.success_curve[1:].sum() == 0
    assert r.auc == approx(1 / 63)  # (1/3) / 21


# 3 -------------------------------------------------------------------------------------------
def test_case03_inclusive_pixel_vs_continuous_iou_small_boxes():
    g = np.array([[10, 10, 2, 2]], float)
    p = np.array([[10.4, 10.4, 2, 2]], float)
    # continuous: inter (12 - 10.4)^2 = 2.56, union 8 - 2.56 = 5.44 -> 8/17.  pytracking's inclusive
    # formula min(x+w-1, ..) - max(x, ..) + 1 is algebraically the same (areas stay w*h): also 8/17
    assert iou(p, g, "continuous")[0] == approx(8 / 17)
    assert iou(p, g, "pixel")[0] == approx(8 / 17)
    # the pixel effects come from rounding: TrackingNet and the VOT rasteriser round 10.4 -> 10 => IoU 1
    gt2 = np.array([G, [10, 10, 2, 2]])
    r = compute_ope([np.array([G, [10.4, 10.4, 2, 2]])], [gt2], "trackingnet")
    assert r.per_sequence_iou[0][1] == approx(1.0)
    assert vot_rect_overlap(p, g)[0] == approx(1.0)
    # 10.6 rounds to 11: pixels 11..12 vs 10..11 -> 1 common of 4 + 4 - 1 = 7 -> 1/7 (continuous: 0.3245)
    p2 = np.array([[10.6, 10.6, 2, 2]])
    assert vot_rect_overlap(p2, g)[0] == approx(1 / 7)
    r2 = compute_ope([np.array([G, [10.6, 10.6, 2, 2]])], [gt2], "trackingnet")
    assert r2.per_sequence_iou[0][1] == approx(1 / 7)
    assert iou(p2, g)[0] == approx(1.4 ** 2 / (8 - 1.4 ** 2))


# 4 -------------------------------------------------------------------------------------------
def test_case04_center_formula():
    g = np.array([G])
    p = np.array([[10, 10, 20, 20]], float)
    # (w-1)/2: 14.5 vs 19.5; w/2: 15 vs 20; (w+1)/2: 15.5 vs 20.5 -> the offset cancels: 5*sqrt(2)
    for off in (-1.0, 0.0, 1.0):
        assert center_error(p, g, off)[0] == approx(5 * math.sqrt(2))
    # normalised: (19.5/10 - 14.5/10, ..) = (0.5, 0.5) -> sqrt(0.5); got10k divides by max(1, wh)
    assert normalized_center_error(p, g)[0] == approx(math.sqrt(0.5))
    assert normalized_center_error(p, np.array([[10, 10, 0.5, 0.5]]), norm="max1")[0] == approx(
        math.hypot(10 + 9.5 - (10 - 0.25), 10 + 9.5 - (10 - 0.25)))
    # where the formula matters: pysot's validity test 'GT centre > 0'.  GT [0,0,1,1] has centre
    # 0 + (1-1)/2 = 0 -> invalid -> distance -1, a success even for a far prediction; got10k scores it
    gt = np.array([G, [0, 0, 1, 1]], float)
    pred = np.array([G, FAR])
    assert compute_ope([pred], [gt], "pysot").precision == approx(1.0)
    assert compute_ope([pred], [gt], "got10k").precision == approx(0.5)  # frame 1: 100*sqrt(2) px


# 5 -------------------------------------------------------------------------------------------
def test_case05_gt_with_zero_x_or_y():
    # frame 1 GT [0,5,10,10] predicted exactly.  The LaSOT toolkit requires all four GT values > 0:
    # IoU -1 (a failure), centre error -1 (a success).  pytracking's extract_results.py (b6d984d) and
    # pysot only test w, h > 0 (anchors.md §2.4 says pytracking also rejects x = 0; its source does not).
    gt = np.array([[5, 5, 10, 10], [0, 5, 10, 10]], float)
    pred = gt.copy()
    assert compute_ope([pred], [gt], "pytracking").auc == approx(20 / 21)
    assert compute_ope([pred], [gt], "pysot").auc == approx(20 / 21)
    r = compute_ope([pred], [gt], "lasot_official")
    assert r.auc == pytest.approx(20 / (21 * (2 + EPS)), abs=1e-15)  # denominator len + eps, ~10/21
    assert r.precision == pytest.approx(2 / (2 + EPS), abs=1e-15)
    assert r.valid_frames[0].tolist() == [True, False]


# 6 -------------------------------------------------------------------------------------------
def test_case06_gt_zero_size_and_nan():
    # f0 GT G; f1 GT [10,10,0,10] (w = 0); f2 GT NaN (UAV out-of-view); predictions G everywhere
    gt = np.array([G, [10, 10, 0, 10], [np.nan] * 4])
    pred = np.array([G, G, G])
    # pytracking / UAV: both invalid frames are IoU -1 (fail) and centre -1 (success), denominator 3
    r = compute_ope([pred], [gt], "pytracking", dataset="uav")
    assert r.auc == approx(20 / 63) and r.precision == approx(1.0)
    # pytracking elsewhere: invalid centre errors are +inf (failures)
    assert compute_ope([pred], [gt], "pytracking", dataset="otb").precision == approx(1 / 3)
    # got10k (ExperimentUAV123): the NaN frame is dropped (denominator 2); the w=0 frame stays with
    # IoU 0 and centre error |(14.5,14.5) - (9.5,14.5)| = 5 px -> AUC 20/42, precision 1
    r = compute_ope([pred], [gt], "got10k")
    assert r.auc == approx(10 / 21) and r.precision == approx(1.0)
    assert r.denominators[0] == 2
    # pysot: w=0 -> IoU -1; its centre (9.5, 14.5) > 0 is valid (5 px); the NaN centre is invalid (-1)
    r = compute_ope([pred], [gt], "pysot")
    assert r.auc == approx(20 / 63) and r.precision == approx(1.0)


# 7 -------------------------------------------------------------------------------------------
def test_case07_lasot_absent_frames_removed_but_counted():
    gt = np.array([[10, 10, 10, 10]] * 4, float)
    pred = gt.copy()
    vis = [np.array([1, 1, 0, 0], bool)]
    # 2 visible perfect frames out of a denominator of 4: curve 1/2 at k <= 19 -> AUC 10/21, P 0.5
    r = compute_ope([pred], [gt], "lasot_official", visible=vis)
    assert r.auc == pytest.approx(20 * 2 / (21 * (4 + EPS)), abs=1e-15)
    assert r.precision == pytest.approx(2 / (4 + EPS), abs=1e-15)
    assert compute_ope([pred], [gt], "pysot", visible=vis).auc == approx(10 / 21)
    r = compute_ope([pred], [gt], "pytracking", visible=vis, dataset="lasot")
    assert (r.auc, r.precision, r.norm_precision) == (approx(10 / 21), approx(0.5), approx(0.5))
    # got10k ignores the flags
    assert compute_ope([pred], [gt], "got10k", visible=vis).auc == approx(20 / 21)


# 8 -------------------------------------------------------------------------------------------
def test_case08_got10k_first_frame_cover_and_frame_weighting():
    # seq A (3 frames): f0 disjoint (excluded anyway), f1 exact (IoU 1), f2 IoU 0.5 but cover 0
    gt_a = np.array([G] * 3)
    pr_a = np.array([FAR, G, [10, 10, 10, 5]], float)
    cov_a = np.array([8, 8, 0])
    # seq B (5 frames): f1..f4 disjoint (IoU 0), all covered
    gt_b = np.array([G] * 5)
    pr_b = np.array([G] + [FAR] * 4, float)
    r = compute_got10k([pr_a, pr_b], [gt_a, gt_b], covers=[cov_a, np.full(5, 3)])
    # scored IoUs: A -> [1], B -> [0, 0, 0, 0]: AO = 1/5 (a per-sequence mean would give 0.5)
    assert r["ao"] == approx(0.2)
    assert r["sr50"] == approx(0.2)
    assert [s["ao"] for s in r["per_sequence"]] == [approx(1.0), approx(0.0)]


# 9 -------------------------------------------------------------------------------------------
def test_case09_zero_nan_negative_predictions():
    gt = np.array([G] * 3)
    shifted = [12, 10, 10, 10]  # IoU 80 / 120 = 2/3 -> passes t_0..t_13 (0.65 < 2/3 < 0.7)
    pred = np.array([G, shifted, [0, 0, 0, 0]], float)
    # pytracking copies the previous box into the zero-size frame: IoUs 1, 2/3, 2/3 -> (20+14+14)/63
    assert compute_ope([pred], [gt], "pytracking").auc == approx(48 / 63)
    # pysot scores the zero box as IoU 0: (20 + 14 + 0) / 63
    assert compute_ope([pred], [gt], "pysot").auc == approx(34 / 63)
    for bad in ([np.nan] * 4, [10, 10, -5, 10]):
        pb = np.array([G, shifted, bad], float)
        with pytest.raises(MetricError, match="Invalid results"):
            compute_ope([pb], [gt], "pytracking")  # pytracking raises
        # the LaSOT toolkit copies the previous box: 48 / (21 * (3 + eps))
        assert compute_ope([pb], [gt], "lasot_official").auc == pytest.approx(48 / (21 * (3 + EPS)), abs=1e-15)


# 10 ------------------------------------------------------------------------------------------
def test_case10_shorter_or_longer_predictions():
    gt = np.array([G] * 4)
    short = np.array([G, G])
    # pytracking zero-pads: frames 2, 3 are [0,0,0,0] -> IoU 0, centre (-0.5,-0.5) vs 14.5: 15*sqrt(2) > 20
    r = compute_ope([short], [gt], "pytracking")
    assert r.auc == approx(40 / 84) and r.precision == approx(0.5)
    for proto, kw in (("pytracking", {"dataset": "lasot"}), ("lasot_official", {}), ("pysot", {})):
        with pytest.raises(MetricError):
            compute_ope([short], [gt], proto, **kw)
    # got10k truncates both to the shorter length: 2 perfect frames
    assert compute_ope([short], [gt], "got10k").auc == approx(20 / 21)
    # TrackingNet: missing rows are NaN (failures): y_k = 1/2 (k <= 19), y_20 = 0 -> 0.05*(10 - 0.25)
    assert compute_ope([short], [gt], "trackingnet").auc == approx(0.4875)
    long = np.array([G] * 6)
    for proto in ("pytracking", "lasot_official", "got10k"):
        assert compute_ope([long], [gt], proto).auc == pytest.approx(20 / 21, abs=1e-12)
    assert compute_ope([long], [gt], "trackingnet").auc == approx(0.975)  # 0.05 * (20 - 0.5)


# 11 ------------------------------------------------------------------------------------------
def test_case11_integer_truncated_vs_float_boxes():
    gt = np.array([G, G])
    pred = np.array([G, [10.9, 10.9, 10, 10]])
    # float: inter 9.1^2 = 82.81, union 200 - 82.81 -> 0.7066 > t_14 = 0.70: 15 thresholds -> 35/42
    assert compute_ope([pred], [gt], "pytracking").auc == approx(35 / 42)
    # pytracking's result files hold astype(int): 10.9 -> 10, the box becomes exact: 40/42
    assert compute_ope([pred], [gt], "pytracking", saved_format="int").auc == approx(40 / 42)
    assert as_saved([[-1.7, 2.9, 3.5, 4.0]], "int").tolist() == [[-1.0, 2.0, 3.0, 4.0]]  # towards zero
    assert as_saved([[10.12345, 1.0005, 2, 3]], "%.3f")[0, 0] == 10.123


# 12 ------------------------------------------------------------------------------------------
def test_case12_first_prediction_forced_to_gt():
    gt = np.array([G, G])
    pred = np.array([FAR, G])
    for proto in ("pytracking", "got10k", "lasot_official"):
        assert compute_ope([pred], [gt], proto).auc == pytest.approx(20 / 21, abs=1e-12)
    assert compute_ope([pred], [gt], "trackingnet").auc == approx(0.975)
    # pysot uses the file's first row as is: (0 + 20) / 42
    assert compute_ope([pred], [gt], "pysot").auc == approx(10 / 21)


# 13 ------------------------------------------------------------------------------------------
def test_case13_normalized_precision_at_02_vs_auc():
    gt = np.array([G, G])
    pred = np.array([G, [13.33, 10, 10, 10]])  # normalised error 3.33/10 = 0.333
    # thresholds 0, 0.01, .., 0.5 (51): frame 0 passes all 51, frame 1 those >= 0.34 (17)
    r = compute_ope([pred], [gt], "pytracking")
    assert r.norm_precision == approx(0.5)  # at 0.2 only frame 0
    assert r.norm_precision_auc == approx((51 + 17) / 102)
    g = compute_ope([pred], [gt], "got10k")  # got10k reports the mean of the curve
    assert g.headline()["norm_prec_score"] == approx(2 / 3)
    assert g.norm_precision == approx(0.5)


# 14 ------------------------------------------------------------------------------------------
def test_case14_lasot_drops_all_zero_curves():
    gt_a = np.array([G, G])
    gt_b = np.array([[0, 0, 10, 10]] * 2, float)  # x = 0: every IoU is -1 -> success curve all 0
    r = compute_ope([gt_a.copy(), gt_b.copy()], [gt_a, gt_b], "lasot_official")
    assert r.included_success.tolist() == [True, False]
    # mean over the kept sequence only: 2 perfect frames -> 40 / (21 * (2 + eps)) ~ 20/21, not 10/21
    assert r.auc == pytest.approx(40 / (21 * (2 + EPS)), abs=1e-15)
    # its centre errors are -1 (successes): the precision curve is not all zero, B stays there
    assert r.included_precision.tolist() == [True, True]
    assert r.precision == pytest.approx(2 / (2 + EPS), abs=1e-15)


# 15 ------------------------------------------------------------------------------------------
def test_case15_vot_eao_interval_convention():
    # supervised, one run, no failure: frame 0 is the init (overlap 0), then 1, 0, 0, 0, 0
    # -> running mean over frames 1..j: curve[j] = 1/j (j >= 1), curve[0] = 0
    ov = np.array([0, 1, 0, 0, 0, 0], float)
    codes = np.array([1, -1, -1, -1, -1, -1])
    r = vot_supervised([[ov]], [[codes]], low=2, high=4, burnin=0)
    assert r.eao_curve.tolist() == pytest.approx([0, 1, 1 / 2, 1 / 3, 1 / 4, 1 / 5])
    assert r.eao == approx((1 / 2 + 1 / 3 + 1 / 4) / 3)  # vot-toolkit: curve[low:high+1]
    rp = vot_supervised([[ov]], [[codes]], low=2, high=4, burnin=0, interval="pysot")
    assert rp.eao == approx((1 + 1 / 2 + 1 / 3) / 3)  # pysot: curve[low-1:high]
    # multistart: the curve has `high` entries, so mean(curve[low:high+1]) averages curve[low:high]
    run = np.array([1.0, 0.9, 0.6, 0.3, 0.3, 0.3])
    m = vot_multistart([[run]], low=2, high=4)
    assert m.eao_curve.tolist() == pytest.approx([0, 0.9, 0.75, 0.6])
    assert m.eao == approx((0.75 + 0.6) / 2)


# VOT A/R (hand-worked) -----------------------------------------------------------------------
def test_vot_supervised_accuracy_failures_eao_by_hand():
    # f0 init, f1 0.5 (burn-in), f2 0.8, f3 failure, f4 skipped, f5 init, f6 0.6 (burn-in), f7 0.4
    ov = np.array([0, 0.5, 0.8, 0, 0, 0, 0.6, 0.4])
    codes = np.array([1, -1, -1, 2, 0, 1, -1, -1])
    r = vot_supervised([[ov]], [[codes]], burnin=2, low=1, high=2)
    assert r.accuracy == approx(0.6)  # mean(0.8, 0.4)
    assert r.failures == approx(1.0)
    assert r.robustness == approx(math.exp(-30 / 8))
    # segments: [0, .5, .8] (failed), [0, .6, .4] (ran to the end); curve[1] = (.5+.6)/2,
    # curve[2] = ((.5+.8)/2 + (.6+.4)/2)/2
    assert r.eao_curve.tolist() == pytest.approx([0, 0.55, 0.575])
    assert r.eao == approx(0.5625)


def test_vot_multistart_accuracy_robustness_by_hand():
    fwd = np.array([1, 0.05, 0.05, 0.05, 0.9, 0.9])  # 2 bad frames in a row at 1, 2 -> fails at 1
    bwd = np.array([1, 0.8, 0.7])  # never fails
    r = vot_multistart([[fwd, bwd]], grace=2, threshold=0.1, low=1, high=3)
    # reached frames: 1 + 3 = 4 of 9; accuracy (1 + 2.5) / 4
    assert r.robustness == approx(4 / 9)
    assert r.accuracy == approx(3.5 / 4)
    # an empty-GT frame resets the grace counter: bad, empty, bad, good -> no failure
    ok = vot_multistart([[np.array([1, 0.05, 0.05, 0.05, 0.9])]], gt_empty=[[np.array([0, 0, 1, 0, 0], bool)]],
                        grace=2, low=1, high=3)
    assert ok.robustness == approx(1.0)


def test_bad_input_errors_name_the_sequence():
    gt = np.array([G, G])
    with pytest.raises(MetricError, match=r"seqA: predictions: expected an \(N, 4\) array"):
        compute_ope([np.zeros((2, 3))], [gt], "pytracking", names=["seqA"])
    with pytest.raises(MetricError, match=r"seqA: visible has 3 entries for 2 GT frames"):
        compute_ope([gt], [gt], "pysot", visible=[np.ones(3, bool)], names=["seqA"])
    with pytest.raises(MetricError, match=r"use vot_supervised"):
        compute_ope([gt], [gt], "vot2018")
    with pytest.raises(MetricError, match=r"unknown protocol 'otb'"):
        compute_ope([gt], [gt], "otb")
