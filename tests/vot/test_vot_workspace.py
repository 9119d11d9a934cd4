"""Fast unit tests of the VOT workspace generator and the results reader (no tracking)."""
from __future__ import annotations

import ast
import configparser
import importlib.util
import json
import os
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from _votkit import REPO, make_toy_sequence, toolkit_available
from tracking.evaluation.data import Sequence
from tracking.votkit.analysis import read_regions, read_sequence, read_workspace_sequences, vot_overlap
from tracking.votkit.server import polygon_to_box
from tracking.votkit.workspace import (TrackerSpec, WorkspaceError, default_anchors, parse_tracker_arg,
                                    resolve_tracker, stack_definition, trackers_ini, write_workspace)


def _toolkit_stack(rel: str) -> dict:
    """A stack YAML shipped with the installed vot-toolkit (located without importing ``vot``)."""
    spec = importlib.util.find_spec("vot")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("vot-toolkit not installed")
    return yaml.safe_load((Path(list(spec.submodule_search_locations)[0]) / "stack" / rel).read_text())


@pytest.mark.parametrize("name, rel", [("vot2018", "vot2018/shortterm.yaml"), ("vot2020", "vot2020/shortterm.yaml")])
def test_builtin_stacks_equal_the_toolkits_but_offline(name, rel):
    ours = stack_definition(name)
    theirs = _toolkit_stack(rel)
    assert "dataset" in theirs and "dataset" not in ours  # nothing is ever downloaded
    assert ours["experiments"] == theirs["experiments"]
    assert stack_definition(name, ["baseline"])["experiments"].keys() == {"baseline"}


def test_custom_stack_drops_dataset_and_checks_experiments(tmp_path):
    f = tmp_path / "my.yaml"
    f.write_text(yaml.safe_dump({"title": "x", "dataset": "http://example.invalid/d.json",
                                 "experiments": {"baseline": {"type": "supervised"}, "other": {"type": "unsupervised"}}}))
    with pytest.warns(UserWarning, match="dropped the 'dataset' key"):
        st = stack_definition(f, ["baseline"])
    assert "dataset" not in st and list(st["experiments"]) == ["baseline"]
    with pytest.raises(WorkspaceError, match="nope.*not in stack"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stack_definition(f, ["nope"])
    (tmp_path / "bad.yaml").write_text("title: no experiments\n")
    with pytest.raises(WorkspaceError, match="bad.yaml.*experiments"):
        stack_definition(tmp_path / "bad.yaml")
    with pytest.raises(WorkspaceError, match="neither a built-in stack"):
        stack_definition("vot1999")


def test_tracker_args_and_timeout_from_config():
    assert parse_tracker_arg("siamcar:vot2018") == ("siamcar", "vot2018", None)
    assert parse_tracker_arg("ncc") == ("ncc", "default", None)
    assert parse_tracker_arg("ncc:default=fast") == ("ncc", "default", "fast")
    spec = resolve_tracker("ncc:default")
    assert (spec.identifier, spec.timeout, spec.label) == ("ncc_default", 30, "ncc:default")
    # vot_timeout of the config -> trackers.ini timeout (the toolkit wants whole seconds >= 1)
    assert resolve_tracker("ncc:default", ["vot_timeout=12.5"]).timeout == 13
    assert resolve_tracker("ncc:default", ["vot_timeout=12.5"], timeout=4).timeout == 4  # --timeout wins
    from ltr.admin.config import ConfigError

    with pytest.raises(ConfigError, match="no config 'nosuch'"):
        resolve_tracker("ncc:nosuch")
    with pytest.raises(WorkspaceError, match="must match"):
        TrackerSpec("ncc", "default", "bad id!")


def test_trackers_ini_is_a_valid_toolkit_registry(tmp_path):
    cfg = tmp_path / "odd 100%" / "my.yaml"
    specs = [TrackerSpec("ncc", "default", "ncc_default", timeout=45, overrides=["track.template_lr=0.1"]),
             TrackerSpec("ncc", str(cfg), "ncc_odd")]
    text = trackers_ini(specs, python=sys.executable, paths=[tmp_path], device="cpu", threads=2, plugins=["mymod"])
    ini = configparser.ConfigParser()  # what vot.tracker.Registry uses (with % interpolation)
    ini.read_string(text)
    assert ini.sections() == ["ncc_default", "ncc_odd"]
    sec = ini["ncc_default"]
    assert sec["protocol"] == "traxpython" and sec["timeout"] == "45"
    assert Path(sec["python"]) == Path(sys.executable).absolute()
    assert sec["paths"].split(os.pathsep) == [str(REPO), str(tmp_path.resolve())]
    assert sec["env_PATH"].startswith(str(Path(sys.executable).parent) + os.pathsep)
    # the command is one Python statement; its argument list reaches the server unchanged
    cmd = sec["command"]
    compile(cmd, "<trackers.ini>", "exec")
    argv = ast.literal_eval(cmd[cmd.index("main(") + 5:cmd.rindex("))")])
    assert argv == ["ncc", "default", "--device", "cpu", "--set", "track.template_lr=0.1", "--threads", "2",
                    "--plugin", "mymod"]
    odd = ini["ncc_odd"]["command"]  # '%' survives configparser interpolation
    assert ast.literal_eval(odd[odd.index("main(") + 5:odd.rindex("))")])[1] == str(cfg)
    with pytest.raises(WorkspaceError, match="duplicate tracker id"):
        trackers_ini([specs[0], specs[0]])


def test_default_anchors_hand_worked():
    a = default_anchors(np.ones(120, dtype=bool), spacing=50)
    # frame 0: forward (120 >= 1); 50: forward (70 >= 51); 100: backward (20 < 101)
    assert {int(i): int(a[i]) for i in np.flatnonzero(a)} == {0: 1, 50: 1, 100: -1}
    valid = np.ones(120, dtype=bool)
    valid[50:53] = False
    a = default_anchors(valid, spacing=50)
    assert {int(i): int(a[i]) for i in np.flatnonzero(a)} == {0: 1, 53: 1, 100: -1}


def test_polygon_to_box_hand_worked():
    diamond = [(50, 30), (60, 40), (50, 50), (40, 40)]  # a square rotated by 45 degrees, side 10*sqrt(2)
    np.testing.assert_allclose(polygon_to_box(diamond, "minmax"), [40, 30, 20, 20])
    # pysot: polygon area 200, tight box 20x20 -> s = sqrt(1/2), w = h = 20 s + 1, centre (50, 40)
    w = 20 * np.sqrt(0.5) + 1
    np.testing.assert_allclose(polygon_to_box(diamond, "pysot"), [50 - (w - 1) / 2, 40 - (w - 1) / 2, w, w])
    with pytest.raises(ValueError, match="unknown mode"):
        polygon_to_box(diamond, "nope")
    with pytest.raises(ValueError, match=">= 3 finite vertices"):
        polygon_to_box([(0, 0), (1, 1)])


def test_convert_and_read_back(tmp_path):
    seq = make_toy_sequence(tmp_path / "src", "toy", seed=5, n=12)
    gt = seq.ground_truth.copy()
    gt[7] = np.nan  # an unannotated frame
    seq = Sequence("toy", seq.frames, gt, "toy")
    spec = TrackerSpec("ncc", "default", "ncc_default")
    with pytest.warns(UserWarning, match="1 frames without a box"):
        ws = write_workspace(tmp_path / "ws", [spec], stack="vot2020", dataset=[seq], anchor_spacing=5)
    sdir = ws / "sequences" / "toy"
    meta = dict(l.split("=", 1) for l in (sdir / "sequence").read_text().split())
    assert meta == {"channels.color": "color/%08d.jpg", "fps": "30", "format": "default", "name": "toy",
                    "width": "96", "height": "72", "length": "12"}
    frames = sorted((sdir / "color").iterdir())
    assert [f.name for f in frames] == [f"{i:08d}.jpg" for i in range(1, 13)]
    assert all(f.is_symlink() and f.resolve() == Path(src).resolve() for f, src in zip(frames, seq.frames))
    lines = (sdir / "groundtruth.txt").read_text().splitlines()
    assert lines[7] == "0" and len(lines) == 12
    back = read_sequence(sdir)  # SOTLab's reader of the toolkit format
    assert back.size == (96, 72) and len(back) == 12 and back.groundtruth[7] == 0
    np.testing.assert_allclose(np.array([back.groundtruth[i] for i in range(12) if i != 7], dtype=np.float64),
                               np.delete(gt, 7, axis=0), atol=1e-4)
    # anchors every 5 frames on frames with a box; frame 5 and 10 ... 10 is backward (2 < 11)
    assert back.anchors.tolist() == [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, -1, 0]
    cfg = yaml.safe_load((ws / "config.yaml").read_text())
    assert cfg == {"registry": ["./trackers.ini"], "stack": "stack.yaml", "sequences": "sequences"}
    assert yaml.safe_load((ws / "stack.yaml").read_text())["experiments"]["baseline"]["type"] == "multistart"
    with pytest.raises(WorkspaceError, match="already holds a workspace"):
        write_workspace(ws, [spec], dataset=[seq])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_workspace(ws, [spec], dataset=[seq], force=True)  # our own sequences/ may be rewritten
    # ... but never a sequences/ folder SOTLab did not write (e.g. data the toolkit downloaded there)
    foreign = tmp_path / "downloaded"
    (foreign / "sequences").mkdir(parents=True)
    (foreign / "sequences" / "list.txt").write_text("bag\n")
    with pytest.raises(WorkspaceError, match="was not written by SOTLab"):
        write_workspace(foreign, [spec], dataset=[seq], force=True)
    assert (foreign / "sequences" / "list.txt").is_file()


def test_vot_folder_is_referenced_in_place(tmp_path, toy_dataset):
    spec = TrackerSpec("ncc", "default", "ncc_default")
    ws = write_workspace(tmp_path / "ws", [spec], dataset=str(toy_dataset.root), sequences=2)
    entries = (ws / "sequences" / "list.txt").read_text().split()
    assert entries == [str((toy_dataset.root / n).resolve()) for n in ("toy_a", "toy_jump")]
    seqs = read_workspace_sequences(ws)  # legacy format: groundtruth.txt + %08d.jpg
    assert [s.name for s in seqs] == ["toy_a", "toy_jump"] and all(len(s) == 30 for s in seqs)
    np.testing.assert_allclose(np.array(seqs[1].groundtruth, dtype=np.float64), toy_dataset[1].ground_truth, atol=1e-4)
    with pytest.raises(WorkspaceError, match="no list.txt"):
        write_workspace(tmp_path / "ws2", [spec], dataset=str(tmp_path))
    with pytest.raises(WorkspaceError, match="nosuch not in"):
        write_workspace(tmp_path / "ws3", [spec], dataset=str(toy_dataset.root), sequences="toy_a,nosuch")


def test_read_regions_text_and_binary(tmp_path):
    txt = tmp_path / "t.txt"
    txt.write_text("1\n10.5,20,30,40\n2\n0\n1,2,3,4,5,6,7,8\nnan,nan,nan,nan\n")
    r = read_regions(txt)
    assert r[0] == 1 and r[2] == 2 and r[3] == 0 and r[5] == 0
    np.testing.assert_array_equal(r[1], [10.5, 20, 30, 40])
    np.testing.assert_array_equal(r[4], [1, 2, 3, 4, 5, 6, 7, 8])
    # binary layout of vot-toolkit 0.7.4 (vot/region/io.py): <hI header, then per region a type byte
    data = struct.pack("<hI", 1, 4) + struct.pack("<BI", 0, 1) + struct.pack("<Bffff", 1, 1.5, 2, 3, 4)
    data += struct.pack("<BH6f", 2, 3, 0, 0, 4, 0, 0, 3) + struct.pack("<BhhHHH3H", 3, 5, 6, 2, 2, 3, 1, 2, 1)
    (tmp_path / "b.bin").write_bytes(data)
    b = read_regions(tmp_path / "b.bin")
    assert b[0] == 1
    np.testing.assert_array_equal(b[1], [1.5, 2, 3, 4])
    np.testing.assert_array_equal(b[2], [0, 0, 4, 0, 0, 3])
    assert b[3]["offset"] == (5, 6)
    np.testing.assert_array_equal(b[3]["mask"], [[0, 1], [1, 0]])  # RLE 1 zero, 2 ones, 1 zero


@pytest.mark.skipif(not toolkit_available(), reason="vot-toolkit not installed")
def test_overlap_equals_toolkit_rasteriser(tmp_path):
    """Random rectangles, polygons, masks and special regions: SOTLab's overlap vs the
    toolkit's ``calculate_overlap`` (run in a subprocess; the toolkit is the reference)."""
    rng = np.random.default_rng(7)

    def rnd():
        k = rng.integers(0, 5)
        if k == 0:
            return ["s", int(rng.integers(0, 3))]
        if k == 1:
            return ["r", rng.uniform([-20, -20, -3, -3], [80, 60, 40, 40]).astype(np.float32).tolist()]
        if k in (2, 3):
            n = 4 if k == 2 else int(rng.integers(3, 8))
            return ["p", rng.uniform(-10, 90, 2 * n).astype(np.float32).tolist()]
        m = (rng.random((int(rng.integers(1, 15)), int(rng.integers(1, 15)))) > 0.5).astype(int)
        return ["m", [int(rng.integers(-10, 80)), int(rng.integers(-10, 60))], m.tolist()]

    pairs = [[rnd(), rnd()] for _ in range(400)]
    script = """
import json, sys, numpy as np
from vot.region import Special, calculate_overlap
from vot.region.shapes import Rectangle, Polygon, Mask
def dec(e):
    if e[0] == 's': return Special(e[1])
    if e[0] == 'r': return Rectangle(*e[1])
    if e[0] == 'p': return Polygon(list(zip(e[1][0::2], e[1][1::2])))
    return Mask(np.array(e[2], dtype=np.uint8), offset=tuple(e[1]), optimize=False)
print(json.dumps([calculate_overlap(dec(a), dec(b), (80, 60)) for a, b in json.load(sys.stdin)]))
"""
    r = subprocess.run([sys.executable, "-c", script], input=json.dumps(pairs), capture_output=True, text=True,
                       cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    ref = np.array(json.loads(r.stdout))

    def dec(e):
        if e[0] == "s":
            return e[1]
        if e[0] == "m":
            return {"offset": tuple(e[1]), "mask": np.array(e[2], dtype=np.uint8)}
        return np.array(e[1], dtype=np.float32)

    mine = np.array([vot_overlap(dec(a), dec(b), (80, 60)) for a, b in pairs])
    assert 0.05 < np.mean((ref > 0) & (ref < 1))  # plenty of partial overlaps, not only 0/1 cases
    np.testing.assert_array_equal(mine, ref)


def test_cli_script_never_imports_the_toolkit(tmp_path):
    """``python tracking/vot.py`` puts tracking/ first on sys.path, so nothing there may be
    named ``vot`` as a package and the script must not import the toolkit's ``vot`` itself."""
    r = subprocess.run([sys.executable, "-X", "importtime", str(REPO / "tracking" / "vot.py"), "workspace", "--help"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0 and "--trackers" in r.stdout, r.stderr
    names = [l.rsplit("|", 1)[-1].strip() for l in r.stderr.splitlines() if l.startswith("import time:")]
    assert "tracking.votkit.cli" in names
    assert not [n for n in names if n == "vot" or n.startswith("vot.")]
