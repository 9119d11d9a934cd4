"""UAV123 and UAV20L from the raw layout:
``<root>/data_seq/UAV123/<folder>/000001.jpg`` and ``<root>/anno/{UAV123,UAV20L}/<seq>.txt``.

UAV123 splits long videos into several annotated sequences that share one frame folder
(``bird1_1..3`` in ``data_seq/UAV123/bird1``, ``car6_1..5`` ...); their frame ranges are hard-coded
below (from the benchmark's ``configSeqs``; note the gaps, e.g. ``uav1_3`` starts at frame 2473 and
``bird1_2`` at 775).  UAV20L uses the full folders.  Ground truth is comma separated, used as stored
(nominally 1-based); frames where the target is out of view are ``NaN,NaN,NaN,NaN`` rows (kept as
NaN: no visibility flags).  Per-sequence attributes are read from ``anno/<version>/att/<seq>.txt``
when that official file exists.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

from ltr.admin.registry import EVAL_DATASETS
from tracking.evaluation.data import Sequence, SequenceList
from tracking.evaluation.datasets._common import (DatasetError, check_frames, fix_length, frame_paths, read_boxes,
                                                  read_flags, resolve_root, select, want)

__all__ = ["UAV123_SEQUENCES", "UAV20L_SEQUENCES", "UAV_ATTRIBUTES", "load_uav", "uav", "uav20l"]

# full-folder sequences: name:last_frame
_FULL = """
bike1:3085 bike2:553 bike3:433 boat1:901 boat2:799 boat3:901 boat4:553 boat5:505 boat6:805 boat7:535 boat8:685
boat9:1399 building1:469 building2:577 building3:829 building4:787 building5:481 car2:1321 car3:1717 car4:1345
car5:745 car7:1033 car9:1879 car10:1405 car11:337 car12:499 car13:415 car14:1327 car15:469 car17:1057
car18:1207 person1:799 person3:643 person6:901 person9:661 person10:1021 person11:721 person13:883
person15:1339 person16:1147 person18:1393 person20:1783 person21:487 person22:199 person23:397 truck1:463
truck2:385 truck3:535 uav2:133 uav3:265 uav4:157 uav5:139 uav6:109 uav7:373 uav8:301 wakeboard1:421
wakeboard2:733 wakeboard3:823 wakeboard4:697 wakeboard5:1675 wakeboard6:1165 wakeboard7:199 wakeboard8:1543
wakeboard9:355 wakeboard10:469 car1_s:1475 car2_s:320 car3_s:1300 car4_s:830 person1_s:1600 person2_s:250
person3_s:505
"""
# split sequences: name:first-last (frames of folder name.rsplit('_', 1)[0])
_SPLIT = """
bird1_1:1-253 bird1_2:775-1477 bird1_3:1573-2437 car1_1:1-751 car1_2:751-1627 car1_3:1627-2629 car6_1:1-487
car6_2:487-1807 car6_3:1807-2953 car6_4:2953-3925 car6_5:3925-4861 car8_1:1-1357 car8_2:1357-2575
car16_1:1-415 car16_2:415-1993 group1_1:1-1333 group1_2:1333-2515 group1_3:2515-3925 group1_4:3925-4873
group2_1:1-907 group2_2:907-1771 group2_3:1771-2683 group3_1:1-1567 group3_2:1567-2827 group3_3:2827-4369
group3_4:4369-5527 person2_1:1-1189 person2_2:1189-2623 person4_1:1-1501 person4_2:1501-2743 person5_1:1-877
person5_2:877-2101 person7_1:1-1249 person7_2:1249-2065 person8_1:1-1075 person8_2:1075-1525 person12_1:1-601
person12_2:601-1621 person14_1:1-847 person14_2:847-1813 person14_3:1813-2923 person17_1:1-1501
person17_2:1501-2347 person19_1:1-1243 person19_2:1243-2791 person19_3:2791-4357 truck4_1:1-577
truck4_2:577-1261 uav1_1:1-1555 uav1_2:1555-2377 uav1_3:2473-3469
"""
_UAV20L = """
bike1:3085 bird1:2437 car1:2629 car3:1717 car6:4861 car8:2575 car9:1879 car16:1993 group1:4873 group2:2683
group3:5527 person2:2623 person4:2743 person5:2101 person7:2065 person14:2923 person17:2347 person19:4357
person20:1783 uav1:3469
"""

#: order of the 12 flags in ``anno/UAV123/att/<seq>.txt``
UAV_ATTRIBUTES = ("Scale Variation", "Aspect Ratio Change", "Low Resolution", "Fast Motion", "Full Occlusion",
                  "Partial Occlusion", "Out-of-View", "Background Clutter", "Illumination Variation",
                  "Viewpoint Change", "Camera Motion", "Similar Object")
_CLASSES = {"bike": "vehicle", "bird": "bird", "boat": "vessel", "building": "other", "car": "car",
            "group": "person", "person": "person", "truck": "truck", "uav": "aircraft", "wakeboard": "person"}


def _table(full: str, split: str = "") -> List[Tuple[str, str, int, int]]:
    out = []
    for tok in full.split():
        name, end = tok.split(":")
        out.append((name, name, 1, int(end)))
    for tok in split.split():
        name, rng = tok.split(":")
        a, b = rng.split("-")
        out.append((name, name.rsplit("_", 1)[0], int(a), int(b)))
    return sorted(out, key=lambda e: e[0])


_ENTRIES: Dict[str, List[Tuple[str, str, int, int]]] = {"UAV123": _table(_FULL, _SPLIT), "UAV20L": _table(_UAV20L)}
UAV123_SEQUENCES: List[str] = [e[0] for e in _ENTRIES["UAV123"]]
UAV20L_SEQUENCES: List[str] = [e[0] for e in _ENTRIES["UAV20L"]]


def _object_class(name: str) -> str:
    stem = name.rstrip("0123456789_s")
    for k, v in _CLASSES.items():
        if stem.startswith(k):
            return v
    return "other"


def load_uav(root: Path, version: str = "UAV123", sequences: Optional[Iterable[str]] = None, check: str = "ends",
             strict: bool = True) -> SequenceList:
    """Read UAV123 or UAV20L under ``root`` (all sequences of the version must be present)."""
    version = version.upper()
    if version not in _ENTRIES:
        raise ValueError(f"uav: unknown version '{version}' (UAV123, UAV20L)")
    ds = "uav" if version == "UAV123" else "uav20l"
    wanted = want(sequences)
    entries = [e for e in _ENTRIES[version] if wanted(e[0])]
    missing = [e[0] for e in entries if not (root / "anno" / version / f"{e[0]}.txt").is_file()
               and not (root / "data_seq" / "UAV123" / e[1]).is_dir()]
    if missing:  # report an incomplete benchmark before any per-sequence problem
        shown = ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
        raise DatasetError(f"{ds}: {len(missing)} sequence(s) missing under {root}: {shown} "
                           f"(expected anno/{version}/<seq>.txt and data_seq/UAV123/<folder>/000001.jpg)")
    seqs: List[Sequence] = []
    for name, folder, start, end in entries:
        anno = root / "anno" / version / f"{name}.txt"
        fdir = root / "data_seq" / "UAV123" / folder
        if not fdir.is_dir():
            raise DatasetError(f"{ds}/{name}: missing frame folder {fdir}")
        gt = read_boxes(anno, ds, name)
        frames = frame_paths(fdir, start, end, 6, "jpg")
        gt = fix_length(gt, len(frames), ds, name, anno, strict)
        check_frames(frames, ds, name, check)
        attrs: Dict[str, object] = {"start_frame": start, "end_frame": end, "folder": folder,
                                    "pytracking_name": f"uav_{name}"}
        att = root / "anno" / version / "att" / f"{name}.txt"
        if att.is_file():
            flags = read_flags(att, ds, name)
            if len(flags) != len(UAV_ATTRIBUTES):
                raise DatasetError(f"{ds}/{name}: {att} has {len(flags)} flags, expected {len(UAV_ATTRIBUTES)}")
            attrs["challenges"] = {k: bool(v) for k, v in zip(UAV_ATTRIBUTES, flags)}
        seqs.append(Sequence(name, frames, gt, ds, object_class=_object_class(name), attributes=attrs))
    return select(seqs, sequences, ds)


@EVAL_DATASETS.register("uav", protocol="pytracking", metric_dataset="uav", gt_public=True, results_format="txt")
def uav(root: Optional[Union[str, Path]] = None, *, sequences: Optional[Iterable[str]] = None, check: str = "ends",
        strict: bool = True) -> SequenceList:
    """UAV123 (123 sequences); ``root`` defaults to the ``datasets.uav`` setting."""
    return load_uav(resolve_root(root, "uav"), "UAV123", sequences, check, strict)


@EVAL_DATASETS.register("uav20l", protocol="pytracking", metric_dataset="uav", gt_public=True, results_format="txt")
def uav20l(root: Optional[Union[str, Path]] = None, *, sequences: Optional[Iterable[str]] = None, check: str = "ends",
           strict: bool = True) -> SequenceList:
    """UAV20L (20 long sequences); same root as UAV123 (``datasets.uav``)."""
    return load_uav(resolve_root(root, "uav"), "UAV20L", sequences, check, strict)
