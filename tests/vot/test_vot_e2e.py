"""End-to-end: SOTLab workspace -> real vot-toolkit 0.7.4 -> compare with SOTLab's own metrics.

Every toolkit step runs as a subprocess (``vot`` CLI of this venv), exactly as a user runs it.
The independent reference for SOTLab's A/R/EAO is the toolkit's ``vot analysis --format json``.
"""
from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from _votkit import JUMP_FRAME, REPO, TESTS_VOT, toolkit_available, vot_command

pytestmark = pytest.mark.skipif(not toolkit_available(), reason="vot-toolkit / vot-trax not installed")

#: a short stack: the VOT2018 baseline (supervised) and VOT2020 (multistart) analyses with EAO
#: windows that fit 30-frame sequences
STACK = {
    "title": "SOTLab e2e",
    "experiments": {
        "baseline": {
            "type": "supervised", "repetitions": 1, "skip_initialize": 5,
            "analyses": [{"type": "supervised_average_ar", "sensitivity": 30},
                         {"type": "supervised_eao_score", "low": 5, "high": 25},
                         {"type": "supervised_eao_curve"}],
        },
        "multistart": {
            "type": "multistart",
            "analyses": [{"type": "multistart_eao_score", "name": "eaoscore", "low": 3, "high": 20},
                         {"type": "multistart_eao_curve", "name": "eaocurve", "high": 20},
                         {"type": "multistart_average_ar", "name": "ar"}],
        },
    },
}


def _run(cmd, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:  # a hang is exactly what must not happen
        pytest.fail(f"{' '.join(map(str, cmd))} did not finish in {timeout} s (hang?)\n{e.stdout}\n{e.stderr}")


def _toolkit_analysis(ws: Path, tracker: str) -> dict:
    r = _run(vot_command() + ["analysis", "--workspace", str(ws), "--format", "json", tracker], ws, 240)
    assert r.returncode == 0 and "Analysis successful" in r.stdout + r.stderr, r.stdout + r.stderr
    files = sorted((ws / "analysis").glob("*.json"), key=lambda p: p.stat().st_mtime)
    assert files, f"vot analysis wrote no JSON under {ws / 'analysis'}"
    return json.loads(files[-1].read_text())


def test_supervised_and_multistart_match_toolkit(toy_dataset, tmp_path):
    from tracking.analysis.metrics import vot_rect_overlap
    from tracking.votkit.analysis import (multistart_scores, read_workspace_sequences, region_codes, supervised_scores,
                                       supervised_trajectories)
    from tracking.votkit.workspace import resolve_tracker, write_workspace

    (tmp_path / "stack.yaml").write_text(yaml.safe_dump(STACK))
    spec = resolve_tracker("ncc:default")
    # anchors every 8 frames: 0 and 8 run forward, 16 and 24 backward
    ws = write_workspace(tmp_path / "ws", [spec], stack=tmp_path / "stack.yaml", dataset=toy_dataset,
                         sequences="toy_a,toy_jump", threads=1, anchor_spacing=8)

    r = _run(vot_command() + ["evaluate", "--workspace", str(ws), spec.identifier], ws, 240)
    assert "Evaluation concluded successfuly" in r.stdout + r.stderr, r.stdout + r.stderr  # (sic, toolkit spelling)

    tk_all = _toolkit_analysis(ws, spec.identifier)["results"]
    tk = tk_all["baseline"]["results"]
    # analyses in stack order; each result is indexed [tracker][...]
    tk_acc, tk_fail, (tk_rob, _), tk_len = tk[0][0]
    tk_eao = tk[1][0][0]
    tk_curve = np.array(tk[2][0][0], dtype=np.float64)

    mine = supervised_scores(ws, spec.identifier, "baseline").result
    # Accuracy / failures / robustness are float64 means on both sides: equal to rounding.
    assert mine.accuracy == pytest.approx(tk_acc, abs=1e-12)
    assert mine.failures == pytest.approx(tk_fail, abs=1e-12)
    assert mine.robustness == pytest.approx(tk_rob, abs=1e-12)
    # The toolkit's EAO curve is accumulated in float32 (compute_eao_curve), SOTLab's in float64.
    assert mine.eao == pytest.approx(tk_eao, abs=1e-6)
    np.testing.assert_allclose(mine.eao_curve[1:len(tk_curve)], tk_curve[1:], atol=1e-6)
    assert 0.3 < mine.accuracy < 1.0  # overlaps are informative, not all 0 or all 1

    # Multistart (VOT2020): forward and backward anchor runs, grace-period failures.
    tk = tk_all["multistart"]["results"]
    tk_ms_eao = tk[0][0][0]
    tk_ms_curve = np.array(tk[1][0][0], dtype=np.float64)
    tk_ms_acc, tk_ms_rob = tk[2][0][:2]
    ms = multistart_scores(ws, spec.identifier, "multistart").result
    assert ms.accuracy == pytest.approx(tk_ms_acc, abs=1e-12)
    assert ms.robustness == pytest.approx(tk_ms_rob, abs=1e-12)
    assert ms.eao == pytest.approx(tk_ms_eao, abs=1e-12)  # float64 on both sides here
    np.testing.assert_allclose(ms.eao_curve, tk_ms_curve, atol=1e-12)
    assert ms.robustness < 1.0  # the teleport ended at least one anchor run early

    # The run exercised the reset protocol: the teleport made NCC fail exactly there,
    # it was re-initialised 5 frames later (skip_initialize), and the smooth sequence had no failure.
    seqs = read_workspace_sequences(ws)
    runs = supervised_trajectories(ws, spec.identifier, "baseline", seqs)
    codes = {s.name: region_codes(runs[s.name][0]) for s in seqs}
    assert np.flatnonzero(codes["toy_jump"] == 2).tolist() == [JUMP_FRAME]
    assert np.flatnonzero(codes["toy_jump"] == 1).tolist() == [0, JUMP_FRAME + 5]
    assert (codes["toy_a"] == 2).sum() == 0
    # ... and the toolkit's failure rule (overlap 0) holds for what NCC reported in the other frames
    gt = np.array([g for g in seqs[0].groundtruth], dtype=np.float64)
    pred = np.array([r if not isinstance(r, int) else [np.nan] * 4 for r in runs[seqs[0].name][0]], dtype=np.float64)
    ov = vot_rect_overlap(pred, gt, seqs[0].size)
    assert np.all(ov[codes[seqs[0].name] == -1] > 0)


def test_tracker_error_and_timeout_are_reported_not_hung(toy_dataset, tmp_path):
    """A tracker that raises -> TraX quit with the reason; one that stalls -> the toolkit's
    watchdog fires after the ``vot_timeout`` of its config.  The workspace is written by the CLI
    script (``python tracking/vot.py``), which must not be shadowed by the toolkit package."""
    (tmp_path / "stack.yaml").write_text(yaml.safe_dump(STACK))
    (tmp_path / "raise.yaml").write_text("vot_timeout: 7\ntrack: {fail_at: 3}\n")
    (tmp_path / "stall.yaml").write_text("vot_timeout: 1\ntrack: {sleep: 60.0}\n")
    ws = tmp_path / "ws"
    r = _run([sys.executable, str(REPO / "tracking" / "vot.py"), "workspace", str(ws),
              "--trackers", f"vottest_faulty:{tmp_path / 'raise.yaml'}=raiser",
              f"vottest_faulty:{tmp_path / 'stall.yaml'}=staller",
              "--plugin", "vot_test_trackers", "--python-path", str(TESTS_VOT),
              "--dataset", str(toy_dataset.root), "--sequences", "toy_a", "--stack", str(tmp_path / "stack.yaml"),
              "--experiments", "baseline"],
             REPO, 120)
    assert r.returncode == 0, r.stdout + r.stderr
    ini = configparser.ConfigParser()
    ini.read(ws / "trackers.ini")
    assert ini["raiser"]["timeout"] == "7" and ini["staller"]["timeout"] == "1"  # from the configs

    t0 = time.monotonic()
    r = _run(vot_command() + ["evaluate", "--workspace", str(ws), "--persist", "raiser", "staller"], ws, 150)
    out = r.stdout + r.stderr
    assert "Tracker raiser encountered an error at sequence toy_a" in out, out
    # the reason names the frame counted from the (re-)initialisation and the image file
    assert ("Server terminated the session: SOTLab tracker" in out
            and "failed at frame 3 after init (00000004.jpg): RuntimeError: deliberate test failure at frame 3" in out), out
    assert "Tracker staller encountered an error at sequence toy_a" in out, out
    assert "did not reply in 1 seconds" in out, out
    assert time.monotonic() - t0 < 100  # the staller sleeps 60 s per frame: only the watchdog ends it early
    logs = list((ws / "logs").glob("raiser_*.log"))
    assert logs and "RuntimeError: deliberate test failure at frame 3" in logs[0].read_text()
