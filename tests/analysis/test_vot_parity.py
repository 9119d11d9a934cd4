"""VOT metrics against vot-toolkit 0.7.4's own functions on random reset-based / anchor-based runs.

* :func:`vot_rect_overlap` vs ``vot.region.raster.calculate_overlap`` (rasterised, bounded or not);
* :func:`vot_supervised` accuracy / failures vs ``compute_accuracy`` / ``count_failures`` and its EAO
  curve vs ``compute_eao_curve`` on the toolkit's segments (``EAOCurve.subcompute``'s splitting);
* :func:`vot_multistart` EAO curve vs ``compute_eao_partial`` and A/R vs the toolkit's grace loop.
"""
from __future__ import annotations

import math
from typing import List, Tuple

import numpy as np
import pytest

pytest.importorskip("vot.analysis.supervised")

from vot.analysis.multistart import compute_eao_partial  # noqa: E402
from vot.analysis.supervised import compute_accuracy, compute_eao_curve, count_failures  # noqa: E402
from vot.region import Special  # noqa: E402
from vot.region.raster import calculate_overlap, calculate_overlaps  # noqa: E402
from vot.region.shapes import Rectangle  # noqa: E402

from tracking.analysis.metrics import vot_multistart, vot_rect_overlap, vot_supervised  # noqa: E402


def _region(b: np.ndarray):
    return Special(0) if np.isnan(b).any() else Rectangle(*b)


@pytest.mark.parametrize("bounds", [(64, 48), None])
def test_rect_overlap_matches_toolkit_rasteriser(bounds):
    rng = np.random.default_rng(0 if bounds else 1)
    p = np.concatenate([rng.uniform(-30, 80, (2500, 2)), rng.uniform(0, 40, (2500, 2))], 1)
    g = np.concatenate([rng.uniform(-30, 80, (2500, 2)), rng.uniform(0, 40, (2500, 2))], 1)
    p[::9, 2:] *= 0.05  # sub-pixel boxes
    p[::53] = np.nan  # special / empty regions
    g[::71] = np.nan
    ref = np.array([calculate_overlap(_region(a), _region(b), bounds) for a, b in zip(p, g)])
    assert np.array_equal(vot_rect_overlap(p, g, bounds), ref)


class _Seq:
    """The two things ``compute_accuracy`` reads from a vot Sequence."""

    def __init__(self, gt: np.ndarray, size: Tuple[int, int]):
        self._gt = [Rectangle(*b) for b in gt]
        self.size = size

    def groundtruth(self):
        return self._gt


def _reset_run(rng: np.random.Generator, gt: np.ndarray, size, skip: int = 5) -> Tuple[List, np.ndarray, np.ndarray]:
    """Simulate a supervised run: a drifting tracker, failure when the overlap is 0, re-init after ``skip``."""
    regions, codes, boxes = [], [], []
    i, n, box = 0, len(gt), None
    while i < n:
        regions.append(Special(1)); codes.append(1); boxes.append([np.nan] * 4)
        box = gt[i].copy()
        i += 1
        while i < n:
            box = box + rng.normal(0, 2.5, 4) * [1, 1, 0.3, 0.3]
            box[2:] = np.abs(box[2:]) + 1
            ov = calculate_overlap(Rectangle(*box), Rectangle(*gt[i]), size)
            if ov <= 0:
                regions.append(Special(2)); codes.append(2); boxes.append([np.nan] * 4)
                k = min(skip - 1, n - i - 1)
                regions += [Special(0)] * k; codes += [0] * k; boxes += [[np.nan] * 4] * k
                i += 1 + k
                break
            regions.append(Rectangle(*box)); codes.append(-1); boxes.append(box.tolist())
            i += 1
    return regions, np.asarray(codes), np.asarray(boxes, float)


def test_supervised_matches_toolkit():
    rng = np.random.default_rng(5)
    size = (64, 48)
    all_ov, all_codes, segs, succ = [], [], [], []
    ref_acc, ref_fail, lengths = [], [], []
    for s in range(4):
        n = int(rng.integers(40, 90))
        gt = np.concatenate([20 + np.cumsum(rng.normal(0, 1, (n, 2)), 0), np.full((n, 2), 12.0)], 1)
        seq = _Seq(gt, size)
        runs_ov, runs_codes, accs, fails = [], [], [], []
        for rep in range(3):
            regions, codes, boxes = _reset_run(rng, gt, size)
            accs.append(compute_accuracy(regions, seq, burnin=10)[0])
            fails.append(count_failures(regions)[0])
            ovs = calculate_overlaps(regions, seq.groundtruth(), size)
            # the toolkit's EAOCurve.subcompute segmentation
            fi = [k for k, c in enumerate(codes) if c == 2]
            ii = [k for k, c in enumerate(codes) if c == 1]
            if fi:
                for j in range(len(fi)):
                    segs.append(ovs[ii[j]:fi[j]]); succ.append(False)
                if len(ii) > len(fi):
                    segs.append(ovs[ii[-1]:]); succ.append(True)
            else:
                segs.append(ovs); succ.append(True)
            runs_ov.append(vot_rect_overlap(boxes, gt, size))
            runs_codes.append(codes)
        all_ov.append(runs_ov); all_codes.append(runs_codes)
        ref_acc.append(np.mean(accs)); ref_fail.append(np.mean(fails)); lengths.append(n)
    r = vot_supervised(all_ov, all_codes, burnin=10, low=5, high=30)
    w = np.asarray(lengths, float)
    assert [p["accuracy"] for p in r.per_sequence] == pytest.approx(ref_acc, abs=1e-12)
    assert [p["failures"] for p in r.per_sequence] == pytest.approx(ref_fail, abs=1e-12)
    assert r.accuracy == pytest.approx(float(np.sum(np.asarray(ref_acc) * w) / w.sum()), abs=1e-12)
    assert sum(ref_fail) > 0  # the simulation does fail and re-initialise
    f = float(np.sum(np.asarray(ref_fail) * w) / w.sum())
    assert r.robustness == pytest.approx(math.exp(-30 * f / w.mean()), abs=1e-12)
    ref_curve = np.asarray(compute_eao_curve(segs, [1] * len(segs), succ), dtype=np.float64)
    assert np.max(np.abs(r.eao_curve - ref_curve)) < 1e-6  # the toolkit accumulates in float32
    assert r.eao == pytest.approx(float(np.mean(ref_curve[5:31])), abs=1e-6)


def _toolkit_progress(o: np.ndarray, empty: np.ndarray, thr: float, grace: int) -> int:
    """The loop of vot-toolkit's multistart AccuracyRobustness / EAOCurves, verbatim in behaviour."""
    g, progress = grace, len(o)
    for j, ov in enumerate(o):
        if ov <= thr and not empty[j]:
            g -= 1
            if g == 0:
                progress = j + 1 - grace
                break
        else:
            g = grace
    return progress


def test_multistart_matches_toolkit():
    rng = np.random.default_rng(9)
    high, low = 40, 10
    seqs, empties = [], []
    num, den = np.zeros(high), np.zeros(high)
    tot_a = tot_aw = tot_r = tot_rw = 0.0
    for s in range(5):
        n = int(rng.integers(25, 70))
        runs, emps, padded, success = [], [], [], []
        rob = acc = total = 0.0
        for anchor in sorted({0, int(rng.integers(5, n - 5))}):
            length = n - anchor
            o = np.clip(0.7 + np.cumsum(rng.normal(-0.02, 0.12, length)), 0, 1)
            e = rng.random(length) < 0.05
            o[0] = 1.0
            runs.append(o); emps.append(e)
            prog = _toolkit_progress(o, e, 0.1, 10)
            rob += prog; acc += float(np.sum(o[:prog])); total += length
            z = o.copy(); z[prog:] = 0
            padded.append(list(z)); success.append(prog >= length)
        phi, active = compute_eao_partial(padded, success, high)
        num += np.asarray(phi) * np.asarray(active); den += np.asarray(active)
        a, r = (acc / rob if rob > 0 else 0.0), rob / total
        tot_a += a * rob; tot_aw += rob; tot_r += r * n; tot_rw += n
        seqs.append(runs); empties.append(emps)
    ours = vot_multistart(seqs, gt_empty=empties, low=low, high=high)
    ref_curve = np.where(den > 0, num / np.maximum(den, 1e-300), 0)
    assert np.max(np.abs(ours.eao_curve - ref_curve)) < 1e-12
    assert ours.accuracy == pytest.approx(tot_a / tot_aw, abs=1e-12)
    assert ours.robustness == pytest.approx(tot_r / tot_rw, abs=1e-12)
    assert ours.eao == pytest.approx(float(np.mean(ref_curve[low:high + 1])), abs=1e-12)
    assert 0 < ours.robustness < 1  # some runs fail
