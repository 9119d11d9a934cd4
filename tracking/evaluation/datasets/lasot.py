"""LaSOT test split (280 sequences) from the raw layout:
``<root>/<class>/<class>-<n>/{img/00000001.jpg, groundtruth.txt, full_occlusion.txt, out_of_view.txt, nlp.txt}``
(a flat ``<root>/<class>-<n>/`` layout is accepted too).

The test list is ``<root>/testing_set.txt`` when present, else the official 280-sequence list
built in below.  Ground truth is comma separated ``x,y,w,h`` as stored (nominally 1-based).
``full_occlusion.txt`` / ``out_of_view.txt`` (one comma-separated line of 0/1) are per-frame
attributes; ``target_visible = !full_occlusion & !out_of_view`` (the flags pytracking, pysot and the
MATLAB toolkit use to remove or fail absent frames).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Optional, Union

from ltr.admin.registry import EVAL_DATASETS
from tracking.evaluation.data import Sequence, SequenceList
from tracking.evaluation.datasets._common import (DatasetError, check_frames, frame_paths, read_boxes, read_flags,
                                                  read_lines, resolve_root, select, want)

__all__ = ["LASOT_TEST_SEQUENCES", "load_lasot", "lasot"]

# class:index,index,index,index (the official testing_set.txt, 4 videos per class)
_TEST = """
airplane:1,9,13,15 basketball:1,6,7,11 bear:2,4,6,17 bicycle:2,7,9,18 bird:2,3,15,17 boat:3,4,12,17
book:3,10,11,19 bottle:1,12,14,18 bus:2,5,17,19 car:2,6,9,17 cat:1,3,18,20 cattle:2,7,12,13 spider:14,16,18,20
coin:3,6,7,18 crab:3,6,12,18 surfboard:12,4,5,8 cup:1,4,7,17 deer:4,8,10,14 dog:1,7,15,19 guitar:3,8,10,16
person:1,5,10,12 pig:2,10,13,18 rubicCube:1,6,14,19 swing:10,14,17,20 drone:13,15,2,7 pool:12,15,3,7
rabbit:10,13,17,19 racing:10,15,16,20 robot:1,19,5,8 sepia:13,16,6,8 sheep:3,5,7,9 skateboard:16,19,3,8
tank:14,16,6,9 tiger:12,18,4,6 train:1,11,20,7 truck:16,3,6,7 turtle:16,5,8,9 umbrella:17,19,2,9
yoyo:15,17,19,7 zebra:10,14,16,17 elephant:1,12,16,18 goldfish:3,7,8,10 hat:1,2,5,18 kite:4,6,10,15
motorcycle:1,3,9,18 mouse:1,8,9,17 flag:3,9,5,2 frog:3,4,20,9 gametarget:1,2,7,13 hand:2,3,9,16
helmet:5,11,19,13 licenseplate:6,12,13,15 electricfan:1,10,18,20 chameleon:3,6,11,20 crocodile:3,4,10,14
gecko:1,5,16,19 fox:2,3,5,20 giraffe:2,10,13,15 gorilla:4,6,9,13 hippo:1,7,9,20 horse:1,4,12,15
kangaroo:2,5,11,14 leopard:1,7,16,20 lion:1,5,12,20 lizard:1,3,6,13 microphone:2,6,14,16 monkey:3,4,9,17
shark:2,3,5,6 squirrel:8,11,13,19 volleyball:1,13,18,19
"""


def _test_list() -> List[str]:
    out = []
    for tok in _TEST.split():
        cls, idx = tok.split(":")
        out += [f"{cls}-{int(i)}" for i in idx.split(",")]
    return sorted(out, key=lambda n: (n.rsplit("-", 1)[0], int(n.rsplit("-", 1)[1])))


#: the 280 LaSOT test sequences (sorted by class, then index)
LASOT_TEST_SEQUENCES: List[str] = _test_list()


def _seq_dir(root: Path, name: str) -> Path:
    cls = name.rsplit("-", 1)[0]
    nested = root / cls / name
    return nested if nested.is_dir() else root / name


def load_lasot(root: Path, sequences: Optional[Iterable[str]] = None, check: str = "ends") -> SequenceList:
    list_file = root / "testing_set.txt"
    if list_file.is_file():
        names = [ln.strip() for ln in read_lines(list_file, "lasot", "testing_set") if ln.strip()]
    else:
        names = LASOT_TEST_SEQUENCES
    wanted = want(sequences)
    names = [n for n in names if wanted(n)]
    missing = [n for n in names if not _seq_dir(root, n).is_dir()]
    if missing:  # report an incomplete benchmark before any per-sequence problem
        shown = ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
        raise DatasetError(f"lasot: {len(missing)} test sequence(s) missing under {root}: {shown} "
                           f"(expected <root>/<class>/<class>-<n>/img/00000001.jpg)")
    seqs: List[Sequence] = []
    for name in names:
        d = _seq_dir(root, name)
        gt = read_boxes(d / "groundtruth.txt", "lasot", name)
        n = len(gt)
        fo = read_flags(d / "full_occlusion.txt", "lasot", name, n).astype(bool)
        oov = read_flags(d / "out_of_view.txt", "lasot", name, n).astype(bool)
        frames = frame_paths(d / "img", 1, n, 8, "jpg")
        check_frames(frames, "lasot", name, check)
        nlp_file = d / "nlp.txt"
        attrs = {"full_occlusion": fo, "out_of_view": oov,
                 "nlp": nlp_file.read_text(encoding="utf-8", errors="replace").strip() if nlp_file.is_file() else None}
        seqs.append(Sequence(name, frames, gt, "lasot", target_visible=~fo & ~oov,
                             object_class=name.rsplit("-", 1)[0], attributes=attrs))
    return select(seqs, sequences, "lasot")


@EVAL_DATASETS.register("lasot", protocol="pytracking", metric_dataset="lasot", gt_public=True, results_format="txt")
def lasot(root: Optional[Union[str, Path]] = None, *, sequences: Optional[Iterable[str]] = None,
          check: str = "ends") -> SequenceList:
    """LaSOT test split; ``root`` defaults to the ``datasets.lasot`` setting."""
    return load_lasot(resolve_root(root, "lasot"), sequences, check)
