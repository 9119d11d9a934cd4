"""Analysis: loading, aggregation over run ids, outputs and error messages."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import _evalkit as ek

from tracking.analysis.loader import MissingResultsError, parse_results_spec
from tracking.analysis.metrics import compute_ope
from tracking.analysis.plots import Curve, legend_entries
from tracking.analysis.report import analyze, format_table, markdown_table
from tracking.evaluation import results as R
from tracking.evaluation.data import Sequence, SequenceList

N_FR = 30


def _fake_dataset(n: int = 5, seed: int = 0) -> SequenceList:
    """Sequences with random GT; frames are never read by the OPE analysis."""
    rng = np.random.default_rng(seed)
    seqs = SequenceList()
    for k in range(n):
        xy = rng.uniform(20, 200, 2) + np.cumsum(rng.normal(0, 2, (N_FR, 2)), 0)
        wh = rng.uniform(20, 60, 2) * np.ones((N_FR, 2))
        seqs.append(Sequence(f"v{k}", [f"/nonexistent/{k}/{i:08d}.jpg" for i in range(N_FR)],
                             np.hstack([xy, wh]), "fake",
                             attributes={"fast": k % 2 == 1, "label": "x", "never": False,
                                         "challenges": {"tiny": k == 0, "name": "y"}}))
    return seqs


def _write_run(root: Path, tracker: str, config: str, runid, seqs, noise: float, seed: int, fmt="otb"):
    rng = np.random.default_rng(seed)
    d = R.dataset_results_dir(root, tracker, config, runid, "fake")
    for s in seqs:
        pred = s.ground_truth + rng.normal(0, noise, s.ground_truth.shape)
        pred[:, 2:] = np.abs(pred[:, 2:]) + 1
        R.write_sequence_result(d, s.name, pred, np.full(len(s), 0.01), fmt, R.repetition_for(runid))
    return d


def _read_back(d: Path, seqs) -> list:
    """Independent reader: plain np.loadtxt of the official flat format."""
    return [np.loadtxt(d / f"{s.name}.txt", delimiter=",") for s in seqs]


def test_scores_equal_direct_metric_on_the_files_and_runs_aggregate(tmp_path):
    seqs = _fake_dataset()
    good = _write_run(tmp_path, "good", "c", None, seqs, 1.0, 1)
    _write_run(tmp_path, "bad", "c", None, seqs, 12.0, 2)
    multi = [_write_run(tmp_path, "multi", "c", r, seqs, 4.0, 10 + r) for r in (0, 1, 2)]
    specs = [parse_results_spec(s) for s in ("bad:c", "good:c", "multi:c:0-2")]
    an = analyze(specs, "fake", seqs, tmp_path, "pytracking")
    by = {t.label: t for t in an.trackers}
    assert [t.label for t in an.trackers][0] == "good c"  # sorted by AUC, best first
    ref = compute_ope(_read_back(good, seqs), [s.ground_truth for s in seqs], "pytracking")
    for key, val in (("auc", ref.auc), ("precision", ref.precision), ("norm_precision", ref.norm_precision),
                     ("op50", ref.op50), ("op75", ref.op75)):
        assert by["good c"].mean[key] == pytest.approx(val, abs=1e-12), key
    assert by["good c"].mean["fps"] == pytest.approx(100.0)  # 0.01 s per frame
    per_run = [compute_ope(_read_back(d, seqs), [s.ground_truth for s in seqs], "pytracking").auc for d in multi]
    m = by["multi c [0,1,2]"]
    assert m.runids == [0, 1, 2]
    assert m.mean["auc"] == pytest.approx(np.mean(per_run), abs=1e-12)
    assert m.std["auc"] == pytest.approx(np.std(per_run, ddof=1), abs=1e-12)
    assert "±" in format_table(an) and "multi c [0,1,2] (3 runs)" in markdown_table(an)
    # flags (also nested ones, like UAV's 'challenges') are attributes, set on at least one sequence;
    # strings are not
    assert an.attribute_counts == {"fast": 2, "tiny": 1}
    sub = [s for s in seqs if s.attributes["fast"]]
    ref_fast = compute_ope(_read_back(good, sub), [s.ground_truth for s in sub], "pytracking")
    assert by["good c"].attributes["fast"]["mean"] == pytest.approx(ref_fast.auc, abs=1e-12)


def test_run_ids_are_found_when_not_given(tmp_path):
    seqs = _fake_dataset(2)
    for r in (0, 1):
        _write_run(tmp_path, "t", "c", r, seqs, 3.0, r)
    an = analyze([parse_results_spec("t:c")], "fake", seqs, tmp_path, "pysot")
    assert an.trackers[0].runids == [0, 1]


def test_missing_results_name_tracker_and_sequence(tmp_path):
    seqs = _fake_dataset(3)
    d = _write_run(tmp_path, "trk", "cfg", None, seqs, 1.0, 0)
    (d / "v1.txt").unlink()
    with pytest.raises(MissingResultsError, match=r"tracker 'trk' config 'cfg'.*missing results for 1 of 3 sequence\(s\): v1"):
        analyze([parse_results_spec("trk:cfg")], "fake", seqs, tmp_path)
    with pytest.raises(MissingResultsError, match=r"no results for tracker 'nope' config 'cfg'"):
        analyze([parse_results_spec("nope:cfg")], "fake", seqs, tmp_path)


def test_legend_is_score_then_name_best_first():
    x = np.linspace(0, 1, 21)
    curves = [Curve("A", x, x, 51.23), Curve("B", x, x, 65.27), Curve("C", x, x, float("nan"))]
    assert legend_entries(curves) == ["[65.3] B", "[51.2] A", "[nan] C"]


@pytest.fixture
def kit(tmp_path, monkeypatch):
    root = tmp_path / "data"
    ek.write_got10k_tree(root, ["a", "b", "c"], n_frames=8)
    monkeypatch.setenv(ek.ENV_DIR, str(root))
    ek.register()
    yield root
    ek.unregister()


def test_cli_table_markdown_json_and_plots(kit, tmp_path, capsys):
    from tracking.analyze import main

    seqs = ek.load_got10k_tree(kit / "val")
    res = tmp_path / "res"
    for name, noise in (("one", 1.0), ("two", 6.0)):
        d = R.dataset_results_dir(res, name, "default", None, "evalkit")
        rng = np.random.default_rng(len(name))
        for s in seqs:
            R.write_sequence_result(d, s.name, s.ground_truth + rng.normal(0, noise, (len(s), 4)),
                                    np.full(len(s), 0.02), "got10k")
    out = tmp_path / "an"
    assert main(["--results", "one:default", "two:default", "--dataset", "evalkit", "--results-dir", str(res),
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    header = next(l for l in text.splitlines() if l.startswith("Tracker"))
    assert header.split() == ["Tracker", "AUC", "SE", "P", "NP", "OP50", "OP75", "FPS"]
    assert text.index("one default") < text.index("two default")
    js = json.loads((out / "results.json").read_text())
    assert [t["label"] for t in js["trackers"]] == ["one default", "two default"]
    assert js["trackers"][0]["mean"]["fps"] == pytest.approx(50.0)
    assert "| one default |" in (out / "results.md").read_text()
    for png in ("success.png", "precision.png", "norm_precision.png", "attributes/odd.png", "attributes/even.png"):
        img = cv2.imread(str(out / png))
        assert img is not None and img.shape[0] > 100, png
    # a missing result is a clear error naming tracker and sequence (exit 2)
    (R.dataset_results_dir(res, "two", "default", None, "evalkit") / "b" / "b_001.txt").unlink()
    assert main(["--results", "one:default", "two:default", "--dataset", "evalkit", "--results-dir", str(res),
                 "--out", str(out), "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "tracker 'two' config 'default'" in err and ": b;" in err
    assert main(["--results", "one", "--dataset", "evalkit"]) == 2
    assert "expected TRACKER:CONFIG" in capsys.readouterr().err
