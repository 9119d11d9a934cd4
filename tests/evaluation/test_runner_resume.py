"""SIGKILL the runner midway, re-run: only the missing sequences run and the analysis is unchanged."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


import _evalkit as ek

N_SEQ, N_FRAMES = 8, 12


def _done(res: Path):
    return sorted(res.glob("evalkit_slow/default/evalkit/*/*_001.txt"))


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def _strip_fps(md: str) -> str:
    """The markdown without the main table's FPS column (timing differs between any two runs)."""
    out, main_table = [], True
    for line in md.splitlines():
        main_table = main_table and not line.startswith("###")
        cells = line.split("|")
        out.append("|".join(cells[:-2] + cells[-1:]) if main_table and line.startswith("|") else line)
    return "\n".join(out)


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path, monkeypatch, capsys):
    names = [f"s{k}" for k in range(N_SEQ)]
    ek.write_got10k_tree(tmp_path / "data", names, n_frames=N_FRAMES)
    res1, res2 = tmp_path / "res_killed", tmp_path / "res_clean"
    env = dict(os.environ, **{ek.ENV_DIR: str(tmp_path / "data"), ek.ENV_SLEEP: "0.05"})
    argv = ["evalkit_slow", ek.NCC_YAML, "--dataset", "evalkit", "--threads", "2", "--no-progress"]
    proc = subprocess.Popen([sys.executable, str(Path(ek.__file__)), "track", *argv, "--results-dir", str(res1)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 120
        while len(_done(res1)) < 2 and proc.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)  # the runner only: its workers must notice and stop by themselves
        proc.wait(timeout=30)
        t0 = time.time()
        while _group_alive(proc.pid) and time.time() - t0 < 10:
            time.sleep(0.05)
        assert not _group_alive(proc.pid), "orphaned workers kept running after the runner was killed"
    finally:
        if _group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
    log = proc.stdout.read().decode(errors="replace")
    done_before = _done(res1)
    assert 2 <= len(done_before) < N_SEQ, f"kill did not land midway ({len(done_before)} done):\n{log}"
    for p in done_before:  # a result that counts as done is complete
        assert len(p.read_text().splitlines()) == N_FRAMES, p
    mtimes = {p: p.stat().st_mtime_ns for p in done_before}

    ek.register()
    try:
        monkeypatch.setenv(ek.ENV_DIR, str(tmp_path / "data"))
        monkeypatch.setenv(ek.ENV_SLEEP, "0")
        from tracking.analyze import main as analyze
        from tracking.run_tracker import main as track

        capsys.readouterr()
        assert track(argv + ["--results-dir", str(res1)]) == 0
        k = len(done_before)
        assert f"{N_SEQ - k} sequence(s) run, {k} skipped" in capsys.readouterr().out
        assert {p: p.stat().st_mtime_ns for p in done_before} == mtimes  # finished ones were not redone
        assert len(_done(res1)) == N_SEQ
        assert track(argv + ["--results-dir", str(res2)]) == 0
        for d, res in (("a1", res1), ("a2", res2)):
            assert analyze(["--results", "evalkit_slow:default", "--dataset", "evalkit", "--results-dir", str(res),
                            "--out", str(tmp_path / d), "--no-plots"]) == 0
    finally:
        ek.unregister()
    md1, md2 = (tmp_path / "a1" / "results.md").read_text(), (tmp_path / "a2" / "results.md").read_text()
    assert _strip_fps(md1) == _strip_fps(md2)
    j1, j2 = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("a1", "a2"))
    m1 = {k: v for k, v in j1["trackers"][0]["mean"].items() if k != "fps"}
    m2 = {k: v for k, v in j2["trackers"][0]["mean"].items() if k != "fps"}
    assert m1 == m2 and set(m1) == {"auc", "auc_se", "precision", "norm_precision", "op50", "op75"}
    for n in names:  # and the result files themselves are byte-identical
        rel = Path("evalkit_slow/default/evalkit") / n / f"{n}_001.txt"
        assert (res1 / rel).read_bytes() == (res2 / rel).read_bytes()
