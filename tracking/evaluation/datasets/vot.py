"""VOT short-term datasets (VOT2018, VOT2019) in both on-disk layouts of the vot-toolkit:

* default: ``<root>/list.txt``, ``<root>/<seq>/{sequence, color/00000001.jpg.., groundtruth.txt, *.tag, *.value}``
  where the ``sequence`` file (``key=value``) may name the frame pattern (``channels.color=color/%08d.jpg``);
* legacy: ``<root>/<seq>/{00000001.jpg.., groundtruth.txt, *.tag | *.label}`` (VOT2013-2018 downloads).

Ground truth lines are rectangles (``x,y,w,h``) or polygons (``x1,y1,...,x4,y4``), used as stored
(the toolkit's pixel coordinates); a one-value line (special region) is an unknown frame (NaN).  The
polygons are kept in ``Sequence.polygons`` and converted to axis-aligned ``ground_truth`` boxes by
:func:`polygon_to_box`:

* ``'minmax'`` (default): the bounding rectangle of the polygon — what pytracking's VOT dataset and
  the vot-toolkit's ``Polygon.convert(RECTANGLE)`` use;
* ``'area'``: pysot/VOT "area-preserving" box: centred on the vertex mean, min-max extent scaled by
  ``s = sqrt(area(polygon sides) / area(min-max box))`` so that its area matches the rotated box;
* ``'pysot'``: the same with pysot's ``+1`` pixel convention
  (``get_axis_aligned_bbox``: ``w = s*(x2-x1)+1``, top-left ``cx-(w-1)/2``) for exact pysot initialisation.

Per-frame tags (``*.tag``/``*.label``, one 0/1 per line, padded with 0) and values (``*.value``) are
attributes (``attributes['tags'][name]``, ``attributes['values'][name]``), as the toolkit reads them.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

import numpy as np

from ltr.admin.registry import EVAL_DATASETS
from tracking.evaluation.data import Sequence, SequenceList
from tracking.evaluation.datasets._common import (DatasetError, parse_ini, read_lines, resolve_root, select, want)

__all__ = ["VOT_BOX_MODES", "polygon_to_box", "read_vot_regions", "load_vot", "vot2018", "vot2019"]

VOT_BOX_MODES = ("minmax", "area", "pysot")
_SPLIT = re.compile(r"[,\s]+")


def polygon_to_box(polygons: np.ndarray, mode: str = "minmax") -> np.ndarray:
    """Axis-aligned ``[x, y, w, h]`` boxes from (N, 2K) polygons (see the module docstring for modes)."""
    p = np.asarray(polygons, dtype=np.float64)
    if p.ndim == 1:
        p = p[None]
    if p.shape[1] < 6 or p.shape[1] % 2:
        raise ValueError(f"polygon_to_box: expected (N, 2K) polygons with K >= 3, got shape {p.shape}")
    xs, ys = p[:, 0::2], p[:, 1::2]
    x1, x2, y1, y2 = xs.min(1), xs.max(1), ys.min(1), ys.max(1)
    if mode == "minmax":
        return np.stack([x1, y1, x2 - x1, y2 - y1], 1)
    if mode not in ("area", "pysot"):
        raise ValueError(f"polygon_to_box: unknown mode '{mode}' (valid: {', '.join(VOT_BOX_MODES)})")
    cx, cy = xs.mean(1), ys.mean(1)
    side1 = np.hypot(p[:, 0] - p[:, 2], p[:, 1] - p[:, 3])
    side2 = np.hypot(p[:, 2] - p[:, 4], p[:, 3] - p[:, 5])
    a_box = (x2 - x1) * (y2 - y1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(a_box > 0, np.sqrt(side1 * side2 / a_box), 1.0)
    w, h = s * (x2 - x1), s * (y2 - y1)
    if mode == "pysot":
        w, h = w + 1, h + 1
        return np.stack([cx - (w - 1) / 2, cy - (h - 1) / 2, w, h], 1)
    return np.stack([cx - w / 2, cy - h / 2, w, h], 1)


def read_vot_regions(path: Path, dataset: str, seq: str) -> Tuple[np.ndarray, np.ndarray]:
    """Parse a VOT region file: returns ``(polygons (N, 8), is_polygon (N,))``; rectangles become
    their 4 corners, one-value (special) lines NaN rows."""
    lines = read_lines(path, dataset, seq)
    while lines and not lines[-1].strip():
        lines.pop()
    polys = np.full((len(lines), 8), np.nan)
    is_poly = np.zeros(len(lines), dtype=bool)
    for i, ln in enumerate(lines):
        s = ln.strip()
        if not s:
            continue
        if s.startswith("m"):
            raise DatasetError(f"{dataset}/{seq}: {path} line {i + 1}: mask regions are not supported")
        try:
            v = [float(t) for t in _SPLIT.split(s) if t]
        except ValueError:
            raise DatasetError(f"{dataset}/{seq}: {path} line {i + 1}: cannot parse '{s}'") from None
        if len(v) == 1:
            continue
        if len(v) == 4:
            x, y, w, h = v
            polys[i] = [x, y, x + w, y, x + w, y + h, x, y + h]
        elif len(v) == 8:
            polys[i] = v
            is_poly[i] = True
        else:
            raise DatasetError(f"{dataset}/{seq}: {path} line {i + 1}: expected 4 or 8 values, got {len(v)}")
    return polys, is_poly


def _count_frames(folder: Path, ext: str) -> int:
    """Consecutive frames ``00000001.ext, 00000002.ext, ...`` present (the toolkit's pattern channel)."""
    nums = set()
    if folder.is_dir():
        for p in folder.iterdir():
            if p.suffix.lower() == ext and p.stem.isdigit():
                nums.add(int(p.stem))
    n = 0
    while n + 1 in nums:
        n += 1
    return n


def _read_per_frame(files: List[Path], n: int, kind: str, dataset: str, seq: str) -> Dict[str, np.ndarray]:
    out: Dict[str, np.ndarray] = {}
    for f in sorted(files):
        lines = [ln.strip() for ln in read_lines(f, dataset, seq)]
        while lines and not lines[-1]:
            lines.pop()
        if kind == "tag":
            arr = np.zeros(n, dtype=bool)
            vals = np.asarray([ln == "1" for ln in lines[:n]], dtype=bool)
        else:
            arr = np.zeros(n, dtype=np.float64)
            try:
                vals = np.asarray([float(ln) for ln in lines[:n]], dtype=np.float64)
            except ValueError:
                raise DatasetError(f"{dataset}/{seq}: {f}: non-numeric value") from None
        arr[: len(vals)] = vals
        out[f.stem] = arr
    return out


def load_vot(root: Path, dataset: str, box: str = "minmax", sequences: Optional[Iterable[str]] = None) -> SequenceList:
    if box not in VOT_BOX_MODES:
        raise ValueError(f"{dataset}: unknown box mode '{box}' (valid: {', '.join(VOT_BOX_MODES)})")
    list_file = root / "list.txt"
    if list_file.is_file():
        names = [ln.strip() for ln in read_lines(list_file, dataset, "list.txt") if ln.strip()]
    else:
        names = sorted(p.name for p in root.iterdir() if (p / "groundtruth.txt").is_file())
        if not names:
            raise DatasetError(f"{dataset}: no list.txt and no sequence folder with groundtruth.txt in {root}")
    wanted = want(sequences)
    seqs: List[Sequence] = []
    for name in names:
        if not wanted(name):
            continue
        d = root / name
        if not d.is_dir():
            raise DatasetError(f"{dataset}/{name}: listed in {list_file} but {d} does not exist")
        meta = parse_ini(d / "sequence") if (d / "sequence").is_file() else {}
        if "channels.color" in meta:
            pattern, layout = meta["channels.color"], "default"
        elif (d / "color").is_dir():
            pattern, layout = "color/%08d.jpg", "default"
        else:
            pattern, layout = "%08d.jpg", "legacy"
        rel = Path(pattern)
        folder, ext = d / rel.parent, rel.suffix.lower() or ".jpg"
        if "length" in meta and meta["length"].strip().isdigit():
            n = int(meta["length"])
        else:
            n = _count_frames(folder, ext)
        gt_file = d / "groundtruth.txt"
        polys, is_poly = read_vot_regions(gt_file, dataset, name)
        if n == 0:
            raise DatasetError(f"{dataset}/{name}: missing frame {folder / (pattern.split('/')[-1] % 1)}")
        if len(polys) > n:
            raise DatasetError(f"{dataset}/{name}: {gt_file} has {len(polys)} regions but frame "
                               f"{folder / (rel.name % (n + 1))} is missing")
        if len(polys) < n:  # the toolkit pads a short ground truth with unknown regions
            polys = np.concatenate([polys, np.full((n - len(polys), 8), np.nan)], 0)
            is_poly = np.concatenate([is_poly, np.zeros(n - len(is_poly), dtype=bool)])
        frames = [str(folder / (rel.name % i)) for i in range(1, n + 1)]
        gt = polygon_to_box(polys, "minmax")
        if is_poly.any() and box != "minmax":
            gt[is_poly] = polygon_to_box(polys[is_poly], box)
        tags = _read_per_frame(list(d.glob("*.tag")) + list(d.glob("*.label")), n, "tag", dataset, name)
        values = _read_per_frame(list(d.glob("*.value")), n, "value", dataset, name)
        attrs = {"tags": tags, "values": values, "layout": layout, "box_mode": box,
                 "fps": int(meta["fps"]) if meta.get("fps", "").isdigit() else 30}
        seqs.append(Sequence(name, frames, gt, dataset, attributes=attrs, polygons=polys))
    return select(seqs, sequences, dataset)


@EVAL_DATASETS.register("vot2018", protocol="vot2018", metric_dataset="vot", gt_public=True, results_format="vot",
                        eao_interval=(100, 356))
def vot2018(root: Optional[Union[str, Path]] = None, *, box: str = "minmax",
            sequences: Optional[Iterable[str]] = None) -> SequenceList:
    """VOT2018 short-term (60 sequences); ``datasets.vot2018``; ``box`` picks the polygon conversion."""
    return load_vot(resolve_root(root, "vot2018"), "vot2018", box, sequences)


@EVAL_DATASETS.register("vot2019", protocol="vot2018", metric_dataset="vot", gt_public=True, results_format="vot",
                        eao_interval=(46, 291))
def vot2019(root: Optional[Union[str, Path]] = None, *, box: str = "minmax",
            sequences: Optional[Iterable[str]] = None) -> SequenceList:
    """VOT2019 short-term (60 sequences, supervised protocol with EAO interval 46/291); ``datasets.vot2019``."""
    return load_vot(resolve_root(root, "vot2019"), "vot2019", box, sequences)
