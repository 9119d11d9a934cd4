"""GOT-10k (val / test) and the built-in synthetic benchmark (same layout).

Layout: ``<root>/<split>/list.txt`` and ``<root>/<split>/<seq>/{00000001.jpg.., groundtruth.txt,
absence.label, cover.label, cut_by_image.label, meta_info.ini}``.  Ground truth is comma separated
``x,y,w,h`` as stored; on the test split (and TrackingNet-like withheld splits) only the first row
is public: the remaining rows are NaN and ``gt_public`` is False.  Per-frame labels are attributes
(``absence``, ``cover`` 0..8, ``cut_by_image``); ``target_visible = cover > 0`` (exactly the frames
``ExperimentGOT10k.report`` scores; ``absence == 0`` when there is no cover.label).  ``meta_info.ini`` (``key: value`` lines after a
``[METAINFO]`` header) gives ``object_class``, ``motion_class`` ... and ``resolution`` (W, H), the
image bound got10k clips boxes to.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Union

import numpy as np

from ltr.admin.registry import EVAL_DATASETS
from tracking.evaluation.data import Sequence, SequenceList
from tracking.evaluation.datasets._common import (DatasetError, check_numbering, listed_frames, pad_rows, parse_ini,
                                                  read_boxes, read_flags, read_lines, resolve_root, select, want)

__all__ = ["load_got10k_split", "got10k", "got10k_val", "got10k_test", "synthetic", "synthetic_val",
           "synthetic_test", "synthetic_train", "synthetic_hard"]

_LABELS = ("absence", "cover", "cut_by_image")


def _meta(path: Path, dataset: str, seq: str) -> Dict[str, object]:
    try:
        raw = parse_ini(path)
    except OSError as e:
        raise DatasetError(f"{dataset}/{seq}: cannot read {path}: {e}") from None
    meta: Dict[str, object] = dict(raw)
    if "resolution" in raw:
        try:
            w, h = ast.literal_eval(raw["resolution"])
            meta["resolution"] = (int(w), int(h))
        except (ValueError, SyntaxError, TypeError):
            raise DatasetError(f"{dataset}/{seq}: {path}: bad resolution '{raw['resolution']}' (expected '(W, H)')") from None
    return meta


def load_got10k_split(split_dir: Path, dataset: str, require_labels: bool, full_gt: Optional[bool] = None,
                      sequences: Optional[Iterable[str]] = None) -> SequenceList:
    """Read one GOT-10k-layout split directory.

    ``require_labels``: absence/cover labels must exist (GOT-10k val); ``full_gt``: True = one GT row per
    frame required, False = only the first row is public, None = whatever the file holds.
    """
    list_file = split_dir / "list.txt"
    if list_file.is_file():
        names = [ln.strip() for ln in read_lines(list_file, dataset, "list.txt") if ln.strip()]
    else:
        if not split_dir.is_dir():
            raise DatasetError(f"{dataset}: missing split folder {split_dir}")
        names = sorted(p.name for p in split_dir.iterdir() if (p / "groundtruth.txt").is_file())
        if not names:
            raise DatasetError(f"{dataset}: no list.txt and no sequence folder in {split_dir}")
    wanted = want(sequences)
    seqs: List[Sequence] = []
    for name in names:
        if not wanted(name):
            continue
        d = split_dir / name
        if not d.is_dir():
            raise DatasetError(f"{dataset}/{name}: listed in {list_file} but {d} does not exist")
        frames = listed_frames(d, dataset, name)
        check_numbering(frames, 1, dataset, name)
        n = len(frames)
        gt_file = d / "groundtruth.txt"
        gt = read_boxes(gt_file, dataset, name)
        if len(gt) > n:
            raise DatasetError(f"{dataset}/{name}: {gt_file} has {len(gt)} rows but only {n} frames exist "
                               f"(frame {n + 1:08d}.jpg missing?)")
        if full_gt is True and len(gt) != n:
            raise DatasetError(f"{dataset}/{name}: {gt_file} has {len(gt)} rows for {n} frames")
        public = len(gt) == n and full_gt is not False
        if full_gt is False:
            gt = gt[:1]
        gt = pad_rows(gt, n)
        attrs: Dict[str, object] = {}
        for lab in _LABELS:
            f = d / f"{lab}.label"
            if f.is_file():
                attrs[lab] = read_flags(f, dataset, name, n)
            elif require_labels and lab != "cut_by_image":
                raise DatasetError(f"{dataset}/{name}: missing file {f}")
        meta_file = d / "meta_info.ini"
        object_class = None
        if meta_file.is_file():
            meta = _meta(meta_file, dataset, name)
            attrs["meta"] = meta
            if "resolution" in meta:
                attrs["resolution"] = meta["resolution"]
            object_class = meta.get("object_class")  # type: ignore[assignment]
        elif require_labels:
            raise DatasetError(f"{dataset}/{name}: missing file {meta_file}")
        # visible = scored by GOT-10k (cover > 0: in view and not fully occluded); absence as a fallback
        if "cover" in attrs:
            visible = np.asarray(attrs["cover"]) > 0
        elif "absence" in attrs:
            visible = np.asarray(attrs["absence"]) == 0
        else:
            visible = None
        seqs.append(Sequence(name, frames, gt, dataset, target_visible=visible, attributes=attrs,
                             object_class=object_class, gt_public=public))
    return select(seqs, sequences, dataset)


def _got10k(root: Optional[Union[str, Path]], split: str, sequences: Optional[Iterable[str]]) -> SequenceList:
    base = resolve_root(root, "got10k")
    return load_got10k_split(base / split, f"got10k_{split}", require_labels=(split == "val"),
                             full_gt=(split == "val"), sequences=sequences)


@EVAL_DATASETS.register("got10k", protocol="got10k", metric_dataset="got10k", gt_public=False, results_format="got10k",
                        split="test")
def got10k(root: Optional[Union[str, Path]] = None, *, sequences: Optional[Iterable[str]] = None) -> SequenceList:
    """GOT-10k test split (ground truth withheld: results go to the server); ``datasets.got10k``."""
    return _got10k(root, "test", sequences)


@EVAL_DATASETS.register("got10k_test", protocol="got10k", metric_dataset="got10k", gt_public=False,
                        results_format="got10k", split="test")
def got10k_test(root: Optional[Union[str, Path]] = None, *, sequences: Optional[Iterable[str]] = None) -> SequenceList:
    """GOT-10k test split (same as ``got10k``)."""
    return _got10k(root, "test", sequences)


@EVAL_DATASETS.register("got10k_val", protocol="got10k", metric_dataset="got10k", gt_public=True,
                        results_format="got10k", split="val")
def got10k_val(root: Optional[Union[str, Path]] = None, *, sequences: Optional[Iterable[str]] = None) -> SequenceList:
    """GOT-10k validation split (180 sequences, full GT and labels); ``datasets.got10k``."""
    return _got10k(root, "val", sequences)


# ---------------------------------------------------------------- synthetic benchmark
def _synthetic(root: Optional[Union[str, Path]], split: str, sequences: Optional[Iterable[str]]) -> SequenceList:
    from ltr.dataset.synthetic.generator import ensure_synthetic  # generated on first use (cached)

    if root is None:
        from ltr.admin.settings import get_settings

        base = get_settings().synthetic_dir
    else:
        base = Path(root).expanduser()
    split_dir = Path(ensure_synthetic(base, split))
    return load_got10k_split(split_dir, f"synthetic_{split}", require_labels=False, full_gt=None, sequences=sequences)


@EVAL_DATASETS.register("synthetic", protocol="pytracking", metric_dataset="synthetic", gt_public=True,
                        results_format="got10k", split="test")
def synthetic(root: Optional[Union[str, Path]] = None, *, sequences: Optional[Iterable[str]] = None) -> SequenceList:
    """Built-in synthetic benchmark, test split (generated under ``settings.synthetic_dir`` on first use)."""
    return _synthetic(root, "test", sequences)


@EVAL_DATASETS.register("synthetic_test", protocol="pytracking", metric_dataset="synthetic", gt_public=True,
                        results_format="got10k", split="test")
def synthetic_test(root: Optional[Union[str, Path]] = None, *, sequences: Optional[Iterable[str]] = None) -> SequenceList:
    return _synthetic(root, "test", sequences)


@EVAL_DATASETS.register("synthetic_val", protocol="pytracking", metric_dataset="synthetic", gt_public=True,
                        results_format="got10k", split="val")
def synthetic_val(root: Optional[Union[str, Path]] = None, *, sequences: Optional[Iterable[str]] = None) -> SequenceList:
    return _synthetic(root, "val", sequences)


@EVAL_DATASETS.register("synthetic_train", protocol="pytracking", metric_dataset="synthetic", gt_public=True,
                        results_format="got10k", split="train")
def synthetic_train(root: Optional[Union[str, Path]] = None, *, sequences: Optional[Iterable[str]] = None) -> SequenceList:
    return _synthetic(root, "train", sequences)


@EVAL_DATASETS.register("synthetic_hard", protocol="pytracking", metric_dataset="synthetic", gt_public=True,
                        results_format="got10k", split="hard")
def synthetic_hard(root: Optional[Union[str, Path]] = None, *, sequences: Optional[Iterable[str]] = None) -> SequenceList:
    """Long-term-style split: the train split's event rates (long full occlusions, exits from the view)."""
    return _synthetic(root, "hard", sequences)
