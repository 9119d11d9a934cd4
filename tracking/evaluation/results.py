"""Result files in each benchmark's official layout, written atomically.

Layouts (``<dir>`` = ``<results>/<tracker>/<config>[_<runid:03d>]/<dataset>``):

* ``otb`` (OTB, UAV, NFS, LaSOT, VOT run OPE-style): ``<dir>/<seq>.txt`` and ``<dir>/<seq>_time.txt``
* ``got10k`` (GOT-10k and the synthetic benchmark): ``<dir>/<seq>/<seq>_NNN.txt`` and
  ``<dir>/<seq>/<seq>_time.txt``; ``NNN`` = repetition = runid + 1 (no runid: 001)
* ``trackingnet``: ``<dir>/<seq>.txt`` (+ ``<seq>_time.txt``, left out of the server zip)

Boxes are comma-separated ``x,y,w,h`` floats (never truncated to integers), one
frame per line; times are seconds per frame.  The time file is written first and
the boxes file LAST, each through a temporary file + ``os.replace``: a sequence
counts as done exactly when its boxes file exists, so a killed run never leaves a
half-written result that looks finished.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np

__all__ = [
    "FORMATS",
    "ResultFormatError",
    "result_format_for",
    "repetition_for",
    "run_dir_name",
    "dataset_results_dir",
    "result_paths",
    "is_done",
    "atomic_write_text",
    "write_sequence_result",
    "read_sequence_result",
    "read_matrix",
    "format_boxes",
    "cleanup_stale_tmp",
    "glob_escape",
]

FORMATS = ("otb", "got10k", "trackingnet")
_TMP_RE = re.compile(r"^\.(?P<name>.+)\.tmp\.(?P<pid>\d+)$")


class ResultFormatError(ValueError):
    """A result file exists but cannot be parsed; the message names the file."""


#: registry meta ``results_format`` values -> layout here ('txt' = one file per sequence;
#: 'vot' datasets run through this runner are one-pass runs, stored like OTB)
_META_FORMATS = {"txt": "otb", "otb": "otb", "got10k": "got10k", "trackingnet": "trackingnet", "vot": "otb"}


def result_format_for(dataset: str, meta: Optional[dict] = None) -> str:
    """Official result layout of a dataset: its registry entry's ``results_format`` meta
    (``result_format`` also accepted) when given, else inferred from the name."""
    val = (meta or {}).get("results_format") or (meta or {}).get("result_format")
    if val:
        fmt = _META_FORMATS.get(str(val))
        if fmt is None:
            raise ValueError(f"dataset '{dataset}': unknown results_format '{val}' "
                             f"(known: {', '.join(sorted(_META_FORMATS))})")
        return fmt
    d = dataset.lower()
    if d.startswith("got10k") or d.startswith("got-10k") or d.startswith("synthetic"):
        return "got10k"
    if d.startswith("trackingnet"):
        return "trackingnet"
    return "otb"


def repetition_for(runid: Optional[int]) -> int:
    """GOT-10k repetition number stored in file names: runid 0 (or none) -> 1, runid k -> k+1."""
    return 1 if runid is None else int(runid) + 1


def run_dir_name(config_name: str, runid: Optional[int]) -> str:
    return config_name if runid is None else f"{config_name}_{int(runid):03d}"


def dataset_results_dir(results_root: Union[str, Path], tracker: str, config_name: str,
                        runid: Optional[int], dataset: str) -> Path:
    """``<results_root>/<tracker>/<config>[_<runid:03d>]/<dataset>``."""
    return Path(results_root) / tracker / run_dir_name(config_name, runid) / dataset


def result_paths(out_dir: Union[str, Path], seq_name: str, fmt: str, rep: int = 1) -> Tuple[Path, Path]:
    """``(boxes_file, time_file)`` of one sequence."""
    out_dir = Path(out_dir)
    if fmt == "got10k":
        d = out_dir / seq_name
        return d / f"{seq_name}_{rep:03d}.txt", d / f"{seq_name}_time.txt"
    if fmt in ("otb", "trackingnet"):
        return out_dir / f"{seq_name}.txt", out_dir / f"{seq_name}_time.txt"
    raise ValueError(f"unknown result format '{fmt}' (known: {', '.join(FORMATS)})")


def is_done(out_dir: Union[str, Path], seq_name: str, fmt: str, rep: int = 1) -> bool:
    return result_paths(out_dir, seq_name, fmt, rep)[0].is_file()


def atomic_write_text(path: Union[str, Path], text: str) -> None:
    """Write ``text`` to a hidden temporary file next to ``path``, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def format_boxes(boxes: np.ndarray) -> str:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return "".join(f"{b[0]:.4f},{b[1]:.4f},{b[2]:.4f},{b[3]:.4f}\n" for b in boxes)


def write_sequence_result(out_dir: Union[str, Path], seq_name: str, boxes: np.ndarray,
                          times: Optional[np.ndarray], fmt: str, rep: int = 1) -> Path:
    """Write one sequence's result (time file first, boxes file last); returns the boxes file."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    box_path, time_path = result_paths(out_dir, seq_name, fmt, rep)
    if times is not None:
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        if len(times) != len(boxes):
            raise ValueError(f"{seq_name}: {len(boxes)} boxes but {len(times)} times")
        atomic_write_text(time_path, "".join(f"{t:.8f}\n" for t in times))
    atomic_write_text(box_path, format_boxes(boxes))
    return box_path


def read_matrix(path: Union[str, Path], ncols: Optional[int] = None) -> np.ndarray:
    """Read a numeric text file with comma, tab or space separators (NaN allowed) as a 2-D array."""
    path = Path(path)
    rows: List[List[float]] = []
    try:
        text = path.read_text()
    except OSError as e:
        raise ResultFormatError(f"cannot read result file {path}: {e}") from e
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = [p for p in re.split(r"[,\s;]+", line) if p]
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise ResultFormatError(f"{path}:{lineno}: not numeric: {line!r}") from None
        if ncols is not None and len(vals) != ncols:
            raise ResultFormatError(f"{path}:{lineno}: expected {ncols} values, got {len(vals)}: {line!r}")
        rows.append(vals)
    if not rows:
        return np.zeros((0, ncols or 0))
    width = {len(r) for r in rows}
    if len(width) != 1:
        raise ResultFormatError(f"{path}: rows have different numbers of values {sorted(width)}")
    return np.asarray(rows, dtype=np.float64)


def read_sequence_result(out_dir: Union[str, Path], seq_name: str, fmt: str,
                         rep: Optional[int] = None) -> Tuple[np.ndarray, Optional[np.ndarray], Path]:
    """Read ``(boxes (N,4), times (N,) or None, boxes_path)``.

    For the GOT-10k layout, ``rep=None`` takes the single ``<seq>_NNN.txt`` present
    (an error if there are several, since then the repetition must be chosen)."""
    out_dir = Path(out_dir)
    if fmt == "got10k" and rep is None:
        d = out_dir / seq_name
        cands = sorted(d.glob(f"{glob_escape(seq_name)}_[0-9][0-9][0-9].txt")) if d.is_dir() else []
        if not cands:
            raise FileNotFoundError(f"no result file {d}/{seq_name}_NNN.txt")
        if len(cands) > 1:
            raise ResultFormatError(f"{d}: several repetitions ({', '.join(c.name for c in cands)}); choose one")
        box_path = cands[0]
        time_path = d / f"{seq_name}_time.txt"
    else:
        box_path, time_path = result_paths(out_dir, seq_name, fmt, rep or 1)
    if not box_path.is_file():
        raise FileNotFoundError(f"no result file {box_path}")
    boxes = read_matrix(box_path, 4)
    times = None
    if time_path.is_file():
        t = read_matrix(time_path)
        if t.size:
            # GOT-10k time files hold one column per repetition; pick ours if there are several.
            col = 0
            if t.ndim == 2 and t.shape[1] > 1 and rep is not None and rep <= t.shape[1]:
                col = rep - 1
            times = t[:, col] if t.ndim == 2 else t
    return boxes, times, box_path


def glob_escape(name: str) -> str:
    """Escape glob metacharacters in a sequence name."""
    return re.sub(r"([\[\]\*\?])", r"[\1]", name)


def cleanup_stale_tmp(out_dir: Union[str, Path]) -> int:
    """Remove temporary files left by killed writers (their process no longer exists)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return 0
    n = 0
    for p in out_dir.rglob(".*.tmp.*"):
        m = _TMP_RE.match(p.name)
        if not m:
            continue
        pid = int(m.group("pid"))
        try:
            os.kill(pid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        except PermissionError:
            alive = True
        if not alive:
            try:
                p.unlink()
                n += 1
            except OSError:
                pass
    return n
