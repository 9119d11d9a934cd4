"""Benchmark loaders on tiny fixture trees in each benchmark's exact on-disk layout (frames are empty
files: loaders never decode images).  Every expected value below is what was written to the tree."""
from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

from ltr.admin.registry import EVAL_DATASETS
from ltr.admin.settings import SettingsError
from tracking.evaluation.datasets._common import DatasetError, read_boxes
from tracking.evaluation.datasets.got10k import got10k, got10k_val
from tracking.evaluation.datasets.lasot import LASOT_TEST_SEQUENCES, lasot
from tracking.evaluation.datasets.nfs import nfs
from tracking.evaluation.datasets.otb import OTB_SEQUENCES, otb
from tracking.evaluation.datasets.trackingnet import trackingnet
from tracking.evaluation.datasets.uav import UAV123_SEQUENCES, uav, uav20l
from tracking.evaluation.datasets.vot import polygon_to_box, vot2018, vot2019


def touch(p: Path) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.touch()
    return p


def write(p: Path, text: str) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def rows(a: np.ndarray, sep: str = ",", fmt: str = "{:g}") -> str:
    return "\n".join(sep.join("NaN" if np.isnan(v) else fmt.format(v) for v in r) for r in a) + "\n"


@pytest.fixture(autouse=True)
def _no_plugin_discovery(monkeypatch):
    """The loaders register themselves on import; skip importing every other plugin (torch models)."""
    import ltr.admin.registry as registry

    monkeypatch.setattr(registry, "_discovered", True)


# ---------------------------------------------------------------- registry / settings
def test_all_names_registered_with_meta():
    names = {"otb", "uav", "uav20l", "nfs", "lasot", "got10k", "got10k_val", "got10k_test", "trackingnet", "vot2018",
             "vot2019", "synthetic", "synthetic_val", "synthetic_test", "synthetic_train", "synthetic_hard"}
    assert names <= set(EVAL_DATASETS.names())
    assert EVAL_DATASETS.meta("got10k")["split"] == "test" and EVAL_DATASETS.meta("got10k")["gt_public"] is False
    assert EVAL_DATASETS.meta("vot2019")["eao_interval"] == (46, 291)


def test_root_none_raises_settings_error_naming_the_key(monkeypatch):
    monkeypatch.delenv("SOTLAB_OTB_DIR", raising=False)
    with pytest.raises(SettingsError, match=r"datasets\.otb.*SOTLAB_OTB_DIR"):
        EVAL_DATASETS.get("otb")()
    monkeypatch.delenv("SOTLAB_GOT10K_DIR", raising=False)
    with pytest.raises(SettingsError, match=r"datasets\.got10k"):
        EVAL_DATASETS.get("got10k_val")()


# ---------------------------------------------------------------- ground-truth parsing
def test_read_boxes_separators_nan_blank_lines(tmp_path):
    f = write(tmp_path / "gt.txt", "1,2,3,4\n5\t6\t7\t8\n9 10 11 12\n13, 14\t15  16\nNaN,NaN,NaN,NaN\n\nnan nan nan nan\n\n\n")
    gt = read_boxes(f, "ds", "seq")
    assert gt.shape == (7, 4)
    assert gt[:4].tolist() == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]
    assert np.isnan(gt[4:]).all()  # NaN rows and an interior blank line (unannotated frame)
    bad = write(tmp_path / "bad.txt", "1,2,3,4\n1,2,3\n")
    with pytest.raises(DatasetError, match=r"ds/seq: .*bad\.txt line 2: expected 4 values, got 3"):
        read_boxes(bad, "ds", "seq")
    with pytest.raises(DatasetError, match=r"ds/seq: missing file .*nope\.txt"):
        read_boxes(tmp_path / "nope.txt", "ds", "seq")


# ---------------------------------------------------------------- OTB
def _otb_seq(root: Path, folder: str, first: int, last: int, n_gt: int, files: Dict[str, str], digits: int = 4,
             ext: str = "jpg") -> Dict[str, np.ndarray]:
    touch(root / folder / "img" / f"{first:0{digits}d}.{ext}")
    touch(root / folder / "img" / f"{last:0{digits}d}.{ext}")
    out = {}
    for k, (fname, sep) in enumerate(files.items()):
        gt = np.c_[np.arange(n_gt) + 1 + k, np.arange(n_gt) + 2, np.full(n_gt, 30 + k), np.full(n_gt, 40)].astype(float)
        write(root / folder / fname, rows(gt, sep))
        out[fname] = gt
    return out


def test_otb_quirks(tmp_path):
    root = tmp_path / "OTB100"
    david = _otb_seq(root, "David", 300, 770, 471, {"groundtruth_rect.txt": ","})["groundtruth_rect.txt"]
    tiger = _otb_seq(root, "Tiger1", 6, 354, 354, {"groundtruth_rect.txt": "\t"})["groundtruth_rect.txt"]
    _otb_seq(root, "Board", 1, 698, 698, {"groundtruth_rect.txt": " "}, digits=5)
    _otb_seq(root, "KiteSurf", 1, 84, 84, {"groundtruth_rect.txt": ","}, ext="png")
    jog = _otb_seq(root, "Jogging", 1, 307, 307, {"groundtruth_rect.1.txt": ",", "groundtruth_rect.2.txt": "\t"})
    h4 = _otb_seq(root, "Human4", 1, 667, 667, {"groundtruth_rect.2.txt": ","})
    write(root / "Human4" / "groundtruth_rect.1.txt", "")  # empty in the archive
    names = ["David", "Tiger1", "Board", "KiteSurf", "Jogging.1", "Jogging.2", "Human4"]
    seqs = otb(root, sequences=names)
    assert [s.name for s in seqs] == names
    d = seqs["David"]
    assert len(d) == 471 and d.frames[0].endswith("David/img/0300.jpg") and d.frames[-1].endswith("0770.jpg")
    assert np.array_equal(d.ground_truth, david)
    t = seqs["Tiger1"]  # initOmit 5: frames 6..354, GT rows 5..
    assert len(t) == 349 and t.frames[0].endswith("0006.jpg") and np.array_equal(t.ground_truth, tiger[5:])
    assert seqs["Board"].frames[0].endswith("Board/img/00001.jpg")
    assert seqs["KiteSurf"].frames[-1].endswith("0084.png")
    assert np.array_equal(seqs["Jogging.1"].ground_truth, jog["groundtruth_rect.1.txt"])
    assert np.array_equal(seqs["Jogging.2"].ground_truth, jog["groundtruth_rect.2.txt"])
    assert seqs["Jogging.2"].frames == seqs["Jogging.1"].frames
    assert np.array_equal(seqs["Human4"].ground_truth, h4["groundtruth_rect.2.txt"])
    assert seqs["Jogging.1"].attributes["pytracking_name"] == "Jogging_1"
    assert d.object_class == "face"


def test_otb_errors_name_file_and_sequence(tmp_path):
    root = tmp_path / "OTB100"
    _otb_seq(root, "David", 300, 770, 470, {"groundtruth_rect.txt": ","})  # one row short
    with pytest.raises(DatasetError, match=r"otb/David: .*groundtruth_rect\.txt has 470 rows for 471 frames"):
        otb(root, sequences=["David"])
    assert len(otb(root, sequences=["David"], strict=False)["David"].ground_truth) == 471
    _otb_seq(root, "Bolt", 1, 350, 350, {"groundtruth_rect.txt": ","})
    (root / "Bolt" / "img" / "0350.jpg").unlink()
    with pytest.raises(DatasetError, match=r"otb/Bolt: missing frame .*Bolt/img/0350\.jpg"):
        otb(root, sequences=["Bolt"])
    touch(root / "Bolt" / "img" / "0350.jpg")
    with pytest.raises(DatasetError, match=r"otb: 98 sequence folder\(s\) missing .*Basketball"):
        otb(root)  # the full benchmark is required without `sequences`
    assert len(OTB_SEQUENCES) == 100


# ---------------------------------------------------------------- UAV123 / UAV20L
def test_uav_split_sequences_nan_rows_and_attributes(tmp_path):
    root = tmp_path / "UAV123"
    seq_dir = root / "data_seq" / "UAV123"
    for a in (1, 253, 775, 1477, 1573, 2437):  # bird1_1..3 share data_seq/UAV123/bird1
        touch(seq_dir / "bird1" / f"{a:06d}.jpg")
    gts = {}
    for name, n in (("bird1_1", 253), ("bird1_2", 703), ("bird1_3", 865)):
        gt = np.c_[np.arange(n), np.arange(n), np.full(n, 5.0), np.full(n, 6.0)]
        gt[3] = np.nan
        write(root / "anno" / "UAV123" / f"{name}.txt", rows(gt))
        gts[name] = gt
    write(root / "anno" / "UAV123" / "att" / "bird1_2.txt", "1,0,0,1,0,0,1,0,0,0,0,1\n")
    seqs = uav(root, sequences=["bird1_1", "bird1_2", "bird1_3"])
    b2 = seqs["bird1_2"]
    assert len(b2) == 703 and b2.frames[0].endswith("bird1/000775.jpg") and b2.frames[-1].endswith("bird1/001477.jpg")
    assert seqs["bird1_3"].frames[0].endswith("bird1/001573.jpg")
    assert np.isnan(b2.ground_truth[3]).all() and np.array_equal(b2.ground_truth[4:], gts["bird1_2"][4:])
    assert b2.attributes["challenges"]["Fast Motion"] and not b2.attributes["challenges"]["Low Resolution"]
    assert "challenges" not in seqs["bird1_1"].attributes  # no official file on disk
    assert b2.object_class == "bird" and b2.dataset == "uav"
    # UAV20L: full folder, annotation in anno/UAV20L
    for a in (1, 2437):
        touch(seq_dir / "bird1" / f"{a:06d}.jpg")
    write(root / "anno" / "UAV20L" / "bird1.txt", rows(np.ones((2437, 4))))
    long = uav20l(root, sequences=["bird1"])["bird1"]
    assert len(long) == 2437 and long.dataset == "uav20l"
    with pytest.raises(DatasetError, match=r"uav: 120 sequence\(s\) missing"):
        uav(root)
    assert len(UAV123_SEQUENCES) == 123


# ---------------------------------------------------------------- NfS (30 fps)
def test_nfs_raw_layout_and_240fps_annotation(tmp_path):
    root = tmp_path / "NFS"
    n = 5
    for name, rows_per_frame in (("bee", 1), ("dog_1", 8)):
        for i in range(1, n + 1):
            touch(root / name / "30" / name / f"{i:05d}.jpg")
        lines = []
        for k in range(n * rows_per_frame):
            x1, y1 = 10 + k, 20 + k
            lost = 1 if k == 2 * rows_per_frame else 0
            lines.append(f'1 {x1} {y1} {x1 + 30} {y1 + 40} {k + 1} {lost} {int(k % 2)} 0 "{name}"')
        write(root / name / "30" / f"{name}.txt", "\n".join(lines) + "\n")
    seqs = nfs(root)
    assert [s.name for s in seqs] == ["bee", "dog_1"]
    bee, dog = seqs["bee"], seqs["dog_1"]
    assert bee.ground_truth[1].tolist() == [11, 21, 30, 40]  # x2 - x1, y2 - y1
    assert dog.ground_truth[1].tolist() == [18, 28, 30, 40]  # every 8th row of the 240 fps annotation
    assert bee.attributes["lost"].tolist() == [False, False, True, False, False]
    assert dog.attributes["lost"].tolist() == [False, False, True, False, False]
    (root / "bee" / "30" / "bee" / "00003.jpg").unlink()
    with pytest.raises(DatasetError, match=r"nfs/bee: frame 3 missing"):
        nfs(root)


# ---------------------------------------------------------------- LaSOT
def _lasot_seq(root: Path, name: str, n: int, flat: bool = False) -> np.ndarray:
    cls = name.rsplit("-", 1)[0]
    d = root / name if flat else root / cls / name
    touch(d / "img" / "00000001.jpg")
    touch(d / "img" / f"{n:08d}.jpg")
    gt = np.c_[np.arange(n) + 1.0, np.full(n, 2.0), np.full(n, 3.0), np.full(n, 4.0)]
    write(d / "groundtruth.txt", rows(gt))
    fo = np.zeros(n, int); fo[1] = 1
    oov = np.zeros(n, int); oov[3] = 1
    write(d / "full_occlusion.txt", ",".join(map(str, fo)) + "\n")
    write(d / "out_of_view.txt", ",".join(map(str, oov)))
    write(d / "nlp.txt", f"the {cls}\n")
    return gt


def test_lasot_test_list_flags_and_layouts(tmp_path):
    root = tmp_path / "LaSOT"
    gt = _lasot_seq(root, "airplane-1", 6)
    _lasot_seq(root, "zebra-10", 4, flat=True)
    write(root / "testing_set.txt", "airplane-1\nzebra-10\n")
    seqs = lasot(root)
    a = seqs["airplane-1"]
    assert np.array_equal(a.ground_truth, gt) and len(a) == 6 and a.frames[-1].endswith("airplane-1/img/00000006.jpg")
    assert a.target_visible.tolist() == [True, False, True, False, True, True]
    assert a.attributes["full_occlusion"].tolist() == [False, True, False, False, False, False]
    assert a.attributes["nlp"] == "the airplane" and a.object_class == "airplane"
    assert len(seqs["zebra-10"]) == 4
    write(root / "airplane" / "airplane-1" / "out_of_view.txt", "0,0,1\n")
    with pytest.raises(DatasetError, match=r"lasot/airplane-1: .*out_of_view\.txt has 3 labels for 6 frames"):
        lasot(root)
    (root / "testing_set.txt").unlink()  # built-in 280-sequence list
    with pytest.raises(DatasetError, match=r"lasot: 278 test sequence\(s\) missing"):  # both are test videos
        lasot(root)
    assert len(LASOT_TEST_SEQUENCES) == 280


# ---------------------------------------------------------------- GOT-10k
def _got_seq(split_dir: Path, name: str, n: int, full: bool = True, labels: bool = True) -> np.ndarray:
    d = split_dir / name
    for i in range(1, n + 1):
        touch(d / f"{i:08d}.jpg")
    gt = np.c_[np.arange(n) + 0.5, np.full(n, 1.0), np.full(n, 10.0), np.full(n, 12.0)]
    write(d / "groundtruth.txt", rows(gt if full else gt[:1]))
    if labels:
        write(d / "absence.label", "\n".join((["0", "1"] + ["0"] * n)[:n]) + "\n")
        write(d / "cover.label", "\n".join((["8", "0", "5", "0"] + ["5"] * n)[:n]) + "\n")  # f3: occluded
        write(d / "cut_by_image.label", "\n".join(["0"] * n) + "\n")
        write(d / "meta_info.ini", "[METAINFO]\nurl: https://x\nobject_class: ibex\nmotion_class: walking\n"
                                   "resolution: (1280, 720)\n")
    return gt


def test_got10k_val_and_test(tmp_path):
    root = tmp_path / "GOT10k"
    gt = _got_seq(root / "val", "GOT-10k_Val_000001", 5)
    write(root / "val" / "list.txt", "GOT-10k_Val_000001\n")
    v = got10k_val(root)["GOT-10k_Val_000001"]
    assert np.array_equal(v.ground_truth, gt) and v.gt_public and v.dataset == "got10k_val"
    # visible = cover > 0 (what GOT-10k scores): frame 3 is fully occluded although not absent
    assert v.target_visible.tolist() == [True, False, True, False, True]
    assert v.attributes["cover"].tolist() == [8, 0, 5, 0, 5]
    assert v.attributes["absence"].tolist() == [0, 1, 0, 0, 0]
    assert v.attributes["resolution"] == (1280, 720) and v.object_class == "ibex"
    _got_seq(root / "test", "GOT-10k_Test_000001", 4, full=False, labels=False)
    write(root / "test" / "list.txt", "GOT-10k_Test_000001\n")
    t = got10k(root)["GOT-10k_Test_000001"]
    assert not t.gt_public and t.ground_truth[0].tolist() == [0.5, 1, 10, 12] and np.isnan(t.ground_truth[1:]).all()
    assert t.init_box.tolist() == [0.5, 1, 10, 12]
    # missing frame / label file -> errors naming sequence and file
    (root / "val" / "GOT-10k_Val_000001" / "00000003.jpg").unlink()
    with pytest.raises(DatasetError, match=r"got10k_val/GOT-10k_Val_000001: frame 3 missing"):
        got10k_val(root)
    touch(root / "val" / "GOT-10k_Val_000001" / "00000003.jpg")
    (root / "val" / "GOT-10k_Val_000001" / "cover.label").unlink()
    with pytest.raises(DatasetError, match=r"got10k_val/GOT-10k_Val_000001: missing file .*cover\.label"):
        got10k_val(root)


def test_synthetic_uses_ensure_synthetic(tmp_path, monkeypatch):
    calls: List[tuple] = []

    def fake_ensure(root, split):
        calls.append((Path(root), split))
        d = Path(root) / split
        if not d.exists():
            _got_seq(d, "synthetic_0001", 3)
            write(d / "list.txt", "synthetic_0001\n")
        return d

    mod = types.ModuleType("ltr.dataset.synthetic.generator")
    mod.ensure_synthetic = fake_ensure
    monkeypatch.setitem(sys.modules, "ltr.dataset.synthetic.generator", mod)
    monkeypatch.setenv("SOTLAB_SYNTHETIC_DIR", str(tmp_path / "syn"))
    for name, split in (("synthetic", "test"), ("synthetic_val", "val"), ("synthetic_train", "train"),
                        ("synthetic_hard", "hard")):
        seqs = EVAL_DATASETS.get(name)()
        assert calls[-1] == (tmp_path / "syn", split)
        assert seqs[0].dataset == f"synthetic_{split}" and len(seqs[0]) == 3 and seqs[0].gt_public


# ---------------------------------------------------------------- TrackingNet
def test_trackingnet_test_chunk(tmp_path):
    root = tmp_path / "TrackingNet"
    for i in range(7):
        touch(root / "TEST" / "frames" / "abc_1" / f"{i}.jpg")
    write(root / "TEST" / "anno" / "abc_1.txt", "10.5,20,30,40\n")
    s = trackingnet(root)["abc_1"]
    assert len(s) == 7 and s.frames[2].endswith("abc_1/2.jpg") and s.frames[-1].endswith("abc_1/6.jpg")
    assert not s.gt_public and s.init_box.tolist() == [10.5, 20, 30, 40] and np.isnan(s.ground_truth[1:]).all()
    (root / "TEST" / "frames" / "abc_1" / "0.jpg").unlink()
    with pytest.raises(DatasetError, match=r"trackingnet/abc_1: frame 0 missing"):
        trackingnet(root)


# ---------------------------------------------------------------- VOT
def test_polygon_conversions_by_hand():
    # a square of side 2*sqrt(2) rotated by 45 degrees around (10, 10): corners at distance 2
    poly = np.array([[10, 8, 12, 10, 10, 12, 8, 10]], float)
    assert polygon_to_box(poly, "minmax").tolist() == [[8, 8, 4, 4]]
    # area-preserving: sides 2*sqrt(2) each -> A1 = 8, min-max area 16, s = sqrt(1/2): w = h = 2*sqrt(2)
    w = 2 * np.sqrt(2)
    assert polygon_to_box(poly, "area")[0] == pytest.approx([10 - w / 2, 10 - w / 2, w, w])
    # pysot adds one pixel: w = 2*sqrt(2) + 1, top-left cx - (w-1)/2
    assert polygon_to_box(poly, "pysot")[0] == pytest.approx([10 - w / 2, 10 - w / 2, w + 1, w + 1])


def test_vot_default_and_legacy_layouts(tmp_path):
    root = tmp_path / "vot2019"
    # default layout: sequence file + color/ + polygons + tags/values
    d = root / "ball"
    for i in range(1, 5):
        touch(d / "color" / f"{i:08d}.jpg")
    write(d / "sequence", "channels.color=color/%08d.jpg\nfps=30\nformat=default\nname=ball\n")
    write(d / "groundtruth.txt", "10,8,12,10,10,12,8,10\n1,2,5,6\n0\n")  # polygon, rectangle, special
    write(d / "occlusion.tag", "0\n1\n")
    write(d / "anchor.value", "1\n0\n0\n-1\n")
    # legacy layout: frames in the sequence folder, .label tags, rectangles
    e = root / "car"
    for i in range(1, 4):
        touch(e / f"{i:08d}.jpg")
    write(e / "groundtruth.txt", "1,2,3,4\n2,3,4,5\n3,4,5,6\n")
    write(e / "camera_motion.label", "1\n1\n0\n")
    write(root / "list.txt", "ball\ncar\n")
    seqs = vot2019(root)
    b = seqs["ball"]
    assert b.attributes["layout"] == "default" and len(b) == 4 and b.frames[0].endswith("ball/color/00000001.jpg")
    assert b.ground_truth[0].tolist() == [8, 8, 4, 4] and b.ground_truth[1].tolist() == [1, 2, 5, 6]
    assert np.isnan(b.ground_truth[2:]).all()  # special line and the padded last frame
    assert b.polygons[1].tolist() == [1, 2, 6, 2, 6, 8, 1, 8]
    assert b.attributes["tags"]["occlusion"].tolist() == [False, True, False, False]
    assert b.attributes["values"]["anchor"].tolist() == [1, 0, 0, -1]
    c = seqs["car"]
    assert c.attributes["layout"] == "legacy" and c.frames[2].endswith("car/00000003.jpg")
    assert c.attributes["tags"]["camera_motion"].tolist() == [True, True, False]
    assert np.array_equal(c.ground_truth, [[1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 6]])
    area = vot2019(root, box="area")["ball"]
    assert area.ground_truth[0] == pytest.approx(polygon_to_box(np.array([10, 8, 12, 10, 10, 12, 8, 10.]), "area")[0])
    assert area.ground_truth[1].tolist() == [1, 2, 5, 6]  # rectangles are never rescaled
    (e / "00000003.jpg").unlink()
    with pytest.raises(DatasetError, match=r"vot2018/car: .*3 regions but frame .*car/00000003\.jpg is missing"):
        vot2018(root, sequences=["car"])
