#!/usr/bin/env python
"""Per-frame speed of every registered tracker, split into stages, plus the bare network forward.

Usage::

    python scripts/bench_speed.py [--trackers siamcar,ocean:otb] [--threads 2] [--frames 30] [--warmup 5]
                                  [--size 640x480] [--target 96x72] [--device cpu] [--weights]

One row per tracker (``name`` or ``name:config``, default config ``default``).  Each tracker runs on a
synthetic 640×480 sequence (a 96×72 checker/stripe target on a Lissajous path around the centre, the
set-up of ``shared/notes/official-speed.md``) after ``--warmup`` untimed frames; networks keep their
random initialisation unless ``--weights`` (the config's ``weights``) — speed does not depend on them.

Columns (milliseconds, medians over the timed frames):

* ``init``     one ``initialize`` call;
* ``frame``    wall time of ``track()`` (the runner's per-frame time), with [min–max];
* ``cpu``      process CPU time per frame (all threads): on a loaded machine wall time is inflated by
  waiting, CPU time much less;
* ``crop backbone head update post``: the tracker's own ``self.timings`` of that frame (keys ``crop``,
  ``backbone``, ``head``, ``update`` (``online`` accepted), ``post``); ``-`` where not reported;
* ``outside%`` share of the frame's wall time spent outside ``backbone + head + update`` (median over frames);
* ``FPS``      1000 / frame;
* ``bare``     the network alone on the same input: the tracker's ``bare_forward()`` (if it defines one).

Trackers opt in by filling ``self.timings`` in ``track()`` and, optionally, defining ``bare_forward()``.
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STAGES = ("crop", "backbone", "head", "update", "post")


def make_sequence(n: int, width: int = 640, height: int = 480, tw: int = 96, th: int = 72, seed: int = 0):
    """Frames (RGB uint8) and GT boxes of a moving textured target (≤ 9 px/frame)."""
    import cv2

    rng = np.random.default_rng(seed)
    grid = rng.integers(40, 220, (6, 8, 3)).astype(np.uint8)
    bg = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    xx = np.arange(width)[None, :, None]
    bg += 20 * np.sin(xx / 23.0)
    yy, xg = np.mgrid[0:th, 0:tw]
    tex = np.where(((yy // 8 + xg // 8) % 2 == 0), 230, 30).astype(np.float32)
    tex = np.stack([tex, np.where((xg // 4) % 2 == 0, 200, 60).astype(np.float32), 255 - tex], axis=2)
    frames, boxes = [], []
    for i in range(n):
        cx = width / 2 + 90 * math.sin(2 * math.pi * i / 60)
        cy = height / 2 + 60 * math.sin(4 * math.pi * i / 60)
        img = bg + rng.normal(0, 6, bg.shape).astype(np.float32)
        x0, y0 = int(round(cx - tw / 2)), int(round(cy - th / 2))
        img[y0:y0 + th, x0:x0 + tw] = tex
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
        boxes.append([x0, y0, tw, th])
    return frames, np.asarray(boxes, dtype=np.float64)


def _median(v: Sequence[float]) -> float:
    return statistics.median(v) if v else float("nan")


def bench_tracker(name: str, config: str, frames, boxes, warmup: int, device: str, use_weights: bool) -> Dict[str, Any]:
    from ltr.admin.experiment import load_tracker_config
    from ltr.admin.registry import TRACKERS

    cls = TRACKERS.get(name)
    cfg, _ = load_tracker_config(name, config)
    if not use_weights and hasattr(cfg, "weights"):
        cfg.weights = None
    for sec in ("model",):  # no download/pretrained file needed for timing
        m = getattr(cfg, sec, None)
        if m is not None and hasattr(m, "pretrained_backbone"):
            m.pretrained_backbone = None
    net = cls.build_network(cfg, device)
    tracker = cls(cfg, net, device)
    t0 = time.perf_counter()
    tracker.initialize(frames[0], boxes[0].copy())
    init_ms = (time.perf_counter() - t0) * 1000
    wall: List[float] = []
    cpu: List[float] = []
    stages: Dict[str, List[float]] = {k: [] for k in STAGES}
    outside: List[float] = []
    for i in range(1, len(frames)):
        c0, t0 = time.process_time(), time.perf_counter()
        tracker.track(frames[i])
        t1, c1 = time.perf_counter(), time.process_time()
        if i <= warmup:
            continue
        wall.append((t1 - t0) * 1000)
        cpu.append((c1 - c0) * 1000)
        tm = dict(getattr(tracker, "timings", {}) or {})
        if "update" not in tm and "online" in tm:
            tm["update"] = tm["online"]
        for k in STAGES:
            if k in tm:
                stages[k].append(tm[k] * 1000)
        if "backbone" in tm:  # per frame: share of the wall time not spent in the network
            net_s = sum(tm.get(k, 0.0) for k in ("backbone", "head", "update"))
            outside.append(100.0 * (t1 - t0 - net_s) / (t1 - t0))
    bare: List[float] = []
    if hasattr(tracker, "bare_forward"):
        for _ in range(max(3, min(10, len(wall)))):
            t0 = time.perf_counter()
            tracker.bare_forward()
            bare.append((time.perf_counter() - t0) * 1000)
    med = {k: _median(v) for k, v in stages.items()}
    frame = _median(wall)
    return {"tracker": name, "config": config, "init": init_ms, "frame": frame, "min": min(wall), "max": max(wall),
            "cpu": _median(cpu), **med, "outside": _median(outside), "fps": 1000.0 / frame, "bare": _median(bare)}


def _fmt(v: float, nd: int = 1) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trackers", default="", help="comma list of name[:config] (default: every registered tracker)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, default=30, help="timed frames")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--target", default="96x72")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--weights", action="store_true", help="load the config's weights (default: random init)")
    args = ap.parse_args(argv)

    import cv2
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    from ltr.admin.registry import TRACKERS

    if args.trackers:
        specs = [s.strip() for s in args.trackers.split(",") if s.strip()]
    else:
        specs = TRACKERS.names()
    w, h = (int(v) for v in args.size.lower().split("x"))
    tw, th = (int(v) for v in args.target.lower().split("x"))
    frames, boxes = make_sequence(args.frames + args.warmup + 1, w, h, tw, th)
    print(f"# {len(frames)} frames {w}x{h}, target {tw}x{th}, {args.warmup} warm-up, threads {args.threads}, "
          f"device {args.device}, torch {torch.__version__}")
    head = ["tracker", "config", "init", "frame [min-max]", "cpu", *STAGES, "outside%", "FPS", "bare"]
    print(" | ".join(head))
    rc = 0
    for spec in specs:
        name, _, config = spec.partition(":")
        config = config or "default"
        try:
            r = bench_tracker(name, config, frames, boxes, args.warmup, args.device, args.weights)
        except Exception as e:  # one broken tracker must not hide the others
            print(f"{name} | {config} | error: {type(e).__name__}: {e}")
            rc = 1
            continue
        row = [r["tracker"], r["config"], _fmt(r["init"]), f"{_fmt(r['frame'])} [{_fmt(r['min'])}-{_fmt(r['max'])}]",
               _fmt(r["cpu"]), *[_fmt(r[k], 2) for k in STAGES], _fmt(r["outside"], 2), _fmt(r["fps"], 2), _fmt(r["bare"])]
        print(" | ".join(row), flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
