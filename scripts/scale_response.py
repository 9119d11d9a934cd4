#!/usr/bin/env python
"""How much of a wrong size estimate a tracker corrects in one frame (prints a markdown table).

Usage::

    python scripts/scale_response.py ocean:tiny "ocean:tiny:track.scale_step=1.05,track.scale_penalty=0.98"
    python scripts/scale_response.py ocean:tiny --dataset synthetic_val --sequences 60 --frames 8

Why: a Siamese tracker crops the search region at its current size estimate, and its network's box
regression can lean towards the size the crop assumes (Ocean tiny's does, README "Small models", session 18),
so a size error decays over many frames. For each
sampled frame the tracker's state is set to the ground-truth centre and the ground-truth size times a
factor f (log f in ±{0.1, 0.2, 0.3}), one frame is tracked, and the table gives the share of the log-size
error the new box removed: 1 − log(new/gt) / log(f). 1 is a perfect correction, 0 none (the tracker's own
size smoothing included). The tracker must keep its state as ``pos``/``sz`` (Ocean) or ``center``/``size``
(SiamCAR): centre and (w, h) in frame pixels.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, List, Sequence, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FACTORS = (-0.3, -0.2, -0.1, 0.1, 0.2, 0.3)


def parse_spec(spec: str) -> Tuple[str, str, List[str]]:
    """``TRACKER:CONFIG[:KEY=VALUE[,KEY=VALUE...]]`` → (tracker, config, overrides)."""
    parts = spec.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise SystemExit(f"bad tracker spec {spec!r}: expected TRACKER:CONFIG[:KEY=VALUE,...]")
    sets = [s for s in parts[2].split(",") if s] if len(parts) == 3 else []
    return parts[0], parts[1], sets


def one_frame_correction(make_tracker: Callable[[], Any], sequences: Sequence[Any], n_frames: int,
                         rng: np.random.Generator) -> np.ndarray:
    """Rows (log f, share of the log-size error removed, centre error / target size) over ``n_frames`` sampled
    frames per sequence (objects with ``name``, ``frames`` paths and an N×4 ``ground_truth``)."""
    import torch

    from ltr.utils.image import ImageReadError, imread_rgb

    rows = []
    for seq in sequences:
        gt = np.asarray(seq.ground_truth, np.float64)
        ok = np.flatnonzero(np.all(np.isfinite(gt), 1) & (gt[:, 2] > 2) & (gt[:, 3] > 2))
        ok = ok[ok > 0]
        if len(ok) == 0:
            continue

        def frame(i: int) -> np.ndarray:
            try:
                return imread_rgb(seq.frames[i])
            except ImageReadError as e:
                raise SystemExit(f"{seq.name}: {e}") from e

        first = frame(0)  # read once; each sampled frame starts a fresh tracker on it
        for t in np.sort(rng.choice(ok, min(n_frames, len(ok)), replace=False)):
            lf = float(rng.choice(FACTORS))
            tr = make_tracker()
            tr.initialize(first.copy(), gt[0])
            state = next((a for a in (("pos", "sz"), ("center", "size")) if all(hasattr(tr, k) for k in a)), None)
            if state is None:
                raise SystemExit(f"{type(tr).__name__}: the tracker keeps no pos/sz or center/size state to set")
            g = gt[t]
            setattr(tr, state[0], np.array([g[0] + g[2] / 2, g[1] + g[3] / 2]))
            setattr(tr, state[1], g[2:4] * np.exp(lf))
            with torch.inference_mode():
                box = tr.track(frame(t))["box"]
            new = np.log(np.sqrt(box[2] * box[3]) / np.sqrt(g[2] * g[3]))
            err = np.hypot(box[0] + box[2] / 2 - g[0] - g[2] / 2, box[1] + box[3] / 2 - g[1] - g[3] / 2) \
                / np.sqrt(g[2] * g[3])
            rows.append((lf, 1.0 - new / lf, err))
    return np.asarray(rows)


def measure(spec: str, dataset: str, n_seq: int, n_frames: int, seed: int) -> np.ndarray:
    """:func:`one_frame_correction` of a registered tracker config on the first ``n_seq`` sequences."""
    from ltr.admin.experiment import load_tracker_config
    from ltr.admin.registry import TRACKERS
    from tracking.evaluation.runner import load_dataset

    name, config, sets = parse_spec(spec)
    cfg, _ = load_tracker_config(name, config, sets)
    cls = TRACKERS.get(name)
    net = cls.build_network(cfg)
    seqs = list(load_dataset(dataset)[0])[:n_seq]
    return one_frame_correction(lambda: cls(cfg, net), seqs, n_frames, np.random.default_rng(seed))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("specs", nargs="+", help="TRACKER:CONFIG[:KEY=VALUE,...]")
    ap.add_argument("--dataset", default="synthetic_val")
    ap.add_argument("--sequences", type=int, default=60)
    ap.add_argument("--frames", type=int, default=8, help="sampled frames per sequence")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    print(f"{a.dataset}, first {a.sequences} sequences, {a.frames} frames each; share of the log-size error "
          f"removed in one frame (mean; 1 = all, 0 = none) by |log f|, and the median centre error / target size\n")
    print("| tracker | " + " | ".join(f"f = e^±{m}" for m in (0.1, 0.2, 0.3)) + " | all | median centre error |")
    print("|---" * 6 + "|")
    for spec in a.specs:
        r = measure(spec, a.dataset, a.sequences, a.frames, a.seed)
        cells = [f"{r[np.isclose(np.abs(r[:, 0]), m), 1].mean():.2f}" for m in (0.1, 0.2, 0.3)]
        print(f"| `{spec}` | " + " | ".join(cells) + f" | {r[:, 1].mean():.2f} | {np.median(r[:, 2]):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
