#!/usr/bin/env python
"""Time the metrics on a LaSOT-sized result set (280 sequences x 2500 frames, random-walk tracks).

    python scripts/bench_metrics.py [--sequences 280] [--frames 2500] [--repeat 3]

Prints one row per protocol: the best-of-``repeat`` wall time of ``compute_ope`` (success, precision,
normalised precision, OP50/75, per-sequence curves), plus ``compute_got10k``.  Target: < 2 s each.
"""
from __future__ import annotations

import argparse
import time
from typing import Callable, List, Tuple

import numpy as np

from tracking.analysis.metrics import OPE_PROTOCOLS, compute_got10k, compute_ope


def make_results(n_seq: int, n_frames: int, seed: int = 0) -> Tuple[List[np.ndarray], List[np.ndarray], List[np.ndarray]]:
    """Random-walk GT boxes, predictions drifting around them, LaSOT-like visibility flags."""
    rng = np.random.default_rng(seed)
    gts, preds, vis = [], [], []
    for _ in range(n_seq):
        c = 320 + np.cumsum(rng.normal(0, 3, (n_frames, 2)), 0)
        wh = 60 * np.exp(np.cumsum(rng.normal(0, 0.01, (n_frames, 2)), 0))
        gt = np.concatenate([c - wh / 2, wh], 1)
        drift = np.cumsum(rng.normal(0, 0.4, (n_frames, 4)), 0) * [1, 1, 0.2, 0.2]
        pred = gt + drift
        pred[:, 2:] = np.abs(pred[:, 2:]) + 1
        v = rng.random(n_frames) > 0.05
        gts.append(gt)
        preds.append(pred)
        vis.append(v)
    return preds, gts, vis


def best_of(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sequences", type=int, default=280)
    ap.add_argument("--frames", type=int, default=2500)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    preds, gts, vis = make_results(args.sequences, args.frames)
    n = args.sequences * args.frames
    print(f"result set: {args.sequences} sequences x {args.frames} frames = {n:,} boxes")
    print(f"| {'call':<40} | {'time [s]':>8} | {'Mframes/s':>9} | {'AUC / AO':>8} |")
    print(f"|{'-' * 42}|{'-' * 10}|{'-' * 11}|{'-' * 10}|")
    for proto in OPE_PROTOCOLS:
        kw = {"visible": vis} if proto in ("pytracking", "lasot_official", "pysot") else {}
        if proto == "pytracking":
            kw["dataset"] = "lasot"
        res = compute_ope(preds, gts, proto, **kw)
        t = best_of(lambda: compute_ope(preds, gts, proto, **kw), args.repeat)
        label = f"compute_ope(protocol='{proto}')"
        print(f"| {label:<40} | {t:8.3f} | {n / t / 1e6:9.2f} | {res.auc:8.4f} |")
    covers = [v.astype(int) for v in vis]
    sizes = [(640, 640)] * len(gts)
    res = compute_got10k(preds, gts, covers=covers, image_sizes=sizes)
    t = best_of(lambda: compute_got10k(preds, gts, covers=covers, image_sizes=sizes), args.repeat)
    print(f"| {'compute_got10k (AO/SR, bounded)':<40} | {t:8.3f} | {n / t / 1e6:9.2f} | {res['ao']:8.4f} |")


if __name__ == "__main__":
    main()
