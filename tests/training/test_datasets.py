"""Training datasets on fixture trees in the exact raw layouts."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _training_fixtures import (make_coco, make_got10k, make_lasot, make_trackingnet, make_vid, make_youtubebb,  # noqa: E402
                                seq_boxes)

from ltr.admin.registry import TRAIN_DATASETS
from ltr.admin.settings import SettingsError
from ltr.dataset.base import DatasetLayoutError, build_train_dataset


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SOTLAB_DATASET_CACHE", str(tmp_path / "cache"))


def test_all_training_datasets_registered():
    for name in ("got10k", "lasot", "trackingnet", "coco", "imagenetvid", "youtubebb", "synthetic"):
        assert name in TRAIN_DATASETS


def test_got10k_splits_visibility_and_frames(tmp_path):
    names = make_got10k(tmp_path, "train", nseq=4, nframes=6, absent={1: [2, 3]})
    ds = build_train_dataset("got10k", "train", {"root": str(tmp_path)})
    assert ds.sequence_names == names
    info = ds.sequence_info(1)
    assert np.allclose(info.boxes[0], seq_boxes(6, 64, 48, 1)[0])
    assert info.visible.tolist() == [True, True, False, False, True, True]
    imgs, boxes, meta = ds.get_frames(0, [0, 5, 0])
    assert len(imgs) == 3 and imgs[0].shape == (48, 64, 3) and imgs[0] is imgs[2]
    assert meta == {"dataset": "got10k", "sequence": names[0], "frames": [0, 5, 0]}
    assert ds.frame_path(0, 5).endswith(f"{names[0]}/00000006.jpg")
    # vot-excluded split from a list file: pytracking's integer indices, or names
    (tmp_path / "vot_train.txt").write_text("0\n2\n")
    vt = build_train_dataset("got10k", "vottrain", {"root": str(tmp_path), "seq_list_file": str(tmp_path / "vot_train.txt")})
    assert vt.sequence_names == [names[0], names[2]]
    (tmp_path / "vot_val.txt").write_text(f"{names[3]}\n")
    vv = build_train_dataset("got10k", "votval", {"root": str(tmp_path), "seq_list_file": str(tmp_path / "vot_val.txt")})
    assert vv.sequence_names == [names[3]]
    with pytest.raises(ValueError, match="seq_list_file"):
        build_train_dataset("got10k", "vottrain", {"root": str(tmp_path)})
    with pytest.raises(DatasetLayoutError, match="val"):
        build_train_dataset("got10k", "val", {"root": str(tmp_path)})


def test_missing_root_names_setting_and_layout(monkeypatch):
    monkeypatch.delenv("SOTLAB_LASOT_DIR", raising=False)
    with pytest.raises(SettingsError, match=r"datasets\.lasot.*SOTLAB_LASOT_DIR"):
        build_train_dataset("lasot", "train")


def test_lasot_official_split_and_flags(tmp_path):
    make_lasot(tmp_path, classes=("cat", "dog"), per_class=3, occluded={"dog-2": [1, 4]})
    tr = build_train_dataset("lasot", "train", {"root": str(tmp_path)})
    te = build_train_dataset("lasot", "test", {"root": str(tmp_path)})
    assert tr.sequence_names == ["cat-1", "cat-2", "dog-1", "dog-2"]
    assert te.sequence_names == ["cat-3", "dog-3"]
    i = tr.sequence_names.index("dog-2")
    assert tr.sequence_info(i).visible.tolist() == [True, False, True, True, False, True]
    assert tr.frame_path(i, 0).endswith("dog/dog-2/img/00000001.jpg")
    assert tr.object_class(i) == "dog"
    cats = build_train_dataset("lasot", "train", {"root": str(tmp_path), "classes": ["cat"]})
    assert cats.sequence_names == ["cat-1", "cat-2"]
    (tmp_path / "testing_set.txt").unlink()
    with pytest.raises(DatasetLayoutError, match="testing_set.txt"):
        build_train_dataset("lasot", "train", {"root": str(tmp_path)})


def test_trackingnet_chunks(tmp_path):
    make_trackingnet(tmp_path, chunks=(0, 1, 2), per_chunk=2, nframes=5)
    ds = build_train_dataset("trackingnet", None, {"root": str(tmp_path), "chunks": [0, 2]})
    assert ds.sequence_names == ["TRAIN_0/vid0_0", "TRAIN_0/vid0_1", "TRAIN_2/vid2_0", "TRAIN_2/vid2_1"]
    assert np.allclose(ds.sequence_info(2).boxes, seq_boxes(5, 64, 48, 200))
    assert ds.frame_path(3, 4).endswith("TRAIN_2/frames/vid2_1/4.jpg")
    imgs, boxes, _ = ds.get_frames(3, [4])
    assert imgs[0].shape == (48, 64, 3)
    with pytest.raises(DatasetLayoutError, match="TRAIN_5"):
        build_train_dataset("trackingnet", None, {"root": str(tmp_path), "chunks": [5]})


@pytest.mark.parametrize("images_subdir", [True, False])
def test_coco_single_image_sequences(tmp_path, images_subdir):
    anns = make_coco(tmp_path, images_subdir=images_subdir)
    ds = build_train_dataset("coco", None, {"root": str(tmp_path)})
    non_crowd = [a for a in anns["annotations"] if not a["iscrowd"]]
    assert len(ds) == len(non_crowd) == 3
    assert not ds.is_video
    for k, a in enumerate(non_crowd):
        info = ds.sequence_info(k)
        assert len(info) == 1 and np.allclose(info.boxes[0], a["bbox"])
    imgs, boxes, meta = ds.get_frames(2, [0, 0])
    assert imgs[0].shape == (48, 64, 3) and meta["sequence"].startswith("000000000002")
    assert ds.object_class(0) == "cat"


def test_imagenetvid_tracks(tmp_path):
    make_vid(tmp_path)
    ds = build_train_dataset("imagenetvid", None, {"root": str(tmp_path)})
    assert len(ds) == 2
    t1 = ds.sequence_info(1)
    assert len(t1) == 4  # missing in frame 1: the track's frames are the annotated ones
    assert t1.visible.tolist() == [True, True, False, True]  # occluded in (video) frame 3 = track position 2
    assert ds.frame_path(1, 1).endswith("ILSVRC2015_train_00000000/000002.JPEG")
    b = seq_boxes(5, 64, 48, 2)[0]
    assert np.allclose(t1.boxes[0], [int(b[0]), int(b[1]), int(b[0] + b[2]) - int(b[0]), int(b[1] + b[3]) - int(b[1])])
    # the index is cached and reused
    ds2 = build_train_dataset("imagenetvid", None, {"root": str(tmp_path)})
    assert ds2.sequence_names == ds.sequence_names


def test_youtubebb_normalised_boxes(tmp_path):
    rows = make_youtubebb(tmp_path)
    ds = build_train_dataset("youtubebb", None, {"root": str(tmp_path)})
    assert ds.sequence_names == ["vidA#0#0", "vidA#3#0", "vidB#0#1"]
    info = ds.sequence_info(0)
    assert info.visible.tolist() == [True, False, True]
    imgs, boxes, _ = ds.get_frames(0, [2])
    r = rows[2]
    assert np.allclose(boxes[0], [r[6] * 64, r[8] * 48, (r[7] - r[6]) * 64, (r[9] - r[8]) * 48])
    assert ds.frame_path(0, 2).endswith("frames/vidA/3000.jpg")


def test_synthetic_train_split(tmp_path):
    ds = build_train_dataset("synthetic", "val", {"root": str(tmp_path / "syn"), "num_sequences": 1})
    assert len(ds) == 1
    info = ds.sequence_info(0)
    assert len(info) >= 10 and info.visible.any()
    imgs, boxes, _ = ds.get_frames(0, [0])
    assert imgs[0].ndim == 3


def test_synthetic_train_distractors_from_file_and_rebuilt(tmp_path):
    """get_frames hands the look-alikes' boxes to processing; a split without distractors.txt (older SOTLab)
    gets the file rebuilt from its scene, equal to what the generator writes."""
    from ltr.dataset.synthetic import generator as G

    ds = build_train_dataset("synthetic", "val", {"root": str(tmp_path / "syn"), "num_sequences": 4})
    seqs = [i for i in range(len(ds)) if ds._sequence_distractors(i).shape[1] > 0]
    assert seqs, "no sequence with distractors among the first 4 of the val split"
    i = seqs[0]
    f = ds.sequence_dir(i) / G.DISTRACTOR_FILE
    written = f.read_text()
    _, boxes, meta = ds.get_frames(i, [0, 3])
    rows = written.splitlines()
    for k, fr in enumerate([0, 3]):
        expect = np.array([float(v) for v in rows[fr].split(",")]).reshape(-1, 4)
        np.testing.assert_array_equal(meta["distractors"][k], expect)
    f.unlink()
    ds2 = build_train_dataset("synthetic", "val", {"root": str(tmp_path / "syn"), "num_sequences": 4})
    _, _, meta2 = ds2.get_frames(i, [0, 3])
    assert f.read_text() == written
    np.testing.assert_array_equal(meta2["distractors"][1], meta["distractors"][1])
    # a corrupt file names itself
    f.write_text("1,2,3\n")
    ds3 = build_train_dataset("synthetic", "val", {"root": str(tmp_path / "syn"), "num_sequences": 4})
    with pytest.raises(ValueError, match="distractors.txt"):
        ds3.get_frames(i, [0])
