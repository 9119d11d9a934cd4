"""Helpers shared by the benchmark loaders (not a plugin module: the leading '_' keeps
``registry.discover()`` from importing it on its own).

Conventions every loader follows:
  * ground truth is read as stored in the benchmark's files (no 1-based -> 0-based shift): every
    toolkit (pytracking, pysot, got10k, the MATLAB OTB/LaSOT kits) compares results against the raw
    values, so shifting would break parity with published raw results.  Each loader's docstring
    states the file's nominal convention;
  * unknown / unannotated rows are NaN;
  * a missing file, a missing frame or a row-count mismatch raises :class:`DatasetError` naming the
    dataset, the sequence and the file.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence as Seq, Tuple, Union

import numpy as np

from tracking.evaluation.data import Sequence, SequenceList

__all__ = [
    "DatasetError",
    "resolve_root",
    "read_boxes",
    "read_flags",
    "read_lines",
    "frame_paths",
    "check_frames",
    "check_numbering",
    "listed_frames",
    "select",
    "want",
    "fix_length",
    "pad_rows",
    "parse_ini",
]

PathLike = Union[str, Path]
_SPLIT = re.compile(r"[,\s]+")


class DatasetError(FileNotFoundError):
    """A benchmark on disk does not match its expected layout (names dataset, sequence and file)."""


def resolve_root(root: Optional[PathLike], setting: str) -> Path:
    """``root`` if given, else ``get_settings().dataset_dir(setting)`` (which raises a SettingsError that
    names the settings key, the environment variable and the expected layout)."""
    if root is not None:
        p = Path(root).expanduser()
        if not p.exists():
            raise DatasetError(f"{setting}: dataset root {p} does not exist")
        return p
    from ltr.admin.settings import get_settings

    return get_settings().dataset_dir(setting)


def read_lines(path: Path, dataset: str, seq: str) -> List[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        raise DatasetError(f"{dataset}/{seq}: missing file {path}") from None
    except OSError as e:
        raise DatasetError(f"{dataset}/{seq}: cannot read {path}: {e}") from None


def _parse_row(line: str) -> List[float]:
    toks = [t for t in _SPLIT.split(line.strip()) if t]
    return [float(t) for t in toks]


def read_boxes(path: Path, dataset: str, seq: str, ncols: Union[int, Tuple[int, ...]] = 4) -> np.ndarray:
    """Read a ground-truth text file with one row per frame.

    Accepts comma, tab or space separated values (also mixed, e.g. OTB's ``1,2 3\t4``), ``NaN``/``nan``
    tokens, and blank lines inside the file (read as NaN rows, i.e. unannotated frames); trailing
    blank lines are ignored.  ``ncols`` is the accepted number(s) of values per row; the result has
    ``max(ncols)`` columns (shorter accepted rows are NaN-padded only when several widths are allowed).
    """
    widths = (ncols,) if isinstance(ncols, int) else tuple(ncols)
    lines = read_lines(path, dataset, seq)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DatasetError(f"{dataset}/{seq}: {path} is empty")
    width = max(widths)
    # fast path: one vectorised parse when every row is well-formed
    if len(widths) == 1 and all(ln.strip() for ln in lines):
        toks = _SPLIT.split(" ".join(lines).strip())
        if len(toks) == len(lines) * width:
            try:
                return np.asarray(toks, dtype=np.float64).reshape(len(lines), width)
            except ValueError:
                pass  # fall through to the per-line parse for a precise message
    out = np.full((len(lines), width), np.nan)
    for i, ln in enumerate(lines):
        if not ln.strip():
            continue
        try:
            vals = _parse_row(ln)
        except ValueError:
            raise DatasetError(f"{dataset}/{seq}: {path} line {i + 1}: cannot parse '{ln.strip()}'") from None
        if len(vals) not in widths:
            raise DatasetError(f"{dataset}/{seq}: {path} line {i + 1}: expected {' or '.join(map(str, widths))} "
                               f"values, got {len(vals)} ('{ln.strip()}')")
        out[i, : len(vals)] = vals
    return out


def read_flags(path: Path, dataset: str, seq: str, length: Optional[int] = None, dtype=np.int64) -> np.ndarray:
    """Read per-frame integer labels (one per line, or all on one comma-separated line as LaSOT)."""
    lines = [ln for ln in read_lines(path, dataset, seq) if ln.strip()]
    toks = [t for t in _SPLIT.split(" ".join(lines).strip()) if t]
    try:
        vals = np.asarray([float(t) for t in toks]).astype(dtype)
    except ValueError:
        raise DatasetError(f"{dataset}/{seq}: {path}: non-numeric label") from None
    if length is not None and len(vals) != length:
        raise DatasetError(f"{dataset}/{seq}: {path} has {len(vals)} labels for {length} frames")
    return vals


def frame_paths(folder: Path, start: int, end: int, digits: int, ext: str) -> List[str]:
    """``folder/{start..end:0{digits}d}.{ext}`` (both ends inclusive)."""
    base = str(folder)
    return [f"{base}/{i:0{digits}d}.{ext}" for i in range(start, end + 1)]


def check_frames(frames: Seq[str], dataset: str, seq: str, mode: str = "ends") -> None:
    """Raise when frame files are missing: ``'ends'`` checks the first and last one (cheap, catches a
    wrong folder or range), ``'all'`` every file, ``'none'`` nothing."""
    if mode == "none" or not frames:
        return
    if mode == "ends":
        todo: Iterable[str] = (frames[0], frames[-1]) if len(frames) > 1 else (frames[0],)
    elif mode == "all":
        todo = frames
    else:
        raise ValueError(f"check_frames: unknown mode '{mode}' (ends, all, none)")
    for f in todo:
        if not Path(f).is_file():
            raise DatasetError(f"{dataset}/{seq}: missing frame {f}")


def listed_frames(folder: Path, dataset: str, seq: str, ext: Tuple[str, ...] = (".jpg",), numeric: bool = True) -> List[str]:
    """All image files of ``folder`` sorted by frame number (numeric stem) or name."""
    if not folder.is_dir():
        raise DatasetError(f"{dataset}/{seq}: missing frame folder {folder}")
    files = [p for p in folder.iterdir() if p.suffix.lower() in ext and p.is_file()]
    if not files:
        raise DatasetError(f"{dataset}/{seq}: no {'/'.join(ext)} frames in {folder}")
    if numeric:
        try:
            files.sort(key=lambda p: int(p.stem))
        except ValueError:
            files.sort()
    else:
        files.sort()
    return [str(p) for p in files]


def check_numbering(frames: Seq[str], first: int, dataset: str, seq: str) -> None:
    """Frames named by consecutive numbers from ``first``: name the first missing one."""
    nums = np.asarray([int(Path(f).stem) for f in frames])
    expect = np.arange(first, first + len(nums))
    if len(nums) and not np.array_equal(nums, expect):
        k = int(np.flatnonzero(nums != expect)[0])
        folder = Path(frames[0]).parent
        raise DatasetError(f"{dataset}/{seq}: frame {int(expect[k])} missing in {folder} "
                           f"(found {Path(frames[k]).name} where {expect[k]} was expected)")


def select(seqs: List[Sequence], names: Optional[Iterable[str]], dataset: str) -> SequenceList:
    """Keep only ``names`` (in the given order) or all."""
    if names is None:
        return SequenceList(seqs)
    by = {s.name: s for s in seqs}
    out = []
    for n in names:
        if n not in by:
            raise DatasetError(f"{dataset}: no sequence named '{n}'")
        out.append(by[n])
    return SequenceList(out)


def want(names: Optional[Iterable[str]]) -> Callable[[str], bool]:
    """Predicate used by loaders to skip parsing sequences that were not asked for."""
    if names is None:
        return lambda n: True
    s = set(names)
    return lambda n: n in s


def fix_length(gt: np.ndarray, n: int, dataset: str, seq: str, path: Path, strict: bool) -> np.ndarray:
    """Ground truth must have one row per frame; ``strict=False`` pads with NaN / truncates instead."""
    if len(gt) == n:
        return gt
    if strict:
        raise DatasetError(f"{dataset}/{seq}: {path} has {len(gt)} rows for {n} frames")
    if len(gt) > n:
        return gt[:n]
    return np.concatenate([gt, np.full((n - len(gt), gt.shape[1]), np.nan)], 0)


def pad_rows(gt: np.ndarray, n: int) -> np.ndarray:
    if len(gt) >= n:
        return gt[:n]
    return np.concatenate([gt, np.full((n - len(gt), gt.shape[1]), np.nan)], 0)


def parse_ini(path: Path) -> Dict[str, str]:
    """``key: value`` or ``key=value`` lines (GOT-10k ``meta_info.ini``, VOT ``sequence``)."""
    out: Dict[str, str] = {}
    for ln in path.read_text(encoding="utf-8", errors="replace").splitlines():
        ln = ln.strip()
        if not ln or ln.startswith(("[", "#", ";")):
            continue
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*[:=]\s*(.*)$", ln)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out
