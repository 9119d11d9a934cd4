"""Track one target in a video file or webcam (entry point ``sotlab-video``).

    python tracking/run_video.py TRACKER CONFIG VIDEO --box x,y,w,h [--save out.mp4] [--out boxes.txt]

VIDEO is any file OpenCV reads, or a camera index (``0``).  Without ``--box`` the
target is selected in a window, which needs a display and an OpenCV build with GUI
support (``opencv-python``, not ``-headless``).  ``--save`` writes an annotated video:
``.mp4`` uses the mp4v codec, ``.avi``/``.mkv`` MJPG (H.264 writers are often missing
from pip builds of OpenCV).  Boxes are written as comma-separated ``x,y,w,h`` floats.
"""
from __future__ import annotations

import os
import sys


import argparse
import time
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


class VideoError(RuntimeError):
    pass


def _parse_box(text: str) -> np.ndarray:
    try:
        vals = [float(v) for v in text.replace(" ", "").split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--box: expected x,y,w,h numbers, got '{text}'") from None
    if len(vals) != 4 or vals[2] <= 0 or vals[3] <= 0:
        raise argparse.ArgumentTypeError(f"--box: expected x,y,w,h with w,h > 0, got '{text}'")
    return np.asarray(vals, dtype=np.float64)


def has_display() -> bool:
    """True when a window can be opened (a display and an OpenCV build with GUI support)."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) and sys.platform.startswith("linux"):
        return False
    import cv2

    try:
        cv2.namedWindow("sotlab-probe", cv2.WINDOW_NORMAL)
        cv2.destroyWindow("sotlab-probe")
        return True
    except cv2.error:
        return False


def open_capture(video: str):
    import cv2

    if video.isdigit() and not Path(video).exists():
        cap = cv2.VideoCapture(int(video))
        what = f"camera {video}"
    else:
        if not Path(video).is_file():
            raise VideoError(f"video file not found: {video}")
        cap = cv2.VideoCapture(video)
        what = f"video {video}"
    if not cap.isOpened():
        raise VideoError(f"OpenCV cannot open {what}")
    return cap


def open_writer(path: Path, fps: float, size: Tuple[int, int]):
    import cv2

    codec = CODECS.get(path.suffix.lower())
    if codec is None:
        raise VideoError(f"--save {path}: unsupported extension; use one of {', '.join(sorted(CODECS))}")
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, size)
    if not writer.isOpened():
        raise VideoError(f"--save {path}: OpenCV cannot write with codec {codec}")
    return writer


def _draw(frame_bgr: np.ndarray, box: np.ndarray, idx: int, score: Optional[float]) -> np.ndarray:
    import cv2

    x, y, w, h = box
    th = max(2, int(round(max(frame_bgr.shape[:2]) / 300)))
    cv2.rectangle(frame_bgr, (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h))), (0, 255, 0), th)
    text = f"#{idx}" + (f"  {score:.2f}" if score is not None and np.isfinite(score) else "")
    cv2.putText(frame_bgr, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 255, 255), 2, cv2.LINE_AA)
    return frame_bgr


def track_video(tracker, cap, box: Optional[np.ndarray], save: Optional[Path] = None, show: bool = False,
                max_frames: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Run ``tracker`` over the capture; returns ``(boxes (N,4), times (N,))``."""
    import cv2

    ok, frame = cap.read()
    if not ok or frame is None:
        raise VideoError("cannot read the first frame")
    if box is None:
        if not show:
            raise VideoError("no --box given and no display to select the target in")
        sel = cv2.selectROI("select target (ENTER to confirm)", frame, showCrosshair=True)
        cv2.destroyWindow("select target (ENTER to confirm)")
        if sel[2] <= 0 or sel[3] <= 0:
            raise VideoError("no target selected")
        box = np.asarray(sel, dtype=np.float64)
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = fps if fps and np.isfinite(fps) and fps > 0 else 30.0
    writer = open_writer(save, fps, (frame.shape[1], frame.shape[0])) if save is not None else None
    boxes: List[np.ndarray] = []
    times: List[float] = []
    prev = box.copy()
    try:
        idx = 0
        while ok and frame is not None:
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            t0 = time.perf_counter()
            if idx == 0:
                tracker.initialize(rgb, box.copy())
                cur, score = box.copy(), None
            else:
                out = tracker.track(rgb)
                cur = np.asarray(out["box"], dtype=np.float64).reshape(-1)
                score = out.get("score")
                if cur.size != 4 or not np.all(np.isfinite(cur)) or cur[2] <= 0 or cur[3] <= 0:
                    print(f"warning: frame {idx}: invalid box {cur.tolist()}, keeping the previous one", file=sys.stderr)
                    cur = prev.copy()
            times.append(time.perf_counter() - t0)
            boxes.append(cur)
            prev = cur
            if writer is not None or show:
                vis = _draw(frame, cur, idx, score)
                if writer is not None:
                    writer.write(vis)
                if show:
                    cv2.imshow("sotlab", vis)
                    if (cv2.waitKey(1) & 0xFF) in (ord("q"), 27):
                        break
            idx += 1
            if max_frames is not None and idx >= max_frames:
                break
            ok, frame = cap.read()
    finally:
        if writer is not None:
            writer.release()
        if show:
            cv2.destroyAllWindows()
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.asarray(times, dtype=np.float64)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="run_video.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tracker")
    ap.add_argument("config", help="config name or a path to a YAML file")
    ap.add_argument("video", help="video file, or a camera index such as 0")
    ap.add_argument("--box", type=_parse_box, default=None, help="initial box x,y,w,h (0-based pixels)")
    ap.add_argument("--save", type=Path, default=None, help="annotated video (.mp4 -> mp4v, .avi/.mkv -> MJPG)")
    ap.add_argument("--out", type=Path, default=None, help="boxes file (default: <video stem>_<tracker>_<config>.txt)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--device", default=None, help="cpu or cuda:N (default: cuda:0 when available)")
    ap.add_argument("--show", action="store_true", help="show the tracking in a window (needs a display)")
    ap.add_argument("--max-frames", type=int, default=None)
    args = ap.parse_args(argv)

    from ltr.admin.config import ConfigError
    from ltr.admin.experiment import load_tracker_config
    from ltr.admin.registry import TRACKERS, RegistryError
    from tracking.evaluation.results import atomic_write_text, format_boxes

    show = args.show or args.box is None
    if show and not has_display():
        if args.box is None:
            print("error: no --box given and no display (or a headless OpenCV) to select the target; "
                  "pass --box x,y,w,h", file=sys.stderr)
            return 2
        print("warning: no display; not showing the video", file=sys.stderr)
        show = False
    try:
        cls = TRACKERS.get(args.tracker)
        cfg, _ = load_tracker_config(args.tracker, args.config, args.overrides)
        device = args.device
        if device is None:
            try:
                import torch

                device = "cuda:0" if torch.cuda.is_available() else "cpu"
            except ImportError:
                device = "cpu"
        net = cls.build_network(cfg, device)
        tracker = cls(cfg, net, device)
        cap = open_capture(args.video)
        try:
            boxes, times = track_video(tracker, cap, args.box, args.save, show, args.max_frames)
        finally:
            cap.release()
    except (ConfigError, RegistryError, VideoError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cfg_name = Path(args.config).stem
    src = Path(args.video).stem if not args.video.isdigit() else f"camera{args.video}"
    out = args.out or Path(f"{src}_{args.tracker}_{cfg_name}.txt")
    atomic_write_text(out, format_boxes(boxes))
    t = times[1:]
    fps = len(t) / t.sum() if t.size and t.sum() > 0 else float("nan")
    print(f"{len(boxes)} frames, {fps:.1f} FPS (tracker time); boxes: {out}" + (f"; video: {args.save}" if args.save else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
