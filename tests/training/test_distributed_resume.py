"""DDP (2 gloo processes) vs single process, kill -9 + resume vs uninterrupted, worker determinism."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _training_fixtures import ddp_worker, direct_trainer, net_state, tiny_config  # noqa: E402

from ltr.admin.checkpoint import list_checkpoints
from ltr.admin.experiment import load_tracker_config
from ltr.data.loader import make_loader
from ltr.trainers.builder import build_samplers, build_trainer, make_processing


pytestmark = pytest.mark.usefixtures("tiny_registered")


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_gloo_ranks_match_single_process(got_root, tmp_path):
    import torch._dynamo  # noqa: F401  (DDP imports it lazily: once here instead of in both children)
    import torch.multiprocessing as mp

    ov = {"epochs": 2, "batch_size": 8, "data.samples_per_epoch": 24, "grad_clip": 0.05, "optim.lr": 0.05}
    # fork: no re-import of torch in the children (spawn costs 5-15 s on a loaded 2-core machine)
    mp.start_processes(ddp_worker, args=(2, _free_port(), str(got_root), str(tmp_path), ov), nprocs=2, join=True,
                       start_method="fork")
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert all(torch.equal(r0[k], r1[k]) for k in r0)  # identical on both ranks
    single = direct_trainer(tiny_config(got_root, **ov), tmp_path / "single")
    init = net_state(single.net)
    single.train()
    ref = net_state(single.net)
    for k in r0:
        assert not torch.equal(init[k], ref[k])  # it did train
        assert torch.allclose(r0[k], ref[k], rtol=1e-5, atol=1e-6), k


def _write_yaml(path: Path, root: Path) -> Path:
    path.write_text(yaml.safe_dump({"train": {
        "epochs": 2, "batch_size": 4, "num_workers": 0, "checkpoint_iters": 3, "log_interval": 2,
        "data": {"datasets": [{"name": "got10k", "options": {"root": str(root)}}], "samples_per_epoch": 32},
        "optim": {"lr": 0.05, "momentum": 0.9}}}))
    return path


def test_kill9_mid_epoch_then_resume_is_exact(got_root, tmp_path):
    yml = _write_yaml(tmp_path / "killme.yaml", got_root)
    ws_a = tmp_path / "interrupted"
    flag = tmp_path / "hanging.flag"
    code = ("import sys, torch; torch.set_num_threads(1); sys.path.insert(0, %r); import _training_fixtures; _training_fixtures.register_tiny(); "
            "from ltr.run_training import main; sys.exit(main(sys.argv[1:]))") % str(HERE)
    env = dict(os.environ, _SOTLAB_TINY_HANG_FLAG=str(flag), OMP_NUM_THREADS="1")
    # 8 iterations/epoch; mid-epoch checkpoints every 3; hang inside epoch 2 at its 5th iteration (global step 12)
    proc = subprocess.Popen([sys.executable, "-c", code, "_tiny_test", str(yml), "--workspace", str(ws_a),
                             "--no-progress", "--no-tensorboard", "--set", "train.hang_at_step=12"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        t0 = time.time()
        while not flag.exists():
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.time() - t0 < 120, "training subprocess did not reach the hang point"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    ck_dir = ws_a / "checkpoints" / "_tiny_test" / "killme"
    cks = [(e, i) for e, i, _ in list_checkpoints(ck_dir)]
    assert cks[-1] == (1, 3), cks  # last complete checkpoint: 1 epoch + 3 iterations
    assert not list(ck_dir.glob("*.tmp"))
    # resume (in this process) from the latest checkpoint and finish
    cfg, _ = load_tracker_config("_tiny_test", str(yml))
    resumed = build_trainer("_tiny_test", cfg, "killme", workspace=ws_a, progress=False, tensorboard=False)
    resumed.train(resume=True)
    assert resumed.state.epoch == 2 and resumed.state.global_step == 16
    # uninterrupted reference
    cfg_b, _ = load_tracker_config("_tiny_test", str(yml))
    ref = build_trainer("_tiny_test", cfg_b, "killme", workspace=tmp_path / "reference", progress=False, tensorboard=False)
    ref.train()
    a, b = net_state(resumed.net), net_state(ref.net)
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ from the uninterrupted run"
    sa, sb = resumed.optimizer.state_dict()["state"], ref.optimizer.state_dict()["state"]
    assert all(torch.equal(sa[i]["momentum_buffer"], sb[i]["momentum_buffer"]) for i in sa)


def test_worker_processes_give_the_same_batches(got_root):
    cfg = tiny_config(got_root, **{"processing.search.center_jitter": 8.0, "processing.search.motion_blur": 0.5})
    train, _ = build_samplers(cfg, make_processing("_tiny_test", cfg, object))
    b0 = list(make_loader(train, epoch=1, num_iters=3, global_batch=4, num_workers=0))
    b2 = list(make_loader(train, epoch=1, num_iters=3, global_batch=4, num_workers=2))
    # rank 1 of 2 resumed at iteration 1 sees the second half of global batches 1 and 2
    r1 = list(make_loader(train, epoch=1, num_iters=3, global_batch=4, num_workers=0, rank=1, world_size=2, start_iter=1))
    for x, y in zip(b0, b2):
        assert all(torch.equal(x[k], y[k]) for k in ("template", "search", "search_box"))
    for k, batch in enumerate(r1, start=1):
        assert torch.equal(batch["search"], b0[k]["search"][2:])
