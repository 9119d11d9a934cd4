"""Runner: parallel workers, failure reporting, resumability, result formats, packing."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

import _evalkit as ek

from tracking.evaluation import results as R
from tracking.evaluation.runner import RunnerError, RunSpec, TrackerRef, run_sequences, select_devices
from tracking.tracker.ncc import NCCConfig, NCCTracker

NAMES = ["seq_a", "seq_b", "bad_c", "seq_d"]


@pytest.fixture
def kit(tmp_path, monkeypatch):
    """A tiny GOT-10k-layout tree, the ``evalkit`` dataset and the test trackers registered."""
    root = tmp_path / "data"
    ek.write_got10k_tree(root, NAMES, n_frames=10, sizes={"bad_c": (ek.BAD_WIDTH, 72)})
    monkeypatch.setenv(ek.ENV_DIR, str(root))
    monkeypatch.setenv(ek.ENV_SLEEP, "0")
    ek.register()
    yield root
    ek.unregister()


def _spec(out: Path, cls=NCCTracker, fmt="got10k", runid=None, dataset="evalkit") -> RunSpec:
    return RunSpec(tracker="t", config_name="c", cfg=NCCConfig(), tracker_ref=TrackerRef.of(cls),
                   dataset=dataset, out_dir=out, fmt=fmt, runid=runid)


# --------------------------------------------------------------------------- result files


@pytest.mark.parametrize("fmt,rel", [("otb", "s1.txt"), ("trackingnet", "s1.txt"), ("got10k", "s1/s1_003.txt")])
def test_result_format_round_trip(tmp_path, fmt, rel):
    rng = np.random.default_rng(0)
    boxes = rng.uniform(0, 500, (7, 4))
    boxes[0] = [10.25, 3.125, 40.5, 0.0625]  # floats, never truncated to integers
    times = rng.uniform(0.001, 0.1, 7)
    path = R.write_sequence_result(tmp_path, "s1", boxes, times, fmt, rep=3)
    assert path == tmp_path / rel  # the official layout
    time_file = tmp_path / ("s1/s1_time.txt" if fmt == "got10k" else "s1_time.txt")
    assert time_file.is_file()
    # independent parse of the text: comma-separated x,y,w,h per line
    parsed = np.array([[float(v) for v in line.split(",")] for line in path.read_text().splitlines()])
    np.testing.assert_allclose(parsed, boxes, atol=5e-5)
    assert path.read_text().splitlines()[0] == "10.2500,3.1250,40.5000,0.0625"
    b, t, p = R.read_sequence_result(tmp_path, "s1", fmt, 3)
    np.testing.assert_allclose(b, boxes, atol=5e-5)
    np.testing.assert_allclose(t, times, atol=5e-9)
    assert not list(tmp_path.rglob(".*.tmp.*"))  # no temporary files left behind


def test_reader_accepts_tab_and_space_separated_files(tmp_path):
    (tmp_path / "x.txt").write_text("1\t2\t3\t4\n5 6 7 8\n\n9,10,11,12\n")
    np.testing.assert_array_equal(R.read_matrix(tmp_path / "x.txt", 4), np.arange(1, 13).reshape(3, 4))
    (tmp_path / "y.txt").write_text("1,2,3\n")
    with pytest.raises(R.ResultFormatError, match=r"y.txt:1: expected 4 values"):
        R.read_matrix(tmp_path / "y.txt", 4)


def test_result_format_for_datasets():
    assert R.result_format_for("got10k") == "got10k"
    assert R.result_format_for("got10k_val") == "got10k"
    assert R.result_format_for("synthetic_val") == "got10k"
    assert R.result_format_for("trackingnet") == "trackingnet"
    for d in ("otb", "uav", "nfs", "lasot"):
        assert R.result_format_for(d) == "otb"
    assert R.result_format_for("mine", {"results_format": "got10k"}) == "got10k"
    assert R.result_format_for("got10k_like", {"results_format": "txt"}) == "otb"
    with pytest.raises(ValueError, match="unknown results_format 'zip'"):
        R.result_format_for("mine", {"results_format": "zip"})


def test_got10k_toolkit_reads_our_result_files(tmp_path):
    """The got10k package (official evaluation code) reads our GOT-10k-format output as is, and its AO
    equals the one from our analysis of the same files."""
    pytest.importorskip("got10k")
    from got10k.experiments import ExperimentGOT10k

    from tracking.analysis.loader import parse_results_spec
    from tracking.analysis.report import analyze

    root = tmp_path / "data"
    names = ["GOT-10k_Val_000001", "GOT-10k_Val_000002", "GOT-10k_Val_000003"]
    split = ek.write_got10k_tree(root, names, n_frames=8)
    seqs = ek.load_got10k_tree(split, "got10k_val")
    out = tmp_path / "results" / "ncc" / "default" / "got10k_val"
    rep = run_sequences(_spec(out, dataset="got10k_val"), seqs, threads=1, progress=False)
    assert rep.ok and len(rep.done) == 3
    # got10k expects <result_dir>/GOT-10k/<tracker>/<seq>/<seq>_001.txt
    (tmp_path / "tk" / "GOT-10k").mkdir(parents=True)
    os.symlink(out, tmp_path / "tk" / "GOT-10k" / "ncc")
    exp = ExperimentGOT10k(str(root), subset="val", result_dir=str(tmp_path / "tk"), report_dir=str(tmp_path / "rep"))
    perf = exp.report(["ncc"])["ncc"]["overall"]
    an = analyze([parse_results_spec("ncc:default")], "got10k_val", seqs, tmp_path / "results", "got10k")
    assert an.kind == "got10k"
    assert abs(an.trackers[0].mean["ao"] - perf["ao"]) < 1e-9
    assert abs(an.trackers[0].mean["sr50"] - perf["sr"]) < 1e-9


# --------------------------------------------------------------------------- running


def test_failure_is_reported_others_finish_and_exit_code_is_nonzero(kit, tmp_path, capsys):
    from tracking.run_tracker import main

    res = tmp_path / "res"
    argv = ["evalkit_fail", ek.NCC_YAML, "--dataset", "evalkit", "--threads", "2", "--results-dir", str(res),
            "--no-progress"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "RuntimeError: evalkit: deliberate failure" in err
    assert "sequence 'bad_c'" in err
    out_dir = res / "evalkit_fail" / "default" / "evalkit"
    for n in NAMES:
        assert (out_dir / n / f"{n}_001.txt").is_file() == (n != "bad_c"), n
    # re-run: the three finished sequences are skipped, the failing one is retried (and fails again)
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "0 sequence(s) run, 3 skipped" in captured.out
    assert "FAILED: bad_c" in captured.out


def test_invalid_box_replaced_by_previous_with_warning(kit, tmp_path):
    seqs = ek.load_got10k_tree(kit / "val")[:1]
    rep = run_sequences(_spec(tmp_path / "o", ek.NaNTracker), seqs, threads=1, progress=False)
    assert rep.ok
    boxes, _, _ = R.read_sequence_result(tmp_path / "o", seqs[0].name, "got10k", 1)
    assert np.all(np.isfinite(boxes))
    for i in (3, 6, 9):  # NaNTracker returns NaN on every 3rd tracked frame
        np.testing.assert_array_equal(boxes[i], boxes[i - 1])
    assert any("invalid box" in w for w in rep.done[0].warnings)


def test_spawned_workers_match_in_process_results(kit, tmp_path, monkeypatch):
    seqs = ek.load_got10k_tree(kit / "val")
    seqs = type(seqs)(s for s in seqs if s.name != "bad_c")
    log = tmp_path / "builds.txt"
    monkeypatch.setenv(ek.ENV_BUILD_LOG, str(log))
    a = run_sequences(_spec(tmp_path / "a"), seqs, threads=1, progress=False)
    b = run_sequences(_spec(tmp_path / "b", ek.CountingNCC), seqs, threads=2, progress=False)
    assert a.ok and b.ok and len(b.done) == 3, [r.error for r in b.failed]
    builds = log.read_text().split("\n")[:-1]
    pids = {line.split()[0] for line in builds}
    assert 1 <= len(builds) <= 2 and len(pids) == len(builds)  # once per worker, not per sequence
    assert str(os.getpid()) not in pids and all(line.endswith(" cpu") for line in builds)
    for s in seqs:
        ba, ta, _ = R.read_sequence_result(tmp_path / "a", s.name, "got10k", 1)
        bb, tb, _ = R.read_sequence_result(tmp_path / "b", s.name, "got10k", 1)
        np.testing.assert_array_equal(ba, bb)
        assert len(ta) == len(s) and np.all(ta[1:] > 0)  # per-frame times recorded


def test_config_mismatch_and_bad_arguments(kit, tmp_path, capsys):
    from tracking.run_tracker import main

    base = ["ncc", "default", "--dataset", "evalkit", "--results-dir", str(tmp_path), "--no-progress",
            "--sequence", "seq_a"]
    assert main(base) == 0
    info = (tmp_path / "ncc" / "default" / "evalkit" / "run_config.yaml").read_text()
    assert "window_influence: 0.15" in info and "result_format: got10k" in info
    assert main(base + ["--set", "track.window_influence=0.3"]) == 2
    assert "different configuration (first difference at 'track.window_influence')" in capsys.readouterr().err
    assert main(base + ["--set", "track.window_influence=0.3", "--runid", "2"]) == 0
    assert (tmp_path / "ncc" / "default_002" / "evalkit" / "seq_a" / "seq_a_003.txt").is_file()
    assert main(["ncc", "default", "--dataset", "evalkit", "--sequence", "seq_x", "--results-dir", str(tmp_path)]) == 2
    assert "no sequence 'seq_x'" in capsys.readouterr().err
    assert main(["ncc", "nope", "--dataset", "evalkit"]) == 2
    assert "no config 'nope'" in capsys.readouterr().err
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(RunnerError, match="CUDA is not available"):
            select_devices([0])
        assert select_devices() == ["cpu"]


def test_regenerated_dataset_is_not_resumed_into(kit, tmp_path, capsys):
    """Results on a generated split (``.complete`` marker) are tied to its hash: a regenerated split with the
    same sequence names must not silently reuse them."""
    from tracking.run_tracker import main

    marker = kit / "val" / ".complete"
    marker.write_text('{"hash": "aaaa1111"}')
    base = ["ncc", "default", "--dataset", "evalkit", "--results-dir", str(tmp_path / "res"), "--no-progress",
            "--sequence", "seq_a"]
    assert main(base) == 0
    run_cfg = tmp_path / "res" / "ncc" / "default" / "evalkit" / "run_config.yaml"
    assert "dataset_version: aaaa1111" in run_cfg.read_text()
    assert main(base) == 0 and "1 skipped" in capsys.readouterr().out  # same version: resumed
    marker.write_text('{"hash": "bbbb2222"}')
    assert main(base) == 2
    assert "another version of dataset 'evalkit'" in capsys.readouterr().err
    assert main(base + ["--runid", "1"]) == 0


def test_debug_writes_frames_and_score_maps(kit, tmp_path):
    from tracking.run_tracker import main

    assert main(["ncc", "default", "--dataset", "evalkit", "--sequence", "seq_b", "--debug",
                 "--results-dir", str(tmp_path), "--no-progress"]) == 0
    d = tmp_path / "ncc" / "default" / "evalkit_debug" / "seq_b"
    assert len(list(d.glob("????????.jpg"))) == 10
    assert len(list(d.glob("*_response.png"))) == 9


def test_help_lists_trackers_configs_and_datasets(kit, capsys):
    from tracking.run_tracker import main

    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "ncc" in out and "configs: default" in out and "evalkit" in out


# --------------------------------------------------------------------------- packing


def test_pack_got10k_and_trackingnet(tmp_path):
    from tracking.evaluation.packing import PackError, pack_got10k, pack_trackingnet

    rng = np.random.default_rng(1)
    runs = {}
    for rid in (0, 1):
        d = tmp_path / f"c_{rid:03d}" / "got10k"
        for n in ("s1", "s2"):
            b, t = rng.uniform(1, 100, (5, 4)), rng.uniform(0.01, 0.02, 5)
            R.write_sequence_result(d, n, b, t, "got10k", R.repetition_for(rid))
            runs[(rid, n)] = (b, t)
    z = pack_got10k([tmp_path / "c_000" / "got10k", tmp_path / "c_001" / "got10k"], [0, 1], tmp_path / "g.zip", ["s1", "s2"])
    with zipfile.ZipFile(z) as zf:
        assert sorted(zf.namelist()) == ["s1/s1_001.txt", "s1/s1_002.txt", "s1/s1_time.txt",
                                         "s2/s2_001.txt", "s2/s2_002.txt", "s2/s2_time.txt"]
        for n in ("s1", "s2"):
            for k, rid in enumerate((0, 1), 1):
                got = np.loadtxt(zf.open(f"{n}/{n}_{k:03d}.txt"), delimiter=",")
                np.testing.assert_allclose(got, runs[(rid, n)][0], atol=5e-5)
            tt = np.loadtxt(zf.open(f"{n}/{n}_time.txt"), delimiter=",")
            np.testing.assert_allclose(tt, np.stack([runs[(0, n)][1], runs[(1, n)][1]], 1), atol=1e-8)
    with pytest.raises(PackError, match="missing results for 1 sequence"):
        pack_got10k([tmp_path / "c_000" / "got10k"], [0], tmp_path / "g2.zip", ["s1", "s2", "s3"])
    tn = tmp_path / "c" / "trackingnet"
    R.write_sequence_result(tn, "abc", runs[(0, "s1")][0], runs[(0, "s1")][1], "trackingnet")
    with zipfile.ZipFile(pack_trackingnet(tn, tmp_path / "t.zip")) as zf:
        assert zf.namelist() == ["abc.txt"]
        np.testing.assert_allclose(np.loadtxt(zf.open("abc.txt"), delimiter=","), runs[(0, "s1")][0], atol=5e-5)


def test_keys_added_to_the_schema_later_do_not_orphan_results(kit, tmp_path, capsys):
    """A stored run_config.yaml without a key the schema gained later still matches when the new key is at
    its default (the old run had that behaviour), and not when it is set to something else."""
    import yaml

    from ltr.admin.config import config_to_dict
    from ltr.admin.registry import TRACKERS
    from tracking.run_tracker import main

    base = ["ncc", "default", "--dataset", "evalkit", "--results-dir", str(tmp_path), "--no-progress",
            "--sequence", "seq_a"]
    assert main(base) == 0
    path = tmp_path / "ncc" / "default" / "evalkit" / "run_config.yaml"
    info = yaml.safe_load(path.read_text())
    defaults = config_to_dict(TRACKERS.meta("ncc")["config"]())["track"]
    key = next(k for k, v in info["config"]["track"].items() if k in defaults and defaults[k] == v
               and isinstance(v, (int, float)) and not isinstance(v, bool))
    del info["config"]["track"][key]  # as if the run predates the key
    path.write_text(yaml.safe_dump(info, sort_keys=False))
    assert main(base) == 0
    assert main(base + ["--set", f"track.{key}={defaults[key] * 2 + 1}"]) == 2
    assert f"first difference at 'track.{key}'" in capsys.readouterr().err


def test_archive_stale_moves_results_of_another_config_aside(kit, tmp_path, capsys):
    from tracking.run_tracker import main

    base = ["ncc", "default", "--dataset", "evalkit", "--results-dir", str(tmp_path), "--no-progress",
            "--sequence", "seq_a"]
    assert main(base) == 0
    run = tmp_path / "ncc" / "default" / "evalkit"
    first = (run / "seq_a" / "seq_a_001.txt").read_text() if (run / "seq_a" / "seq_a_001.txt").is_file() else None
    files = sorted(p.relative_to(run) for p in run.rglob("*") if p.is_file())
    assert main(base + ["--set", "track.window_influence=0.3", "--archive-stale"]) == 0
    assert "moved them to" in capsys.readouterr().err
    old = run.with_name("evalkit.stale-1")
    assert sorted(p.relative_to(old) for p in old.rglob("*") if p.is_file()) == files  # nothing lost
    assert "window_influence: 0.3" in (run / "run_config.yaml").read_text()
    if first is not None:
        assert (old / "seq_a" / "seq_a_001.txt").read_text() == first
    # same config again: results are reused, nothing more is archived
    assert main(base + ["--set", "track.window_influence=0.3", "--archive-stale"]) == 0
    assert not run.with_name("evalkit.stale-2").exists()


def test_missing_weights_is_one_error_before_anything_runs(tmp_path):
    """A wrong ``weights`` path names the file once; no results folder is created."""
    import tracking.tracker  # noqa: F401  (registers the trackers)
    from tracking.evaluation.runner import run_tracker

    missing = tmp_path / "nope" / "model.pth"
    with pytest.raises(RunnerError, match="model.pth"):
        run_tracker("siamcar", "tiny", "synthetic", overrides=[f"weights={missing}"], results_dir=tmp_path / "res",
                    progress=False)
    assert not (tmp_path / "res").exists()
