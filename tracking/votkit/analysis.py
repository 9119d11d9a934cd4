"""Read a VOT toolkit workspace's results with SOTLab, without the toolkit.

The toolkit stores one trajectory per run (vot-toolkit 0.7.4,
``vot/tracker/results.py``, ``vot/region/io.py``)::

    results/<tracker>/<experiment>/<seq>/<seq>_001.bin|.txt      supervised / unsupervised, repetition 1..R
    results/<tracker>/<experiment>/<seq>/<seq>_00000042.bin|.txt  multistart, run from anchor frame 42
    results/.../<name>_time.value, <name>_confidence.value        per-frame properties

``.txt`` holds one region per line (``x,y,w,h``, ``x1,y1,...`` polygon, or a
special code: 1 = initialisation, 2 = failure, 0 = unknown/skipped).  ``.bin``
(the toolkit default, ``VOT_RESULTS_BINARY``) holds the same regions as
little-endian records; both are read here.  Regions come back as float32 arrays
because the toolkit keeps them in float32 (its overlap rounds the coordinates,
so float64 could round a ``.5`` differently).

:func:`analyze_workspace` feeds these trajectories to SOTLab's own VOT metrics
(``tracking.analysis.metrics``), which must agree with ``vot analysis``.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence as Seq, Tuple, Union

import numpy as np
import yaml

__all__ = [
    "UNKNOWN", "INITIALIZATION", "FAILURE",
    "Region", "read_regions", "read_trajectory", "read_values",
    "VOTSequence", "read_sequence", "read_workspace_sequences", "read_stack",
    "supervised_trajectories", "multistart_trajectories", "region_codes", "rectangles",
    "vot_overlap", "trajectory_overlaps",
    "ExperimentScores", "supervised_scores", "multistart_scores", "analyze_workspace", "VOTResultsError",
]

UNKNOWN, INITIALIZATION, FAILURE = 0, 1, 2

#: a special code (int), a rectangle (float32[4] xywh), a polygon (float32[2N]) or a mask
#: (dict with 'offset' and 'mask' HxW uint8)
Region = Union[int, np.ndarray, Dict[str, Any]]


class VOTResultsError(FileNotFoundError):
    """Missing or malformed workspace/results file; the message names it."""


# --------------------------------------------------------------------------- region files

def _parse_text_region(line: str, where: str) -> Region:
    line = line.strip()
    if not line:
        raise VOTResultsError(f"{where}: empty line")
    if line[0] == "m":
        return _mask_from_text(line[1:], where)
    try:
        vals = [float(t) for t in line.split(",")]
    except ValueError as e:
        raise VOTResultsError(f"{where}: cannot parse region '{line}'") from e
    if len(vals) == 1:
        return int(vals[0])
    if len(vals) >= 4 and len(vals) % 2 == 0:
        if not np.all(np.isfinite(vals)):
            return UNKNOWN  # the toolkit reads a region with NaN as special 0
        if len(vals) == 4:
            return np.array(vals, dtype=np.float32)
        if len(vals) >= 6:
            return np.array(vals, dtype=np.float32)
    raise VOTResultsError(f"{where}: region '{line}' is neither a code, a rectangle nor a polygon")


def _rle_to_mask(rle: np.ndarray, w: int, h: int) -> np.ndarray:
    """Toolkit RLE: alternating run lengths of 0 and 1, row-major."""
    values = np.zeros(len(rle), dtype=np.uint8)
    values[1::2] = 1
    flat = np.repeat(values, rle.astype(np.int64))
    out = np.zeros(w * h, dtype=np.uint8)
    out[: min(len(flat), w * h)] = flat[: w * h]
    return out.reshape(h, w)


def _mask_from_text(body: str, where: str) -> Dict[str, Any]:
    vals = [int(float(t)) for t in body.split(",")]
    if len(vals) < 4:
        raise VOTResultsError(f"{where}: malformed mask region")
    x, y, w, h = vals[:4]
    return {"offset": (x, y), "mask": _rle_to_mask(np.array(vals[4:]), w, h)}


def _read_binary(data: bytes, where: str) -> List[Region]:
    off = 0

    def take(fmt: str) -> Tuple:
        nonlocal off
        try:
            out = struct.unpack_from(fmt, data, off)
        except struct.error as e:
            raise VOTResultsError(f"{where}: truncated binary trajectory") from e
        off += struct.calcsize(fmt)
        return out

    version, length = take("<hI")
    if version != 1:
        raise VOTResultsError(f"{where}: unknown binary trajectory version {version}")
    regions: List[Region] = []
    for _ in range(length):
        (kind,) = take("<B")
        if kind == 0:
            regions.append(int(take("<I")[0]))
        elif kind == 1:
            regions.append(np.array(take("<ffff"), dtype=np.float32))
        elif kind == 2:
            (n,) = take("<H")
            regions.append(np.array(take(f"<{2 * n}f"), dtype=np.float32))
        elif kind == 3:
            x, y, w, h, n = take("<hhHHH")
            rle = np.array(take(f"<{n}H"), dtype=np.int64)
            regions.append({"offset": (x, y), "mask": _rle_to_mask(rle, w, h)})
        else:
            raise VOTResultsError(f"{where}: unknown region record type {kind}")
    return regions


def read_regions(path: Union[str, Path]) -> List[Region]:
    """All regions of a trajectory/ground-truth file (text or the toolkit's binary)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise VOTResultsError(f"cannot read {p}: {e}") from e
    if p.suffix == ".bin" or (len(data) >= 2 and struct.unpack_from("<h", data)[0] == 1 and p.suffix != ".txt"):
        return _read_binary(data, str(p))
    lines = data.decode("utf-8").splitlines()
    return [_parse_text_region(l, f"{p}:{i + 1}") for i, l in enumerate(lines) if l.strip()]


def read_trajectory(stem: Union[str, Path]) -> List[Region]:
    """Trajectory ``<stem>.bin`` or ``<stem>.txt`` (``.txt`` wins, as in the toolkit)."""
    stem = Path(stem)
    for ext in (".txt", ".bin"):
        f = stem.with_name(stem.name + ext)
        if f.is_file():
            return read_regions(f)
    raise VOTResultsError(f"no trajectory {stem}.txt or {stem}.bin")


def read_values(path: Union[str, Path]) -> List[Optional[float]]:
    """A ``*.value`` property file (empty line = no value for that frame)."""
    out: List[Optional[float]] = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        out.append(float(line) if line else None)
    return out


def region_codes(trajectory: Seq[Region]) -> np.ndarray:
    """Per frame: the special code, or -1 for a reported region."""
    return np.array([r if isinstance(r, int) else -1 for r in trajectory], dtype=np.int64)


def rectangles(trajectory: Seq[Region]) -> np.ndarray:
    """(N, 4) float64 xywh: rectangles as they are, polygons as their tight box, NaN for codes."""
    out = np.full((len(trajectory), 4), np.nan)
    for i, r in enumerate(trajectory):
        if isinstance(r, np.ndarray):
            if len(r) == 4:
                out[i] = r
            else:
                pts = r.reshape(-1, 2).astype(np.float64)
                lo, hi = pts.min(0), pts.max(0)
                out[i] = [lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]]
    return out


# --------------------------------------------------------------------------- workspace

@dataclass
class VOTSequence:
    name: str
    path: Path
    groundtruth: List[Region]
    width: int
    height: int
    #: anchor.value (1 forward, -1 backward, 0 none) or None
    anchors: Optional[np.ndarray] = None

    @property
    def size(self) -> Tuple[int, int]:
        return self.width, self.height

    def __len__(self) -> int:
        return len(self.groundtruth)


def _read_properties(path: Path) -> Dict[str, str]:
    props: Dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                props[k.strip()] = v.strip()
    return props


def read_sequence(path: Union[str, Path]) -> VOTSequence:
    """One sequence in the toolkit's default (``sequence`` file) or legacy format."""
    path = Path(path)
    meta = _read_properties(path / "sequence")
    gt = read_regions(path / meta.get("groundtruth", "groundtruth.txt"))
    pattern = meta.get("channels.color", "color/%08d.jpg" if meta else "%08d.jpg")
    if os.path.splitext(pattern)[1] == "":
        pattern = os.path.join(pattern, "%08d.jpg")
    length = int(meta["length"]) if meta.get("length") else None
    if length is None:  # count frames like the toolkit (consecutive files from 1)
        length = 0
        while (path / (pattern % (length + 1))).is_file():
            length += 1
    if len(gt) < length:
        gt = gt + [UNKNOWN] * (length - len(gt))
    if meta.get("width") and meta.get("height"):
        w, h = int(meta["width"]), int(meta["height"])
    else:
        from ltr.utils.image import imread_rgb

        h, w = imread_rgb(path / (pattern % 1)).shape[:2]
    anchors = None
    if (path / "anchor.value").is_file():
        anchors = np.array([v or 0.0 for v in read_values(path / "anchor.value")], dtype=np.float64)
    return VOTSequence(path.name, path, gt[:length] if length else gt, w, h, anchors)


def read_workspace_sequences(workspace: Union[str, Path]) -> List[VOTSequence]:
    ws = Path(workspace)
    cfg = _read_config(ws)
    seq_root = Path(cfg.get("sequences", "sequences"))
    seq_root = seq_root if seq_root.is_absolute() else ws / seq_root
    lst = seq_root / "list.txt"
    if not lst.is_file():
        raise VOTResultsError(f"{lst}: missing (not a prepared workspace?)")
    names = [n.strip() for n in lst.read_text().splitlines() if n.strip()]
    return [read_sequence(Path(n) if os.path.isabs(n) else seq_root / n) for n in names]


def _read_config(ws: Path) -> Dict[str, Any]:
    f = ws / "config.yaml"
    if not f.is_file():
        raise VOTResultsError(f"{f}: missing (not a VOT workspace)")
    return yaml.safe_load(f.read_text()) or {}


def read_stack(workspace: Union[str, Path]) -> Dict[str, Any]:
    """The workspace's stack (a YAML file next to config.yaml, or inline)."""
    ws = Path(workspace)
    stack = _read_config(ws).get("stack")
    if isinstance(stack, dict):
        return stack
    if not isinstance(stack, str):
        raise VOTResultsError(f"{ws / 'config.yaml'}: no 'stack'")
    p = Path(stack) if os.path.isabs(stack) else ws / stack
    if not p.is_file():
        raise VOTResultsError(f"{ws / 'config.yaml'}: stack '{stack}' is not a file in the workspace "
                              "(built-in stack names are not resolved here)")
    return yaml.safe_load(p.read_text())


def _results_dir(ws: Path, tracker: str, experiment: str, seq: str) -> Path:
    return ws / "results" / tracker / experiment / seq


def supervised_trajectories(workspace: Union[str, Path], tracker: str, experiment: str,
                            sequences: Optional[Seq[VOTSequence]] = None,
                            repetitions: Optional[int] = None) -> Dict[str, List[List[Region]]]:
    """``{sequence: [trajectory of repetition 1, 2, ...]}`` for a supervised/unsupervised
    experiment.  Like the toolkit, repetitions are read until the first missing one
    (a deterministic tracker stops after 3 identical runs)."""
    ws = Path(workspace)
    seqs = sequences if sequences is not None else read_workspace_sequences(ws)
    out: Dict[str, List[List[Region]]] = {}
    for s in seqs:
        d = _results_dir(ws, tracker, experiment, s.name)
        runs = []
        i = 1
        while repetitions is None or i <= repetitions:
            stem = d / f"{s.name}_{i:03d}"
            if not (stem.with_name(stem.name + ".txt").is_file() or stem.with_name(stem.name + ".bin").is_file()):
                break
            runs.append(read_trajectory(stem))
            i += 1
        if not runs:
            raise VOTResultsError(f"no results for tracker '{tracker}', experiment '{experiment}', "
                                  f"sequence '{s.name}' in {d} (run `vot evaluate` first)")
        for k, r in enumerate(runs):
            if len(r) != len(s):
                raise VOTResultsError(f"{d}/{s.name}_{k + 1:03d}: {len(r)} regions for {len(s)} frames")
        out[s.name] = runs
    return out


def multistart_trajectories(workspace: Union[str, Path], tracker: str, experiment: str,
                            sequences: Optional[Seq[VOTSequence]] = None) -> Dict[str, Dict[int, List[Region]]]:
    """``{sequence: {anchor frame: trajectory}}``; a backward run is stored (and returned)
    in its own frame order, i.e. starting at the anchor and going to frame 0."""
    ws = Path(workspace)
    seqs = sequences if sequences is not None else read_workspace_sequences(ws)
    out: Dict[str, Dict[int, List[Region]]] = {}
    for s in seqs:
        if s.anchors is None or not np.any(s.anchors != 0):
            raise VOTResultsError(f"{s.path}: no anchors (anchor.value) for the multistart experiment")
        d = _results_dir(ws, tracker, experiment, s.name)
        runs = {}
        for i in np.flatnonzero(s.anchors != 0):
            runs[int(i)] = read_trajectory(d / f"{s.name}_{int(i):08d}")
        out[s.name] = runs
    return out


# --------------------------------------------------------------------------- overlaps
# The toolkit rasterises both regions on the pixel grid (vot/region/raster.py): coordinates are
# rounded, a rectangle covers pixels x .. x+w-1, only pixels inside the image count, two empty
# regions overlap 1, and regions whose union box is degenerate overlap 1 (its quirks included).
# Rectangle pairs go through ``metrics.vot_rect_overlap`` (vectorised over frames); frames with a
# polygon or a mask use the exact rasteriser below (vectorised over pixels / polygon rows).

def _meta(r: Region) -> Tuple[str, Any, Tuple[int, int, int, int]]:
    """(kind, data, (left, top, right, bottom)) as the toolkit's ``_infer_meta`` + ``_region_bounds``."""
    if isinstance(r, np.ndarray) and len(r) == 4:
        d = np.round(r.astype(np.float32)).astype(np.float64)
        return "rect", d, (int(d[0]), int(d[1]), int(d[0] + d[2] - 1), int(d[1] + d[3] - 1))
    if isinstance(r, np.ndarray):
        p = np.round(r.astype(np.float32).reshape(-1, 2)).astype(np.float64)
        lo, hi = p.min(0), p.max(0)
        return "poly", p, (int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))
    if isinstance(r, dict):
        m = np.asarray(r["mask"]) != 0
        ox, oy = (int(v) for v in r["offset"])
        ys, xs = np.nonzero(m)
        if len(xs) == 0:
            return "mask", (m, ox, oy), (ox, oy, ox, oy)
        return "mask", (m, ox, oy), (xs.min() + ox, ys.min() + oy, xs.max() + ox, ys.max() + oy)
    return "empty", None, (0, 0, 0, 0)


def _raster_rect(d: np.ndarray, b: Tuple[int, int, int, int]) -> np.ndarray:
    h, w = b[3] - b[1] + 1, b[2] - b[0] + 1
    out = np.zeros((h, w), dtype=bool)
    x, y, rw, rh = d
    if x > b[2] or x + rw - 1 < b[0] or y > b[3] or y + rh - 1 < b[1]:
        return out
    left, top = int(max(0, x - b[0])), int(max(0, y - b[1]))
    # the toolkit clips the window-relative end with the absolute right/bottom bound
    right, bottom = int(min(b[2], x + rw - 1 - b[0])), int(min(b[3], y + rh - 1 - b[1]))
    out[top:bottom + 1, left:right + 1] = True
    return out


def _raster_polygon(p: np.ndarray, b: Tuple[int, int, int, int]) -> np.ndarray:
    """Scan-line fill of ``rasterize_polygon`` (node rules, truncation and sort included), all rows at once."""
    h, w = b[3] - b[1] + 1, b[2] - b[0] + 1
    poly = p - np.array([[b[0], b[1]]], dtype=np.float64)
    n = len(poly)
    pi, pj = poly, np.roll(poly, 1, axis=0)  # edge (i, j=i-1), j = n-1 for i = 0
    yi, yj, xi, xj = pi[:, 1][None], pj[:, 1][None], pi[:, 0][None], pj[:, 0][None]
    Y = np.arange(h, dtype=np.float64)[:, None]
    cond = (((yi <= Y) & (yj > Y)) | ((yj <= Y) & (yi > Y)) | ((yi < Y) & (yj >= Y)) | ((yj < Y) & (yi >= Y))
            | ((yi == yj) & (yi == Y)))
    r, k = yj - yi, xj - xi
    with np.errstate(divide="ignore", invalid="ignore"):
        xs = np.where(r != 0, xi + (Y - yi) / np.where(r != 0, r, 1) * k, xi + 0 * Y)
    # unused node slots sort last; 2**62 is beyond any row width (the fill loop stops there)
    nodes_x = np.sort(np.where(cond, np.trunc(xs), float(2 ** 62)), axis=1).astype(np.int64)
    nodes = cond.sum(1)
    rows = np.arange(h)
    ptr = np.zeros(h, dtype=np.int64)
    alive = np.ones(h, dtype=bool)
    diff = np.zeros((h, w + 1), dtype=np.int64)
    for _ in range(2 * n + 2):
        act = alive & (ptr < nodes - 1)
        if not act.any():
            break
        a = nodes_x[rows, np.minimum(ptr, n - 1)]
        c = nodes_x[rows, np.minimum(ptr + 1, n - 1)]
        stop = act & (a >= w)
        act &= ~stop
        skip = act & (a == c) & (ptr < nodes - 2)
        fill = act & ~skip & (c >= 0)
        s0, s1 = np.maximum(a, 0), np.minimum(c, w - 1)
        f = fill & (s0 <= s1)
        np.add.at(diff, (rows[f], s0[f]), 1)
        np.add.at(diff, (rows[f], s1[f] + 1), -1)
        alive = act
        ptr = np.where(skip, ptr + 1, ptr + 2)
    return np.cumsum(diff, axis=1)[:, :w] > 0


def _raster_mask(data: Tuple[np.ndarray, int, int], b: Tuple[int, int, int, int]) -> np.ndarray:
    m, ox, oy = data
    out = np.zeros((b[3] - b[1] + 1, b[2] - b[0] + 1), dtype=bool)
    tx, ty = max(ox, b[0]), max(oy, b[1])
    tw = min(b[2] + 1, ox + m.shape[1]) - tx
    th = min(b[3] + 1, oy + m.shape[0]) - ty
    if tw > 0 and th > 0:
        out[ty - b[1]:ty - b[1] + th, tx - b[0]:tx - b[0] + tw] = m[ty - oy:ty - oy + th, tx - ox:tx - ox + tw]
    return out


def vot_overlap(a: Region, b: Region, bounds: Optional[Tuple[int, int]] = None) -> float:
    """Overlap of two regions exactly as vot-toolkit's ``calculate_overlap`` (any region kinds)."""
    ka, da, ba = _meta(a)
    kb, db, bb = _meta(b)
    u = (min(ba[0], bb[0]), min(ba[1], bb[1]), max(ba[2], bb[2]), max(ba[3], bb[3]))
    if u[0] >= u[2] or u[1] >= u[3]:
        return 1.0  # "two empty regions are identical" (and the toolkit's degenerate-union rule)
    if bounds is not None:
        u = (max(0, u[0]), max(0, u[1]), min(bounds[0] - 1, u[2]), min(bounds[1] - 1, u[3]))
    if u[0] >= u[2] or u[1] >= u[3]:
        return 0.0

    def raster(kind: str, data: Any) -> np.ndarray:
        if kind == "rect":
            return _raster_rect(data, u)
        if kind == "poly":
            return _raster_polygon(data, u)
        if kind == "mask":
            return _raster_mask(data, u)
        return np.zeros((u[3] - u[1] + 1, u[2] - u[0] + 1), dtype=bool)

    ma, mb = raster(ka, da), raster(kb, db)
    union = int(np.count_nonzero(ma | mb))
    return float(np.count_nonzero(ma & mb)) / union if union > 0 else 0.0


def trajectory_overlaps(trajectory: Seq[Region], groundtruth: Seq[Region],
                        bounds: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Per-frame toolkit overlaps (``calculate_overlaps``) of a trajectory with the ground truth."""
    from tracking.analysis.metrics import vot_rect_overlap

    if len(trajectory) != len(groundtruth):
        raise VOTResultsError(f"{len(trajectory)} regions for {len(groundtruth)} ground-truth frames")
    simple = np.array([not isinstance(r, (np.ndarray, dict)) or (isinstance(r, np.ndarray) and len(r) == 4)
                       for r in trajectory]) & np.array(
        [not isinstance(g, (np.ndarray, dict)) or (isinstance(g, np.ndarray) and len(g) == 4) for g in groundtruth])
    out = np.zeros(len(trajectory))
    if simple.any():
        idx = np.flatnonzero(simple)
        out[idx] = vot_rect_overlap(rectangles([trajectory[i] for i in idx]).astype(np.float64),
                                    rectangles([groundtruth[i] for i in idx]).astype(np.float64), bounds)
    for i in np.flatnonzero(~simple):
        out[i] = vot_overlap(trajectory[i], groundtruth[i], bounds)
    return out


def _is_empty(r: Region) -> bool:
    """The toolkit's ``Region.is_empty`` (specials are empty; rectangles need w, h > 0)."""
    if isinstance(r, np.ndarray) and len(r) == 4:
        return not (r[2] > 0 and r[3] > 0)
    if isinstance(r, np.ndarray):
        p = r.reshape(-1, 2)
        return not (p[:, 0].max() - p[:, 0].min() > 0 and p[:, 1].max() - p[:, 1].min() > 0)
    if isinstance(r, dict):
        return _meta(r)[2][2] == _meta(r)[2][0] or _meta(r)[2][3] == _meta(r)[2][1]
    return True


# --------------------------------------------------------------------------- metrics

@dataclass
class ExperimentScores:
    """SOTLab's scores of one tracker on one experiment, next to the metric result object."""

    tracker: str
    experiment: str
    kind: str  #: supervised | multistart
    result: Any  #: metrics.VOTSupervisedResult | metrics.VOTMultistartResult

    def summary(self) -> Dict[str, float]:
        r = self.result
        if self.kind == "supervised":
            return {"accuracy": r.accuracy, "failures": r.failures, "robustness": r.robustness, "eao": r.eao}
        return {"accuracy": r.accuracy, "robustness": r.robustness, "eao": r.eao}


def _analysis_params(exp: Dict[str, Any], kind: str) -> Dict[str, Any]:
    for a in exp.get("analyses", []) or []:
        if isinstance(a, dict) and a.get("type") == kind:
            return a
    return {}


def supervised_scores(workspace: Union[str, Path], tracker: str, experiment: str = "baseline",
                      sequences: Optional[Seq[VOTSequence]] = None) -> ExperimentScores:
    """SOTLab's A / failures / R / EAO of a supervised experiment, with the parameters
    (repetitions, burnin, sensitivity, EAO low/high) of the workspace stack's analyses."""
    from tracking.analysis.metrics import vot_supervised

    ws = Path(workspace)
    exp = read_stack(ws)["experiments"][experiment]
    seqs = sequences if sequences is not None else read_workspace_sequences(ws)
    runs = supervised_trajectories(ws, tracker, experiment, seqs, exp.get("repetitions"))
    ar = _analysis_params(exp, "supervised_average_ar")
    eao = _analysis_params(exp, "supervised_eao_score")
    if "low" not in eao or "high" not in eao:
        raise VOTResultsError(f"stack experiment '{experiment}' has no supervised_eao_score analysis with low/high")
    overlaps, codes = [], []
    for s in seqs:
        overlaps.append([trajectory_overlaps(t, s.groundtruth, s.size) for t in runs[s.name]])
        codes.append([region_codes(t) for t in runs[s.name]])
    res = vot_supervised(overlaps, codes, burnin=int(ar.get("burnin", 10)),
                         sensitivity=float(ar.get("sensitivity", 30)), low=int(eao["low"]), high=int(eao["high"]),
                         ignore_unknown=bool(ar.get("ignore_unknown", True)), names=[s.name for s in seqs])
    return ExperimentScores(tracker, experiment, "supervised", res)


def multistart_scores(workspace: Union[str, Path], tracker: str, experiment: str = "baseline",
                      sequences: Optional[Seq[VOTSequence]] = None) -> ExperimentScores:
    """SOTLab's A / R / EAO of a multistart (VOT2020+) experiment; backward runs are
    compared with the ground truth in their own (reversed) frame order."""
    from tracking.analysis.metrics import vot_multistart

    ws = Path(workspace)
    exp = read_stack(ws)["experiments"][experiment]
    seqs = sequences if sequences is not None else read_workspace_sequences(ws)
    runs = multistart_trajectories(ws, tracker, experiment, seqs)
    ar = _analysis_params(exp, "multistart_average_ar")
    eao = _analysis_params(exp, "multistart_eao_score")
    if "low" not in eao or "high" not in eao:
        raise VOTResultsError(f"stack experiment '{experiment}' has no multistart_eao_score analysis with low/high")
    overlaps, empties = [], []
    for s in seqs:
        ov_s, em_s = [], []
        for i, traj in runs[s.name].items():
            frames = list(range(i, -1, -1)) if s.anchors[i] < 0 else list(range(i, len(s)))
            gt = [s.groundtruth[f] for f in frames]
            if len(traj) != len(gt):
                raise VOTResultsError(f"{s.name}: anchor {i}: {len(traj)} regions for a run of {len(gt)} frames")
            ov_s.append(trajectory_overlaps(traj, gt, s.size))
            em_s.append(np.array([_is_empty(g) for g in gt]))
        overlaps.append(ov_s)
        empties.append(em_s)
    res = vot_multistart(overlaps, gt_empty=empties, sequence_lengths=[len(s) for s in seqs],
                         threshold=float(ar.get("threshold", 0.1)), grace=int(ar.get("grace", 10)),
                         low=int(eao["low"]), high=int(eao["high"]), names=[s.name for s in seqs])
    return ExperimentScores(tracker, experiment, "multistart", res)


def analyze_workspace(workspace: Union[str, Path], trackers: Optional[Seq[str]] = None,
                      experiments: Optional[Seq[str]] = None) -> List[ExperimentScores]:
    """SOTLab's scores for every tracker x supervised/multistart experiment with results."""
    ws = Path(workspace)
    stack = read_stack(ws)
    seqs = read_workspace_sequences(ws)
    if trackers is None:
        rdir = ws / "results"
        trackers = sorted(p.name for p in rdir.iterdir() if p.is_dir()) if rdir.is_dir() else []
    out: List[ExperimentScores] = []
    for t in trackers:
        for name, exp in stack["experiments"].items():
            if (experiments and name not in experiments) or not (ws / "results" / t / name).is_dir():
                continue
            if exp.get("type") == "supervised":
                out.append(supervised_scores(ws, t, name, seqs))
            elif exp.get("type") == "multistart":
                out.append(multistart_scores(ws, t, name, seqs))
    return out
