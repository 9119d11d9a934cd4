"""Parallel, resumable evaluation runner.

Design (what pytracking's ``running.py`` got wrong, see anchors §1.1/§7):

* each worker process builds the network ONCE (``TrackerCls.build_network``) and
  then runs many sequences, each with a fresh tracker object;
* a failing sequence is reported with its full traceback, the other sequences
  still run, and the run ends with a non-zero status (never swallowed);
* a sequence counts as finished exactly when its boxes file exists, and that
  file is written last and atomically (``results.py``), so SIGKILL at any point
  leaves either a complete result or none; a re-run skips finished sequences;
* workers are spawned (safe with CUDA), spread round-robin over the GPUs, and
  on CPU each gets ``cores // threads`` torch/OpenCV threads; a worker notices
  when its parent died and stops instead of finishing orphaned work;
* per-frame tracker time (excluding image decoding) is recorded.
"""
from __future__ import annotations

import concurrent.futures as cf
import importlib
import json
import multiprocessing as mp
import os
import random
import sys
import time
import traceback
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence as Seq, Tuple

import numpy as np
import yaml

from ltr.admin.config import config_to_dict
from ltr.utils.image import imread_rgb
from tracking.evaluation.data import Sequence, SequenceList
from tracking.evaluation.results import (
    cleanup_stale_tmp,
    dataset_results_dir,
    is_done,
    repetition_for,
    result_format_for,
    write_sequence_result,
)

__all__ = [
    "RunnerError",
    "TrackerRef",
    "RunSpec",
    "SeqResult",
    "RunReport",
    "track_sequence",
    "run_sequences",
    "run_tracker",
    "select_devices",
    "RUN_CONFIG_FILE",
    "dataset_version",
]

RUN_CONFIG_FILE = "run_config.yaml"
_MAX_WARNINGS = 5


class RunnerError(RuntimeError):
    """A problem with the run as a whole (bad arguments, config mismatch); the message is for users."""


class _ParentDied(RuntimeError):
    pass


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class TrackerRef:
    """Importable reference to a tracker class, so spawned workers can load it
    without importing every plugin (cheap worker start-up)."""

    module: str
    qualname: str

    @classmethod
    def of(cls, tracker_cls: type) -> "TrackerRef":
        return cls(tracker_cls.__module__, tracker_cls.__qualname__)

    def resolve(self) -> type:
        obj: Any = importlib.import_module(self.module)
        for part in self.qualname.split("."):
            obj = getattr(obj, part)
        return obj


@dataclass
class RunSpec:
    """Everything a worker needs to run sequences of one (tracker, config, runid, dataset)."""

    tracker: str
    config_name: str
    cfg: Any
    tracker_ref: TrackerRef
    dataset: str
    out_dir: Path
    fmt: str
    runid: Optional[int] = None
    debug_dir: Optional[Path] = None

    @property
    def rep(self) -> int:
        return repetition_for(self.runid)


@dataclass
class SeqResult:
    name: str
    status: str  # 'done' | 'failed'
    n_frames: int = 0
    seconds: float = 0.0
    device: str = ""
    error: str = ""
    warnings: List[str] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.n_frames / self.seconds if self.seconds > 0 else float("nan")


@dataclass
class RunReport:
    out_dir: Path
    done: List[SeqResult] = field(default_factory=list)
    failed: List[SeqResult] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        n_fr = sum(r.n_frames for r in self.done)
        t = sum(r.seconds for r in self.done)
        fps = f", {n_fr / t:.1f} FPS (tracker time)" if t > 0 else ""
        s = (f"{len(self.done)} sequence(s) run, {len(self.skipped)} skipped (already finished), "
             f"{len(self.failed)} failed in {self.wall_seconds:.1f} s{fps}. Results: {self.out_dir}")
        if self.failed:
            s += "\nFAILED: " + ", ".join(r.name for r in self.failed) + " (tracebacks above; re-run to retry them)"
        return s


# --------------------------------------------------------------------------- devices / threads


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def select_devices(gpus: Optional[Seq[int]] = None, uses_network: bool = True) -> List[str]:
    """``['cuda:i', ...]`` for the requested (or all visible) GPUs, else ``['cpu']``.

    A tracker without a network runs on CPU unless GPUs are requested (and torch,
    slow to import, is then not imported just to ask)."""
    if not uses_network and not gpus and "torch" not in sys.modules:
        return ["cpu"]
    try:
        import torch

        n_cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:
        n_cuda = 0
    if gpus is not None and len(gpus) > 0:
        if n_cuda == 0:
            raise RunnerError(f"--gpus {','.join(map(str, gpus))} given but CUDA is not available")
        bad = [g for g in gpus if g < 0 or g >= n_cuda]
        if bad:
            raise RunnerError(f"--gpus: GPU index(es) {bad} not visible (visible: 0..{n_cuda - 1})")
        return [f"cuda:{g}" for g in gpus]
    if n_cuda > 0:
        return [f"cuda:{i}" for i in range(n_cuda)]
    return ["cpu"]


def _set_threads(n: int) -> None:
    """Limit intra-op threads of this process (workers run in parallel already)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    try:
        import cv2

        cv2.setNumThreads(n)
    except ImportError:
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def sequence_seed(cfg: Any, seq_name: str, runid: Optional[int]) -> int:
    """Stable per-(sequence, runid) seed: results do not depend on which worker ran what."""
    base = int(getattr(cfg, "seed", 0) or 0)
    return (base + 1_000_003 * (runid or 0) + zlib.crc32(seq_name.encode())) % (2 ** 31)


# --------------------------------------------------------------------------- one sequence


def _validate_output(out: Any, prev: np.ndarray, where: str, frame: int) -> Tuple[np.ndarray, Optional[str]]:
    """Checked box from a tracker output; a non-finite or empty box becomes the previous box."""
    if not isinstance(out, dict) or "box" not in out:
        raise TypeError(f"{where}: frame {frame}: track() must return a dict with a 'box' entry, got {type(out).__name__}")
    box = np.asarray(out["box"], dtype=np.float64).reshape(-1)
    if box.size != 4:
        raise ValueError(f"{where}: frame {frame}: 'box' must have 4 values [x,y,w,h], got {box.size}")
    if not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
        return prev.copy(), f"frame {frame}: invalid box {box.tolist()} replaced by the previous box"
    return box, None


def _save_debug(debug_dir: Path, frame: int, image: np.ndarray, box: np.ndarray,
                gt: Optional[np.ndarray], maps: Optional[Dict[str, Any]]) -> None:
    """Per-frame image with the prediction (green) and ground truth (red), plus colour-mapped score maps."""
    import cv2

    debug_dir.mkdir(parents=True, exist_ok=True)
    img = image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
    vis = cv2.cvtColor(np.ascontiguousarray(img[:, :, :3]), cv2.COLOR_RGB2BGR)
    th = max(1, int(round(max(vis.shape[:2]) / 300)))
    if gt is not None and np.all(np.isfinite(gt)):
        x, y, w, h = gt
        cv2.rectangle(vis, (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h))), (0, 0, 255), th)
    x, y, w, h = box
    cv2.rectangle(vis, (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h))), (0, 255, 0), th)
    cv2.imwrite(str(debug_dir / f"{frame + 1:08d}.jpg"), vis)
    for name, m in (maps or {}).items():
        try:
            a = np.asarray(m.detach().cpu().numpy() if hasattr(m, "detach") else m, dtype=np.float64)
        except Exception:
            continue
        a = np.squeeze(a)
        if a.ndim != 2 or a.size == 0:
            continue
        a = np.nan_to_num(a)
        lo, hi = float(a.min()), float(a.max())
        u8 = ((a - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(a)).astype(np.uint8)
        scale = max(1, int(np.ceil(128 / max(a.shape))))
        u8 = cv2.resize(u8, (a.shape[1] * scale, a.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(name))
        cv2.imwrite(str(debug_dir / f"{frame + 1:08d}_{safe}.png"), cv2.applyColorMap(u8, cv2.COLORMAP_JET))


def track_sequence(tracker: Any, seq: Sequence, debug_dir: Optional[Path] = None,
                   should_stop: Optional[Callable[[], bool]] = None) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """Run an initialised-per-call tracker over ``seq``; returns ``(boxes (N,4), times (N,), warnings)``.

    Frames before ``seq.init_frame`` repeat the initial box (time 0); the init
    frame's output is the initial box itself (benchmark convention)."""
    where = f"{seq.dataset}/{seq.name}"
    n = len(seq.frames)
    boxes = np.zeros((n, 4), dtype=np.float64)
    times = np.zeros(n, dtype=np.float64)
    warns: List[str] = []
    n_bad = 0
    f0 = int(seq.init_frame)
    init_box = seq.init_box
    boxes[: f0 + 1] = init_box
    if debug_dir is not None:
        tracker.debug = True
    image = imread_rgb(seq.frames[f0])
    t0 = time.perf_counter()
    out = tracker.initialize(image, init_box.copy())
    times[f0] = time.perf_counter() - t0
    if debug_dir is not None:
        _save_debug(debug_dir, f0, image, init_box, init_box, (out or {}).get("debug") if isinstance(out, dict) else None)
    prev = init_box
    gt = seq.ground_truth if seq.gt_public else None
    for i in range(f0 + 1, n):
        if should_stop is not None and should_stop():
            raise _ParentDied(f"{where}: runner process died; abandoning the sequence")
        image = imread_rgb(seq.frames[i])
        t0 = time.perf_counter()
        out = tracker.track(image)
        times[i] = time.perf_counter() - t0
        box, warn = _validate_output(out, prev, where, i)
        if warn is not None:
            n_bad += 1
            if len(warns) < _MAX_WARNINGS:
                warns.append(f"{where}: {warn}")
        boxes[i] = box
        prev = box
        if debug_dir is not None:
            _save_debug(debug_dir, i, image, box, gt[i] if gt is not None and i < len(gt) else None, out.get("debug"))
    if n_bad > len(warns):
        warns.append(f"{where}: {n_bad} invalid boxes in total were replaced by the previous box")
    return boxes, times, warns


class _Worker:
    """Per-process state: the network is built once, trackers are created per sequence."""

    def __init__(self, spec: RunSpec, device: str, n_threads: Optional[int], watch_parent: bool):
        self.spec = spec
        self.device = device
        self.parent_pid = os.getppid() if watch_parent else None
        self.init_error: Optional[str] = None
        self.net = None
        if n_threads is not None:
            _set_threads(n_threads)
        try:
            self.tracker_cls = spec.tracker_ref.resolve()
            if device.startswith("cuda"):
                import torch

                torch.cuda.set_device(torch.device(device))
            self.net = self.tracker_cls.build_network(spec.cfg, device)
        except Exception:
            self.init_error = (f"building tracker '{spec.tracker}' (config '{spec.config_name}') on {device} "
                               f"failed:\n{traceback.format_exc()}")

    def _parent_gone(self) -> bool:
        return self.parent_pid is not None and os.getppid() != self.parent_pid

    def run(self, seq: Sequence) -> SeqResult:
        spec = self.spec
        if self.init_error is not None:
            return SeqResult(seq.name, "failed", device=self.device, error=self.init_error)
        try:
            _seed_everything(sequence_seed(spec.cfg, seq.name, spec.runid))
            tracker = self.tracker_cls(spec.cfg, self.net, self.device)
            dbg = spec.debug_dir / seq.name if spec.debug_dir is not None else None
            boxes, times, warns = track_sequence(tracker, seq, dbg, self._parent_gone)
            write_sequence_result(spec.out_dir, seq.name, boxes, times, spec.fmt, spec.rep)
        except _ParentDied:
            os._exit(3)  # orphaned worker: write nothing, leave quietly
        except Exception:
            return SeqResult(seq.name, "failed", device=self.device,
                             error=f"sequence '{seq.name}' ({spec.dataset}) failed on {self.device}:\n"
                                   f"{traceback.format_exc()}")
        return SeqResult(seq.name, "done", n_frames=len(seq), seconds=float(times.sum()),
                         device=self.device, warnings=warns)


_WORKER: Optional[_Worker] = None


def _watch_parent(parent_pid: int, interval: float = 0.2) -> None:
    """Exit this worker when the runner process dies (e.g. SIGKILL): idle pool workers would
    otherwise wait forever for tasks, busy ones would finish orphaned sequences."""
    import threading

    def loop() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(3)
            time.sleep(interval)

    threading.Thread(target=loop, name="sotlab-parent-watch", daemon=True).start()


def _pool_init(spec: RunSpec, devices: List[str], counter: Any, n_threads: int) -> None:
    global _WORKER
    _watch_parent(os.getppid())
    with counter.get_lock():
        idx = counter.value
        counter.value += 1
    _WORKER = _Worker(spec, devices[idx % len(devices)], n_threads, watch_parent=True)


def _pool_run(seq: Sequence) -> SeqResult:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.run(seq)


# --------------------------------------------------------------------------- many sequences


def _report_result(r: SeqResult, report: RunReport, write: Callable[[str], None]) -> None:
    for w in r.warnings:
        write(f"warning: {w}")
    if r.status == "done":
        report.done.append(r)
    else:
        report.failed.append(r)
        write(f"ERROR: {r.error.rstrip()}")


def run_sequences(spec: RunSpec, sequences: Seq[Sequence], threads: int = 1,
                  devices: Optional[List[str]] = None, force: bool = False,
                  progress: bool = True) -> RunReport:
    """Run ``spec`` on every unfinished sequence (all of them with ``force``).

    ``threads <= 1`` runs in this process; otherwise ``threads`` spawned worker
    processes share the sequences (longest first)."""
    from tqdm import tqdm

    devices = devices or ["cpu"]
    spec.out_dir.mkdir(parents=True, exist_ok=True)
    cleanup_stale_tmp(spec.out_dir)
    report = RunReport(out_dir=spec.out_dir)
    todo = []
    for s in sequences:
        if not force and is_done(spec.out_dir, s.name, spec.fmt, spec.rep):
            report.skipped.append(s.name)
        else:
            todo.append(s)
    todo.sort(key=len, reverse=True)
    t_start = time.perf_counter()
    bar = tqdm(total=len(todo), desc=f"{spec.tracker} {spec.config_name} {spec.dataset}", unit="seq",
               disable=not progress or not todo, file=sys.stderr, dynamic_ncols=True)
    write = (lambda m: tqdm.write(m, file=sys.stderr))
    try:
        if not todo:
            pass
        elif threads <= 1:
            worker = _Worker(spec, devices[0], None, watch_parent=False)
            for s in todo:
                bar.set_postfix_str(s.name, refresh=False)
                _report_result(worker.run(s), report, write)
                bar.update(1)
        else:
            n_workers = min(threads, len(todo))
            n_threads = max(1, _cpu_count() // n_workers) if devices[0] == "cpu" else 1
            ctx = mp.get_context("spawn")
            counter = ctx.Value("i", 0)
            with cf.ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx, initializer=_pool_init,
                                        initargs=(spec, devices, counter, n_threads)) as ex:
                futs = {ex.submit(_pool_run, s): s for s in todo}
                try:
                    for fut in cf.as_completed(futs):
                        s = futs[fut]
                        try:
                            r = fut.result()
                        except Exception:  # worker crashed (segfault, OOM kill, ...)
                            r = SeqResult(s.name, "failed", error=f"sequence '{s.name}': worker process failed:\n"
                                                                  f"{traceback.format_exc()}")
                        _report_result(r, report, write)
                        bar.update(1)
                except BaseException:
                    ex.shutdown(wait=False, cancel_futures=True)
                    raise
    finally:
        bar.close()
    report.wall_seconds = time.perf_counter() - t_start
    return report


# --------------------------------------------------------------------------- CLI-level entry


def _first_difference(a: Any, b: Any, path: str = "", defaults: Any = None) -> Optional[str]:
    """First dotted key where the stored config ``a`` and the new one ``b`` differ, else None.

    A key that only ``b`` has and whose value equals its schema default (``defaults``) is not a difference:
    it was added to the schema after the stored run, which therefore ran with that default's behaviour.
    """
    if isinstance(a, dict) and isinstance(b, dict):
        dflt = defaults if isinstance(defaults, dict) else {}
        for k in sorted(set(a) | set(b)):
            if k not in a and k in b and k in dflt and dflt[k] == b[k]:
                continue
            if k not in a or k not in b:
                return f"{path}{k}"
            d = _first_difference(a[k], b[k], f"{path}{k}.", dflt.get(k))
            if d:
                return d
        return None
    return None if a == b else path.rstrip(".") or "<root>"


def _archive(out_dir: Path) -> Path:
    """Rename a results folder to the first free ``<name>.stale-<i>`` beside it (nothing is deleted)."""
    i = 1
    while (dest := out_dir.with_name(f"{out_dir.name}.stale-{i}")).exists():
        i += 1
    out_dir.rename(dest)
    return dest


def _stale_reason(path: Path, info: Dict[str, Any], schema_defaults: Optional[Dict[str, Any]]) -> Optional[str]:
    """Why the results beside ``path`` (a stored run config) cannot be continued with ``info``; None if they can."""
    try:
        old = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError:
        old = {}
    was, now = old.get("dataset_version"), info.get("dataset_version")
    if was and now and was != now:
        return (f"existing results were produced on another version of dataset '{info.get('dataset')}' "
                f"(it was regenerated: {was[:12]} -> {now[:12]})")
    diff = _first_difference(old.get("config"), info["config"], defaults=schema_defaults)
    if diff is not None:
        return f"existing results were produced with a different configuration (first difference at '{diff}')"
    return None


def _write_run_config(out_dir: Path, info: Dict[str, Any], schema_defaults: Optional[Dict[str, Any]] = None,
                      archive_stale: bool = False) -> None:
    """Store the resolved config next to the results; refuse to mix results of different configs.

    ``schema_defaults``: the config class's defaults, so keys added to the schema later (at their default)
    do not orphan existing results. ``archive_stale``: instead of refusing, move results of another config
    or dataset version aside to ``<dir>.stale-<i>`` and start afresh (the demo's choice: it must always run)."""
    from tracking.evaluation.results import atomic_write_text

    path = out_dir / RUN_CONFIG_FILE
    if path.is_file():
        why = _stale_reason(path, info, schema_defaults)
        if why is None:
            return
        if not archive_stale:
            raise RunnerError(f"{path}: {why}. Use another --runid or --results-dir, or delete {out_dir}.")
        dest = _archive(out_dir)
        print(f"note: {path}: {why}; moved them to {dest}", file=sys.stderr)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, yaml.safe_dump(info, sort_keys=False))


def dataset_version(seqs: SequenceList) -> Optional[str]:
    """Identity of a generated dataset (the ``hash`` of the split's ``.complete`` marker), else ``None``.

    Why: the synthetic benchmark is regenerated when its generator or parameters change, under the same
    sequence names; results computed on the old frames must not be resumed into the new ones.
    """
    for s in seqs:
        frames = getattr(s, "frames", None)
        if not frames:
            continue
        marker = Path(frames[0]).parent.parent / ".complete"
        if not marker.is_file():
            return None
        try:
            h = json.loads(marker.read_text()).get("hash")
        except (OSError, ValueError, AttributeError):
            return None
        return str(h) if h else None
    return None


def load_dataset(name: str) -> Tuple[SequenceList, Dict[str, Any]]:
    """``(sequences, registry meta)`` of an evaluation dataset."""
    from ltr.admin.registry import EVAL_DATASETS

    entry = EVAL_DATASETS.entry(name)
    seqs = entry.obj()
    return SequenceList(seqs), dict(entry.meta)


def select_sequences(seqs: SequenceList, names: Optional[Seq[str]], dataset: str) -> SequenceList:
    if not names:
        return seqs
    import difflib

    available = [s.name for s in seqs]
    missing = [n for n in names if n not in available]
    if missing:
        hints = []
        for n in missing:
            m = difflib.get_close_matches(n, available, n=1, cutoff=0.5)
            hints.append(f"'{n}'" + (f" (did you mean '{m[0]}'?)" if m else ""))
        raise RunnerError(f"dataset '{dataset}' has no sequence {', '.join(hints)}")
    return seqs.select(names)


def _check_weights(tracker_cls: Any, cfg: Any, cfg_path: Path) -> None:
    """A missing weights file is one configuration error, raised before any worker starts (instead of the
    same traceback once per sequence)."""
    weights = getattr(cfg, "weights", None)
    if not weights or not getattr(tracker_cls, "uses_network", False):
        return
    from ltr.admin.checkpoint import resolve_weights_path

    path = resolve_weights_path(weights)
    if not path.is_file():
        raise RunnerError(f"{cfg_path}: weights '{weights}' not found (looked for {path}); train the model or "
                          f"pass --set weights=PATH")


def run_tracker(tracker: str, config: str, dataset: str, *, sequences: Optional[Seq[str]] = None,
                threads: int = 1, runid: Optional[int] = None, debug: bool = False,
                overrides: Seq[str] = (), gpus: Optional[Seq[int]] = None,
                results_dir: Optional[Path] = None, force: bool = False, progress: bool = True,
                archive_stale: bool = False) -> RunReport:
    """Resolve names through the registries and settings, then :func:`run_sequences`."""
    from ltr.admin.experiment import load_tracker_config
    from ltr.admin.registry import TRACKERS
    from ltr.admin.settings import get_settings

    tracker_cls = TRACKERS.get(tracker)
    cfg, cfg_path = load_tracker_config(tracker, config, overrides)
    _check_weights(tracker_cls, cfg, cfg_path)
    config_name = Path(config).stem if Path(config).suffix in (".yaml", ".yml") else config
    seqs, meta = load_dataset(dataset)
    seqs = select_sequences(seqs, sequences, dataset)
    if len(seqs) == 0:
        raise RunnerError(f"dataset '{dataset}' has no sequences")
    fmt = result_format_for(dataset, meta)
    root = Path(results_dir) if results_dir is not None else get_settings().results_dir
    out_dir = dataset_results_dir(root, tracker, config_name, runid, dataset)
    _write_run_config(out_dir, {
        "tracker": tracker,
        "config_name": config_name,
        "config_file": str(cfg_path),
        "overrides": list(overrides),
        "runid": runid,
        "dataset": dataset,
        "dataset_version": dataset_version(seqs),
        "result_format": fmt,
        "config": config_to_dict(cfg),
    }, schema_defaults=config_to_dict(type(cfg)()), archive_stale=archive_stale)
    debug_dir = out_dir.parent / f"{dataset}_debug" if debug else None
    spec = RunSpec(tracker=tracker, config_name=config_name, cfg=cfg, tracker_ref=TrackerRef.of(tracker_cls),
                   dataset=dataset, out_dir=out_dir, fmt=fmt, runid=runid, debug_dir=debug_dir)
    return run_sequences(spec, seqs, threads=threads, devices=select_devices(gpus, bool(getattr(tracker_cls, "uses_network", True))), force=force or debug,
                         progress=progress)
