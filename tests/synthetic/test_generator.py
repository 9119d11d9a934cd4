"""Synthetic benchmark generator: determinism, GOT-10k compatibility, label consistency, crash safety.

Everything runs on tiny frames (128x96, tens of frames) so the whole file stays within a few seconds.
"""
from __future__ import annotations

import ast
import importlib.util
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ltr.dataset.synthetic import generator as G
from ltr.utils.image import imread_rgb

REPO = Path(__file__).resolve().parents[2]

TINY = G.SyntheticParams(num_sequences=2, min_frames=24, max_frames=32, width=128, height=96)
#: events forced on, so the label checks below see exits, occlusions and distractors
EVENTFUL = replace(TINY, min_frames=90, max_frames=110, p_out_of_view=1.0, occlusion_rate=3.0, p_full_occlusion=0.7,
                   max_distractors=3, fast_motion_rate=3.0)
LABEL_FILES = ("groundtruth.txt", "absence.label", "cover.label", "cut_by_image.label", "meta_info.ini")


def _files(split_dir: Path) -> dict:
    return {p.relative_to(split_dir).as_posix(): p.read_bytes() for p in sorted(split_dir.rglob("*")) if p.is_file()}


def _box_outside(b: np.ndarray, W: int, H: int) -> np.ndarray:
    return (b[:, 0] + b[:, 2] <= 0) | (b[:, 1] + b[:, 3] <= 0) | (b[:, 0] >= W) | (b[:, 1] >= H)


# ----------------------------------------------------------------------------------------------------------------
# determinism


def test_same_seed_gives_byte_identical_split(tmp_path):
    a = G.ensure_synthetic(tmp_path / "a", "val", params=TINY, verbose=False)
    b = G.ensure_synthetic(tmp_path / "b", "val", params=TINY, verbose=False)
    fa, fb = _files(a), _files(b)
    assert sorted(fa) == sorted(fb)
    for seq in ("SYN_val_000001", "SYN_val_000002"):
        for f in LABEL_FILES:
            assert fa[f"{seq}/{f}"] == fb[f"{seq}/{f}"], f"{seq}/{f} differs between two runs with the same seed"
    # same machine, same libjpeg: the frames are identical too
    assert all(fa[k] == fb[k] for k in fa if k.endswith(".jpg"))


def test_different_seeds_differ(tmp_path):
    a = G.ensure_synthetic(tmp_path / "a", "val", params=TINY, seed=1, verbose=False)
    b = G.ensure_synthetic(tmp_path / "b", "val", params=TINY, seed=2, verbose=False)
    ga = (a / "SYN_val_000001" / "groundtruth.txt").read_text()
    gb = (b / "SYN_val_000001" / "groundtruth.txt").read_text()
    assert ga != gb
    # and the two sequences of one split differ from each other
    assert ga != (a / "SYN_val_000002" / "groundtruth.txt").read_text()


def test_single_sequence_regenerates_identically(tmp_path):
    d = G.ensure_synthetic(tmp_path, "test", params=TINY, verbose=False)
    seq = G.regenerate_sequence("test", 1, params=TINY)
    gt = np.loadtxt(d / "SYN_test_000002" / "groundtruth.txt", delimiter=",")
    np.testing.assert_array_equal(gt, seq.boxes)  # boxes are rounded to the 4 written decimals
    np.testing.assert_array_equal(np.loadtxt(d / "SYN_test_000002" / "cover.label"), seq.cover)
    # each JPEG on disk is its in-memory RGB frame up to compression error (and no other frame)
    def psnr(a: np.ndarray, b: np.ndarray) -> float:
        return float(10 * np.log10(255.0**2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))

    ks = (0, 4, 10, 20)
    for k in ks:
        img = imread_rgb(d / "SYN_test_000002" / f"{k + 1:08d}.jpg")
        assert img.shape == seq.frames[k].shape == (TINY.height, TINY.width, 3)
        scores = [psnr(img, seq.frames[j]) for j in ks]
        assert int(np.argmax(scores)) == ks.index(k) and max(scores) > 25.0, scores


# ----------------------------------------------------------------------------------------------------------------
# GOT-10k layout, read by the got10k toolkit itself


def test_got10k_toolkit_reads_the_layout(tmp_path):
    got = pytest.importorskip("got10k.datasets")
    G.ensure_synthetic(tmp_path, "val", params=TINY, verbose=False)
    ds = got.GOT10k(str(tmp_path), subset="val", return_meta=True)
    assert len(ds) == TINY.num_sequences
    assert ds.seq_names == ["SYN_val_000001", "SYN_val_000002"]
    for i in range(len(ds)):
        img_files, anno, meta = ds[i]
        assert anno.shape == (len(img_files), 4) and TINY.min_frames <= len(img_files) <= TINY.max_frames
        assert ast.literal_eval(meta["resolution"]) == (TINY.width, TINY.height)
        assert imread_rgb(img_files[0]).shape == (TINY.height, TINY.width, 3)
        for k in ("cover", "absence", "cut_by_image"):
            assert meta[k].shape == (len(img_files),)
        assert int(meta["num_frames"]) == len(img_files)


def test_got10k_experiment_scores_oracle_as_perfect(tmp_path):
    """The toolkit's own evaluation (cover>0 frames, IoU clipped to the resolution) gives AO 1 to the ground truth."""
    exp_mod = pytest.importorskip("got10k.experiments")
    from got10k.trackers import Tracker

    G.ensure_synthetic(tmp_path / "data", "val", params=replace(TINY, num_sequences=1), verbose=False)

    class Oracle(Tracker):
        def __init__(self):
            super().__init__("Oracle", is_deterministic=True)

        def track(self, img_files, box, visualize=False):
            gt = np.loadtxt(Path(img_files[0]).parent / "groundtruth.txt", delimiter=",")
            return gt, np.full(len(img_files), 0.01)

    exp = exp_mod.ExperimentGOT10k(str(tmp_path / "data"), subset="val", result_dir=str(tmp_path / "res"),
                                   report_dir=str(tmp_path / "rep"))
    exp.run(Oracle())
    perf = exp.report(["Oracle"])  # (also writes a success plot, headless)
    assert perf["Oracle"]["overall"]["ao"] == pytest.approx(1.0, abs=2e-3)  # toolkit writes boxes with %.3f


# ----------------------------------------------------------------------------------------------------------------
# labels


def test_cover_levels_hand_worked():
    vis = [0.0, 0.1, 0.15, 0.16, 0.5, 0.9, 0.91, 0.999, 1.0]
    assert G.cover_level(vis).tolist() == [0, 1, 1, 2, 4, 6, 7, 7, 8]


def _flat_scene(target_box, occluder_box=None, W=128, H=96) -> "G._Scene":
    """A scene with one rectangular target and optionally one rectangular occluder in front, no effects."""
    def rect_app(value: float) -> "G._Appearance":
        tex = np.full((128, 128, 3), value, np.float32)
        return G._Appearance(G._mips(tex), G._mips(np.ones((128, 128), np.float32)), None, "rectangle", "noise")

    n = 1
    tgt = G._Actor("target", rect_app(200.0), np.array([target_box], float), np.ones(n, bool))
    front = []
    if occluder_box is not None:
        occ = G._Actor("occluder", rect_app(50.0), np.array([occluder_box], float), np.ones(n, bool), front=True)
        front.append(occ)
    return G._Scene(n, W, H, np.zeros((2 * H, 2 * W, 3), np.float32), np.zeros((n, 2)), [], tgt, front,
                    np.ones((n, 3)), None, np.zeros((n, 2), int))


@pytest.mark.parametrize(
    "target_box, occluder_box, expected_visible, expected_cover",
    [
        ((40, 30, 20, 20), None, 1.0, 8),  # fully visible
        ((40, 30, 20, 20), (30, 20, 20, 40), 0.5, 4),  # occluder covers x in [30,50): the left half
        ((40, 30, 20, 20), (30, 20, 40, 40), 0.0, 0),  # occluder contains the target
        ((40, 30, 20, 20), (40, 30, 20, 5), 0.75, 5),  # top quarter hidden; 0.75 is in (60 %, 75 %]
        ((-10, 30, 20, 20), None, 0.5, 4),  # half outside the left border
        ((118, 86, 20, 20), None, 0.25, 2),  # quarter inside the bottom-right corner
        ((-30, 30, 20, 20), None, 0.0, 0),  # fully outside
    ],
)
def test_visibility_matches_geometry(target_box, occluder_box, expected_visible, expected_cover):
    scene = _flat_scene(target_box, occluder_box)
    frame, rec = G._render(scene, 0)
    assert rec.visible == pytest.approx(expected_visible, abs=1e-9)
    assert int(G.cover_level(rec.visible, rec.fully_visible)) == expected_cover
    x, y, w, h = (int(v) for v in target_box)
    if expected_visible == 1.0:  # and the pixels are really the target's (value 200)
        assert np.all(frame[y:y + h, x:x + w] == 200)


def test_labels_consistent_with_boxes():
    W, H = EVENTFUL.width, EVENTFUL.height
    seen_absent = seen_occluded = seen_cut = 0
    for i in range(3):
        seq = G.generate_sequence(G.sequence_seed("test", i, seed=11), EVENTFUL, name=f"t{i}")
        b, absence, cover, meta = seq.boxes, seq.absence, seq.cover, seq.meta
        n = len(seq.frames)
        assert b.shape == (n, 4) and absence.shape == cover.shape == (n,)
        # frame 1: fully visible, inside the image, not tiny
        assert cover[0] == 8 and absence[0] == 0 and meta["cut_by_image"][0] == 0
        assert b[0, 0] >= 0 and b[0, 1] >= 0 and b[0, 0] + b[0, 2] <= W and b[0, 1] + b[0, 3] <= H
        assert min(b[0, 2], b[0, 3]) >= 16
        # absence <=> cover 0 <=> nothing visible; a box wholly outside the image is always absent
        assert np.array_equal(absence == 1, cover == 0)
        vis, occ = meta["visible_fraction"], meta["occluded_fraction"]
        assert np.array_equal(absence == 1, vis == 0)
        assert np.all(absence[_box_outside(b, W, H)] == 1)
        # absent frames are explained: box (practically) outside the image, or hidden by something in front
        expl = _box_outside(b, W, H) | (occ > 0) | (b[:, 0] < 0) | (b[:, 1] < 0) | (b[:, 0] + b[:, 2] > W) \
            | (b[:, 1] + b[:, 3] > H)
        assert np.all(expl[absence == 1])
        # cut_by_image recomputed from the boxes
        cut = (b[:, 0] < 0) | (b[:, 1] < 0) | (b[:, 0] + b[:, 2] > W) | (b[:, 1] + b[:, 3] > H)
        assert np.array_equal(meta["cut_by_image"].astype(bool), cut)
        # cover is monotone in the visible fraction
        order = np.argsort(vis, kind="stable")
        assert np.all(np.diff(cover[order]) >= 0)
        assert np.all(vis[cover == 8] == 1.0)
        # meta counts agree with the labels
        assert meta["absent_frames"] == int(absence.sum())
        assert meta["num_frames"] == n
        size = np.sqrt(b[:, 2] * b[:, 3])
        assert meta["scale_change"] == pytest.approx(size.max() / size.min(), abs=1e-3)
        assert all(f.dtype == np.uint8 and f.shape == (H, W, 3) for f in seq.frames)
        seen_absent += int(absence.sum())
        seen_occluded += int((occ > 0).sum())
        seen_cut += int(cut.sum())
    # the forced events really happened (otherwise the checks above would be vacuous)
    assert seen_absent > 0 and seen_occluded > 0 and seen_cut > 0


# ----------------------------------------------------------------------------------------------------------------
# caching and crash safety


def test_interrupted_generation_is_not_complete_and_rerun_completes(tmp_path, monkeypatch):
    real = G.write_sequence
    calls = {"n": 0}

    def crash_on_second(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("simulated interruption")
        return real(*a, **k)

    monkeypatch.setattr(G, "write_sequence", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        G.ensure_synthetic(tmp_path, "train", params=TINY, verbose=False)
    assert not (tmp_path / "train" / G.COMPLETE_MARKER).exists()
    assert not (tmp_path / "train").exists()
    assert not list(tmp_path.glob(".train.partial-*"))
    assert not G.is_complete(tmp_path, "train", params=TINY)

    monkeypatch.setattr(G, "write_sequence", real)
    d = G.ensure_synthetic(tmp_path, "train", params=TINY, verbose=False)
    assert (d / G.COMPLETE_MARKER).exists() and G.is_complete(tmp_path, "train", params=TINY)
    assert (d / "list.txt").read_text().split() == ["SYN_train_000001", "SYN_train_000002"]


def test_complete_split_is_reused_and_changed_params_regenerate(tmp_path, monkeypatch):
    d = G.ensure_synthetic(tmp_path, "val", params=TINY, verbose=False)

    def must_not_run(*a, **k):
        raise AssertionError("a complete split was regenerated")

    monkeypatch.setattr(G, "write_sequence", must_not_run)
    assert G.ensure_synthetic(tmp_path, "val", params=TINY, verbose=False) == d
    # different parameters: regeneration is attempted; if it is interrupted the old split stays usable as it was
    with pytest.raises(AssertionError):
        G.ensure_synthetic(tmp_path, "val", num_sequences=3, params=TINY, verbose=False)
    assert G.is_complete(tmp_path, "val", params=TINY)
    assert not G.is_complete(tmp_path, "val", num_sequences=3, params=TINY)
    monkeypatch.undo()
    G.ensure_synthetic(tmp_path, "val", num_sequences=3, params=TINY, verbose=False)
    assert len((d / "list.txt").read_text().split()) == 3
    assert not G.is_complete(tmp_path, "val", params=TINY)


def test_growing_a_split_keeps_its_sequences(tmp_path):
    """val grew from 30 to 150 sequences: results on the first ones must stay comparable, so a sequence's
    content may depend only on (split, index, seed), never on how many sequences the split has."""
    small = G.ensure_synthetic(tmp_path / "a", "val", params=replace(TINY, num_sequences=2), verbose=False)
    big = G.ensure_synthetic(tmp_path / "b", "val", params=replace(TINY, num_sequences=3), verbose=False)
    for seq in ("SYN_val_000001", "SYN_val_000002"):
        for f in sorted(p.name for p in (small / seq).iterdir()):
            assert (small / seq / f).read_bytes() == (big / seq / f).read_bytes(), f"{seq}/{f} changed"
    assert (big / "SYN_val_000003").is_dir()


def test_val_is_larger_than_test():
    """Choices are made on val: it must resolve differences the 30-sequence test split cannot."""
    assert G.DEFAULT_PARAMS["val"].num_sequences >= 5 * G.DEFAULT_PARAMS["test"].num_sequences
    assert replace(G.DEFAULT_PARAMS["val"], num_sequences=1) == replace(G.DEFAULT_PARAMS["test"], num_sequences=1)


def test_bad_input_names_the_problem(tmp_path):
    with pytest.raises(G.SyntheticError, match="unknown synthetic split 'tset'"):
        G.ensure_synthetic(tmp_path, "tset")
    with pytest.raises(G.SyntheticError, match="frame size 32x32"):
        G.generate_sequence(0, replace(TINY, width=32, height=32))
    with pytest.raises(G.SyntheticError, match="p_out_of_view"):
        G.ensure_synthetic(tmp_path, "val", params=replace(TINY, p_out_of_view=2.0))


def test_stats_script_prints_markdown(tmp_path, capsys):
    G.ensure_synthetic(tmp_path, "val", params=TINY, verbose=False)
    spec = importlib.util.spec_from_file_location("synthetic_stats", REPO / "scripts" / "synthetic_stats.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--root", str(tmp_path), "--split", "val", "--no-generate"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| statistic | val |")
    assert "| sequences | 2 |" in out
    n = sum(len((tmp_path / "val" / s / "groundtruth.txt").read_text().splitlines()) for s in ("SYN_val_000001",
                                                                                               "SYN_val_000002"))
    assert f"| frames (total; min / mean / max per sequence) | {n};" in out


# ----------------------------------------------------------------------------------------------------------------
# distractor annotation (distractors.txt, a SOTLab extension used by hard-negative training crops)


def _scene_with_distractors(max_tries: int = 20):
    for i in range(max_tries):
        ss = G._as_seed_sequence(G.sequence_seed("test", i, seed=5))
        scene = G._build_scene(ss, EVENTFUL)
        if sum(a.kind == "distractor" for a in scene.behind + scene.front) >= 2:
            return i, scene
    raise AssertionError("no EVENTFUL scene with two distractors")


def test_distractor_boxes_are_where_the_distractors_are_drawn():
    """Rendering the scene with and without its distractors: the pixels that change lie inside the annotated
    boxes (+2 px for anti-aliasing), and every distractor inside the image changes some pixels of its box."""
    from dataclasses import replace as dc_replace

    _, scene = _scene_with_distractors()
    boxes = G._distractor_boxes(scene)
    bare = dc_replace(scene, behind=[a for a in scene.behind if a.kind != "distractor"],
                      front=[a for a in scene.front if a.kind != "distractor"], noise=None)
    full = dc_replace(scene, noise=None)
    W, H = scene.W, scene.H
    checked = 0
    for t in range(0, scene.n, 7):
        diff = np.abs(G._render(full, t)[0].astype(int) - G._render(bare, t)[0].astype(int)).max(2) > 0
        inside = np.zeros_like(diff)
        for x, y, w, h in boxes[t]:
            x0, y0 = max(int(np.floor(x)) - 2, 0), max(int(np.floor(y)) - 2, 0)
            x1, y1 = min(int(np.ceil(x + w)) + 2, W), min(int(np.ceil(y + h)) + 2, H)
            if x1 > x0 and y1 > y0:
                inside[y0:y1, x0:x1] = True
        assert not np.any(diff & ~inside), f"frame {t}: pixels changed outside every distractor box"
        tb = scene.target.boxes[t]
        for x, y, w, h in boxes[t]:
            if x >= 0 and y >= 0 and x + w <= W and y + h <= H and not G._box_overlap(np.array([x, y, w, h]), tb):
                assert diff[int(y):int(y + h), int(x):int(x + w)].any(), f"frame {t}: distractor {x, y, w, h} not drawn"
                checked += 1
    assert checked > 0


def test_distractor_file_written_and_rebuilt_without_rendering(tmp_path):
    d = G.ensure_synthetic(tmp_path, "test", params=replace(EVENTFUL, num_sequences=3), seed=5, verbose=False)
    for i in range(3):
        seq_dir = d / G.sequence_name("test", i)
        rows = (seq_dir / G.DISTRACTOR_FILE).read_text().splitlines()
        n = len((seq_dir / "groundtruth.txt").read_text().splitlines())
        assert len(rows) == n
        k = int(dict(ln.split(": ", 1) for ln in (seq_dir / "meta_info.ini").read_text().splitlines()[1:])["distractors"])
        vals = np.array([[float(v) for v in r.split(",")] if r else [] for r in rows]).reshape(n, -1, 4)
        assert vals.shape[1] == k
        rebuilt = G.scene_distractor_boxes("test", i, seed=5, params=replace(EVENTFUL, num_sequences=3))
        np.testing.assert_allclose(vals, rebuilt, atol=5e-5)  # written with 4 decimals
