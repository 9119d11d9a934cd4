"""OTB-100 (OTB-2015) from its raw layout: ``<root>/<Seq>/img/0001.jpg`` + ``groundtruth_rect*.txt``.

The per-sequence frame ranges are hard-coded (the archive has more images than annotations for
David, Football1, Freeman3/4, Diving; BlurCar1/3/4 start late; Tiger1 skips its first 5 frames as
in the OTB toolkit's ``initOmit``; Board uses 5-digit and KiteSurf ``.png`` frames).  Multi-target
sequences are ``Jogging.1/.2`` and ``Skating2.1/.2`` (got10k's naming; pytracking calls them
``Jogging_1`` ...); Human4 uses ``groundtruth_rect.2.txt`` (``.1`` is empty in the archive).

Ground truth is used as stored (nominally MATLAB 1-based, but every toolkit compares it as is);
rows may be comma, tab or space separated.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Union

from ltr.admin.registry import EVAL_DATASETS
from tracking.evaluation.data import Sequence, SequenceList
from tracking.evaluation.datasets._common import (DatasetError, check_frames, fix_length, frame_paths, read_boxes,
                                                  resolve_root, select, want)

__all__ = ["OTB_SEQUENCES", "OTB_PYTRACKING_NAMES", "load_otb", "otb"]


@dataclass(frozen=True)
class _OTBEntry:
    name: str
    folder: str  # sequence folder (frames in <folder>/img)
    start: int  # first frame number of the annotated range (1-based file numbering)
    end: int  # last frame number (inclusive)
    digits: int
    ext: str
    anno: str  # annotation file inside the folder
    object_class: str
    omit: int  # frames (and GT rows) skipped at the start ("initOmit")


# name start end class [dir=..] [anno=..] [nz=..] [ext=..] [omit=..]   (class: '_' -> ' ')
_TABLE = """
Basketball 1 725 person
Biker 1 142 person_head
Bird1 1 408 bird
Bird2 1 99 bird
BlurBody 1 334 person
BlurCar1 247 988 car
BlurCar2 1 585 car
BlurCar3 3 359 car
BlurCar4 18 397 car
BlurFace 1 493 face
BlurOwl 1 631 other
Board 1 698 other nz=5
Bolt 1 350 person
Bolt2 1 293 person
Box 1 1161 other
Boy 1 602 face
Car1 1 1020 car
Car2 1 913 car
Car24 1 3059 car
Car4 1 659 car
CarDark 1 393 car
CarScale 1 252 car
ClifBar 1 472 other
Coke 1 291 other
Couple 1 140 person
Coupon 1 327 other
Crossing 1 120 person
Crowds 1 347 person
Dancer 1 225 person
Dancer2 1 150 person
David 300 770 face
David2 1 537 face
David3 1 252 person
Deer 1 71 mammal
Diving 1 215 person
Dog 1 127 dog
Dog1 1 1350 dog
Doll 1 3872 other
DragonBaby 1 113 face
Dudek 1 1145 face
FaceOcc1 1 892 face
FaceOcc2 1 812 face
Fish 1 476 other
FleetFace 1 707 face
Football 1 362 person_head
Football1 1 74 face
Freeman1 1 326 face
Freeman3 1 460 face
Freeman4 1 283 face
Girl 1 500 face
Girl2 1 1500 person
Gym 1 767 person
Human2 1 1128 person
Human3 1 1698 person
Human4 1 667 person anno=groundtruth_rect.2.txt
Human5 1 713 person
Human6 1 792 person
Human7 1 250 person
Human8 1 128 person
Human9 1 305 person
Ironman 1 166 person_head
Jogging.1 1 307 person dir=Jogging anno=groundtruth_rect.1.txt
Jogging.2 1 307 person dir=Jogging anno=groundtruth_rect.2.txt
Jump 1 122 person
Jumping 1 313 face
KiteSurf 1 84 face ext=png
Lemming 1 1336 other
Liquor 1 1741 other
Man 1 134 face
Matrix 1 100 person_head
Mhyang 1 1490 face
MotorRolling 1 164 vehicle
MountainBike 1 228 bicycle
Panda 1 1000 mammal
RedTeam 1 1918 vehicle
Rubik 1 1997 other
Shaking 1 365 face
Singer1 1 351 person
Singer2 1 366 person
Skater 1 160 person
Skater2 1 435 person
Skating1 1 400 person
Skating2.1 1 473 person dir=Skating2 anno=groundtruth_rect.1.txt
Skating2.2 1 473 person dir=Skating2 anno=groundtruth_rect.2.txt
Skiing 1 81 person
Soccer 1 392 face
Subway 1 175 person
Surfer 1 376 person_head
Suv 1 945 car
Sylvester 1 1345 other
Tiger1 1 354 other omit=5
Tiger2 1 365 other
Toy 1 271 other
Trans 1 124 other
Trellis 1 569 face
Twinnings 1 472 other
Vase 1 271 other
Walking 1 412 person
Walking2 1 500 person
Woman 1 597 person
"""


def _parse_table(text: str) -> List[_OTBEntry]:
    out = []
    for ln in text.strip().splitlines():
        name, start, end, cls, *opts = ln.split()
        kw: Dict[str, str] = dict(o.split("=", 1) for o in opts)
        out.append(_OTBEntry(name=name, folder=kw.get("dir", name), start=int(start), end=int(end),
                             digits=int(kw.get("nz", 4)), ext=kw.get("ext", "jpg"),
                             anno=kw.get("anno", "groundtruth_rect.txt"), object_class=cls.replace("_", " "),
                             omit=int(kw.get("omit", 0))))
    return out


_ENTRIES: List[_OTBEntry] = _parse_table(_TABLE)
#: the 100 OTB-2015 sequence names (98 folders; Jogging and Skating2 have two targets each)
OTB_SEQUENCES: List[str] = [e.name for e in _ENTRIES]
#: SOTLab/got10k name -> pytracking result-file name, where they differ
OTB_PYTRACKING_NAMES: Dict[str, str] = {"Jogging.1": "Jogging_1", "Jogging.2": "Jogging_2",
                                        "Skating2.1": "Skating2_1", "Skating2.2": "Skating2_2", "Human4": "Human4_2"}


def load_otb(root: Path, sequences: Optional[Iterable[str]] = None, check: str = "ends", strict: bool = True) -> SequenceList:
    """Read OTB-100 under ``root``; ``sequences`` restricts to some names (all 100 must exist otherwise)."""
    wanted = want(sequences)
    entries = [e for e in _ENTRIES if wanted(e.name)]
    missing = [e.name for e in entries if not (root / e.folder).is_dir()]
    if missing:  # report an incomplete benchmark before any per-sequence problem
        shown = ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
        raise DatasetError(f"otb: {len(missing)} sequence folder(s) missing under {root}: {shown} "
                           f"(expected <root>/<Seq>/img/0001.jpg and groundtruth_rect.txt)")
    seqs: List[Sequence] = []
    for e in entries:
        folder = root / e.folder
        anno = folder / e.anno
        gt = read_boxes(anno, "otb", e.name)[e.omit:]
        frames = frame_paths(folder / "img", e.start + e.omit, e.end, e.digits, e.ext)
        gt = fix_length(gt, len(frames), "otb", e.name, anno, strict)
        check_frames(frames, "otb", e.name, check)
        seqs.append(Sequence(e.name, frames, gt, "otb", object_class=e.object_class,
                             attributes={"start_frame": e.start + e.omit, "end_frame": e.end,
                                         "pytracking_name": OTB_PYTRACKING_NAMES.get(e.name, e.name)}))
    return select(seqs, sequences, "otb")


@EVAL_DATASETS.register("otb", protocol="pytracking", metric_dataset="otb", gt_public=True, results_format="txt")
def otb(root: Optional[Union[str, Path]] = None, *, sequences: Optional[Iterable[str]] = None, check: str = "ends",
        strict: bool = True) -> SequenceList:
    """OTB-100; ``root`` defaults to the ``datasets.otb`` setting."""
    return load_otb(resolve_root(root, "otb"), sequences, check, strict)
