"""Training data-pipeline throughput and trainer overhead.

    python scripts/bench_data.py [--root GOT10K_ROOT] [--seconds 8] [--workers 0 2]

Without ``--root`` a temporary GOT-10k-layout tree of 1280x720 JPEG frames
(textured, so decoding costs what real frames cost) is written first.

Rows:
* pair 127/255 (SiamCAR/Ocean/DuML-OFC): pysot jitter (shift 4/64, scale .05/.18), PCA colour,
  motion blur p=.2, BGR output;
* sequence 3+3 @288 (FCOT/DiMP-style): causal sampling, search-area 5, pytracking jitter,
  brightness, gray p=.05, ImageNet normalisation;
* trainer overhead: ms per iteration the Trainer adds around ``actor(batch)`` + backward + step
  (logging, LR, bookkeeping, loader) compared with a bare loop on the same pre-built batches.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import cv2
import numpy as np
import torch

from ltr.admin.train_config import BranchConfig, DataConfig, DatasetSpec, ProcessingConfig, TrainConfig
from ltr.data.loader import make_loader
from ltr.data.processing import TrackingProcessing
from ltr.data.sampler import TrackingSampler
from ltr.dataset.got10k import Got10kTrain


def make_tree(root: Path, nseq: int = 4, nframes: int = 30, w: int = 1280, h: int = 720) -> None:
    rng = np.random.default_rng(0)
    d = root / "train"
    names = [f"GOT-10k_Train_{i + 1:06d}" for i in range(nseq)]
    d.mkdir(parents=True, exist_ok=True)
    (d / "list.txt").write_text("\n".join(names) + "\n")
    base = cv2.resize(rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    for name in names:
        (d / name).mkdir(exist_ok=True)
        boxes = []
        for f in range(nframes):
            img = np.roll(base, 7 * f, axis=1).copy()
            x, y = 300 + 10 * f, 200 + 5 * f
            img[y:y + 150, x:x + 200] = (200, 60, 40)
            cv2.imwrite(str(d / name / f"{f + 1:08d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
            boxes.append([x, y, 200, 150])
        np.savetxt(d / name / "groundtruth.txt", np.array(boxes, float), fmt="%.1f", delimiter=",")


def pair_config() -> TrainConfig:
    return TrainConfig(batch_size=32, data=DataConfig(datasets=[DatasetSpec("got10k")], max_gap=50, samples_per_epoch=10 ** 6),
                       processing=ProcessingConfig(
                           template=BranchConfig(size=127, center_jitter=4, scale_jitter=0.05, pca_color=1.0),
                           search=BranchConfig(size=255, center_jitter=64, scale_jitter=0.18, pca_color=1.0, motion_blur=0.2)))


def sequence_config() -> TrainConfig:
    return TrainConfig(batch_size=8, data=DataConfig(datasets=[DatasetSpec("got10k")], sampler="sequence", num_train_frames=3,
                                                     num_test_frames=3, frame_sample_mode="causal", max_gap=30,
                                                     samples_per_epoch=10 ** 6),
                       processing=ProcessingConfig(crop_mode="search_area", jitter_mode="pytracking", pad_mode="replicate",
                                                   normalize="imagenet", gray_joint=True, clamp_boxes=True,
                                                   template=BranchConfig(size=288, center_jitter=3, scale_jitter=0.25, brightness=0.2, gray=0.05),
                                                   search=BranchConfig(size=288, center_jitter=4.5, scale_jitter=0.5, brightness=0.2, gray=0.05)))


def throughput(sampler: TrackingSampler, batch: int, workers: int, seconds: float) -> float:
    """samples/s through a DataLoader (batches of ``batch``) for about ``seconds``."""
    loader = make_loader(sampler, epoch=0, num_iters=10 ** 6, global_batch=batch, num_workers=workers)
    it = iter(loader)
    next(it)  # warm-up: worker start, first files
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        b = next(it)
        n += b[next(k for k in b if not k.startswith("_"))].shape[0]
    dt = time.perf_counter() - t0
    del it
    return n / dt


class _Fixed(torch.utils.data.Dataset):
    def __init__(self, sample):
        self.sample = sample

    def __len__(self):
        return 10 ** 9

    def __getitem__(self, i):
        return dict(self.sample, _bad=[])


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Conv2d(3, 8, 3, stride=4)
        self.head = torch.nn.Linear(8, 4)

    def forward(self, x):
        return self.head(self.backbone(x).mean((2, 3)))


class _Actor:
    def __init__(self, net):
        self.net = net

    def __call__(self, batch):
        loss = ((self.net(batch["search"]) - batch["search_box"]) ** 2).mean()
        return loss, {"loss": loss.detach()}


def trainer_overhead(iters: int = 200) -> Dict[str, float]:
    from ltr.trainers.trainer import Trainer

    torch.manual_seed(0)
    sample = {"search": torch.rand(3, 64, 64), "search_box": torch.rand(4)}
    cfg = TrainConfig(epochs=1, batch_size=8, num_workers=0, log_interval=20, grad_clip=10.0,
                      data=DataConfig(samples_per_epoch=8 * iters))
    net = _Net()
    ds = _Fixed(sample)
    torch.optim.SGD(_Net().parameters(), lr=0.1)  # the first optimiser imports torch._dynamo (~3-6 s): not overhead
    with tempfile.TemporaryDirectory() as tmp:
        tr = Trainer(net, _Actor(net), cfg, ds, log_dir=Path(tmp), progress=False, tensorboard=True)
        tr.log.info = lambda *a, **k: None  # keep the console quiet; the file/TB writes still happen in scalars()
        t0 = time.perf_counter()
        tr.train()
        t_trainer = (time.perf_counter() - t0) / iters
    net2 = _Net()
    opt = torch.optim.SGD(net2.parameters(), lr=cfg.optim.lr, momentum=cfg.optim.momentum)
    act = _Actor(net2)
    loader = make_loader(ds, epoch=0, num_iters=iters, global_batch=8, num_workers=0)
    t0 = time.perf_counter()
    for b in loader:
        b.pop("_bad")
        loss, _ = act(b)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net2.parameters(), 10.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    t_bare = (time.perf_counter() - t0) / iters
    return {"trainer_ms": 1000 * t_trainer, "bare_ms": 1000 * t_bare, "overhead_ms": 1000 * (t_trainer - t_bare)}


def main(argv: List[str] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=None, help="GOT-10k root (default: a generated 1280x720 tree)")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    tmp = None
    root = args.root
    if root is None:
        tmp = tempfile.TemporaryDirectory()
        root = Path(tmp.name)
        make_tree(root)
    ds = Got10kTrain(root=root, split="train")
    rows = []
    for label, cfg in (("pair 127/255 (pysot aug)", pair_config()), ("sequence 3+3 @288 (pytracking)", sequence_config())):
        proc = TrackingProcessing(cfg.processing, mode=cfg.data.sampler)
        sampler = TrackingSampler([ds], [1.0], cfg.data, proc, seed=0)
        for w in args.workers:
            sps = throughput(sampler, min(cfg.batch_size, 8), w, args.seconds)
            rows.append((label, w, sps, sps / max(w, 1)))
    print(f"\ndata pipeline ({ds.sequence_info(0).boxes.shape[0]}-frame sequences, frames "
          f"{'x'.join(map(str, ds.read_frame(0, 0).shape[1::-1]))}, torch/cv2 threads 1)")
    print(f"{'sampler':<34}{'workers':>8}{'samples/s':>12}{'per worker':>12}")
    for label, w, sps, per in rows:
        print(f"{label:<34}{w:>8}{sps:>12.1f}{per:>12.1f}")
    ov = trainer_overhead()
    print(f"\ntrainer overhead (tiny net, batch 8, fixed in-memory batches, TensorBoard on):")
    print(f"{'trainer ms/it':>14}{'bare loop ms/it':>17}{'overhead ms/it':>16}")
    print(f"{ov['trainer_ms']:>14.2f}{ov['bare_ms']:>17.2f}{ov['overhead_ms']:>16.2f}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
