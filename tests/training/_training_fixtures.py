"""Fixture trees in the exact raw layouts of the training datasets, and a tiny test-only tracker.

Frames show a solid coloured rectangle (the target) on a dark background, so
crops can be checked pixel-wise.  The tracker ``_tiny_test`` (network
``_tiny_test``, actor ``_tiny_test``) regresses the normalised search box
with a few hundred parameters: enough to exercise the whole trainer fast.
"""
from __future__ import annotations

import csv
import json
import time
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torch import nn

from ltr.admin.experiment import ExperimentConfig
from ltr.admin.registry import ACTORS, NETWORKS, TRACKERS
from ltr.admin.train_config import BranchConfig, DataConfig, DatasetSpec, ProcessingConfig, TrainConfig

TARGET_RGB = (250, 40, 40)


def draw_frame(w: int, h: int, box: Sequence[float], rgb=TARGET_RGB) -> np.ndarray:
    img = np.full((h, w, 3), 30, np.uint8)
    x, y, bw, bh = box
    if np.isfinite([x, y, bw, bh]).all() and bw > 0 and bh > 0:
        x0, y0 = int(round(x)), int(round(y))
        x1, y1 = int(round(x + bw)), int(round(y + bh))
        img[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = rgb
    return img


def write_rgb(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok = cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok, path


def seq_boxes(n: int, w: int, h: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bw, bh = rng.uniform(0.2, 0.35) * w, rng.uniform(0.2, 0.35) * h
    t = np.arange(n)
    x = (w - bw) * (0.5 + 0.35 * np.sin(0.3 * t + seed))
    y = (h - bh) * (0.5 + 0.35 * np.cos(0.2 * t + seed))
    return np.stack([x, y, np.full(n, bw), np.full(n, bh)], 1).round(2)


def make_got10k(root: Path, split: str = "train", nseq: int = 3, nframes: int = 8, w: int = 64, h: int = 48,
                absent: Dict[int, List[int]] = None, names: Optional[List[str]] = None) -> List[str]:
    names = names or [f"GOT-10k_{split.capitalize()}_{i + 1:06d}" for i in range(nseq)]
    d = root / split
    d.mkdir(parents=True, exist_ok=True)
    (d / "list.txt").write_text("\n".join(names) + "\n")
    for si, name in enumerate(names):
        boxes = seq_boxes(nframes, w, h, si)
        ab = np.zeros(nframes, int)
        for f in (absent or {}).get(si, []):
            ab[f] = 1
        for f in range(nframes):
            write_rgb(d / name / f"{f + 1:08d}.jpg", draw_frame(w, h, boxes[f] if not ab[f] else [np.nan] * 4))
        np.savetxt(d / name / "groundtruth.txt", boxes, fmt="%.2f", delimiter=",")
        (d / name / "absence.label").write_text("\n".join(map(str, ab)) + "\n")
        (d / name / "cover.label").write_text("\n".join("0" if a else "8" for a in ab) + "\n")
    return names


def make_lasot(root: Path, classes=("cat", "dog"), per_class: int = 3, nframes: int = 6, w: int = 64, h: int = 48,
               occluded: Dict[str, List[int]] = None) -> None:
    test = []
    for ci, c in enumerate(classes):
        for k in range(1, per_class + 1):
            name = f"{c}-{k}"
            d = root / c / name
            boxes = seq_boxes(nframes, w, h, 10 * ci + k)
            for f in range(nframes):
                write_rgb(d / "img" / f"{f + 1:08d}.jpg", draw_frame(w, h, boxes[f]))
            np.savetxt(d / "groundtruth.txt", boxes, fmt="%.2f", delimiter=",")
            occ = np.zeros(nframes, int)
            for f in (occluded or {}).get(name, []):
                occ[f] = 1
            (d / "full_occlusion.txt").write_text(",".join(map(str, occ)))
            (d / "out_of_view.txt").write_text(",".join(["0"] * nframes))
            (d / "nlp.txt").write_text(f"the {c}")
        test.append(f"{c}-{per_class}")
    (root / "testing_set.txt").write_text("\n".join(test) + "\n")


def make_trackingnet(root: Path, chunks=(0, 1), per_chunk: int = 2, nframes: int = 5, w: int = 64, h: int = 48) -> None:
    for c in chunks:
        for k in range(per_chunk):
            name = f"vid{c}_{k}"
            boxes = seq_boxes(nframes, w, h, 100 * c + k)
            for f in range(nframes):
                write_rgb(root / f"TRAIN_{c}" / "frames" / name / f"{f}.jpg", draw_frame(w, h, boxes[f]))
            (root / f"TRAIN_{c}" / "anno").mkdir(parents=True, exist_ok=True)
            np.savetxt(root / f"TRAIN_{c}" / "anno" / f"{name}.txt", boxes, fmt="%.2f", delimiter=",")


def make_coco(root: Path, split: str = "train2017", w: int = 64, h: int = 48, images_subdir: bool = True) -> dict:
    img_dir = root / "images" / split if images_subdir else root / split
    anns = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]}
    boxes = [[5, 6, 20, 15], [30, 20, 12, 18], [10, 10, 30, 20], [2, 2, 10, 10]]
    crowd = [0, 0, 1, 0]
    for i in range(2):
        fname = f"{i + 1:012d}.jpg"
        anns["images"].append({"id": i + 1, "file_name": fname, "width": w, "height": h})
        write_rgb(img_dir / fname, draw_frame(w, h, boxes[2 * i]))
    for j, b in enumerate(boxes):
        anns["annotations"].append({"id": 100 + j, "image_id": j // 2 + 1, "bbox": b, "iscrowd": crowd[j],
                                    "category_id": 1 + j % 2, "area": b[2] * b[3]})
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(anns))
    return anns


def make_vid(root: Path, split: str = "train", w: int = 64, h: int = 48) -> None:
    """One snippet (nested like the real train set), two tracks; track 1 missing in frame 1, occluded in frame 3."""
    rel = Path("ILSVRC2015_VID_train_0000") / "ILSVRC2015_train_00000000"
    n = 5
    b0 = seq_boxes(n, w, h, 1)
    b1 = seq_boxes(n, w, h, 2)
    for f in range(n):
        write_rgb(root / "Data" / "VID" / split / rel / f"{f:06d}.JPEG", draw_frame(w, h, b0[f]))
        objs = []
        for tid, b in ((0, b0[f]), (1, b1[f])):
            if tid == 1 and f == 1:
                continue
            occ = 1 if (tid == 1 and f == 3) else 0
            x0, y0, x1, y1 = int(b[0]), int(b[1]), int(b[0] + b[2]), int(b[1] + b[3])
            objs.append(f"<object><trackid>{tid}</trackid><name>n0{tid}</name><bndbox><xmax>{x1}</xmax><xmin>{x0}</xmin>"
                        f"<ymax>{y1}</ymax><ymin>{y0}</ymin></bndbox><occluded>{occ}</occluded><generated>0</generated></object>")
        xml = (f"<annotation><folder>{rel}</folder><filename>{f:06d}</filename><size><width>{w}</width>"
               f"<height>{h}</height></size>{''.join(objs)}</annotation>")
        p = root / "Annotations" / "VID" / split / rel / f"{f:06d}.xml"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(xml)


def make_youtubebb(root: Path, w: int = 64, h: int = 48) -> List[list]:
    rows = [
        ["vidA", 1000, 0, "person", 0, "present", 0.1, 0.4, 0.2, 0.6],
        ["vidA", 2000, 0, "person", 0, "absent", -1, -1, -1, -1],
        ["vidA", 3000, 0, "person", 0, "present", 0.2, 0.5, 0.25, 0.7],
        ["vidA", 1000, 3, "dog", 0, "present", 0.5, 0.9, 0.5, 0.9],
        ["vidB", 0, 0, "person", 1, "present", 0.3, 0.6, 0.1, 0.5],
    ]
    with open(root / "yt_bb_detection_train.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    for r in rows:
        if r[5] == "present":
            box = [r[6] * w, r[8] * h, (r[7] - r[6]) * w, (r[9] - r[8]) * h]
            p = root / "frames" / r[0] / f"{r[1]}.jpg"
            write_rgb(p, draw_frame(w, h, box))
    return rows


# --------------------------------------------------------------------------- tiny tracker (tests only)

@dataclass
class TinyModel:
    channels: int = 4
    with_bn: bool = False


@dataclass
class TinyTrain(TrainConfig):
    #: sleep per actor call (s), to leave time for killing a run mid-epoch
    sleep: float = 0.0
    #: hang (sleep forever) at this global step (used by the kill -9 test); -1 = never
    hang_at_step: int = -1


def tiny_train_defaults() -> TinyTrain:
    return TinyTrain(
        epochs=2, batch_size=4, num_workers=0, log_interval=2,
        data=DataConfig(datasets=[DatasetSpec(name="got10k")], samples_per_epoch=16, max_gap=3),
        processing=ProcessingConfig(template=BranchConfig(size=15), search=BranchConfig(size=31, center_jitter=4, scale_jitter=0.1),
                                    normalize="rgb01"),
    )


@dataclass
class TinyTrack:
    pass


@dataclass
class TinyConfig(ExperimentConfig):
    model: TinyModel = field(default_factory=TinyModel)
    train: TinyTrain = field(default_factory=tiny_train_defaults)
    track: TinyTrack = field(default_factory=TinyTrack)


class TinyNet(nn.Module):
    def __init__(self, cfg: TinyModel):
        super().__init__()
        c = cfg.channels
        layers = [nn.Conv2d(3, c, 5, stride=4)]
        if cfg.with_bn:
            layers.append(nn.BatchNorm2d(c))
        layers.append(nn.ReLU())
        self.backbone = nn.Sequential(*layers)
        self.head = nn.Linear(2 * c, 4)

    def forward(self, template: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        ft = self.backbone(template).mean(dim=(2, 3))
        fs = self.backbone(search).mean(dim=(2, 3))
        return self.head(torch.cat([ft, fs], 1))


class TinyActor:
    def __init__(self, net: TinyNet, cfg: TinyConfig):
        self.net = net
        self.cfg = cfg
        self.calls = 0
        self.stage_calls: List[Tuple[str, int]] = []

    def set_stage(self, stage, index: int) -> None:
        self.stage_calls.append((stage.name, index))

    def __call__(self, batch):
        tr = self.cfg.train
        if tr.sleep:
            time.sleep(tr.sleep)
        self.calls += 1
        if tr.hang_at_step >= 0 and self.calls > tr.hang_at_step:
            Path(os.environ["_SOTLAB_TINY_HANG_FLAG"]).write_text("hanging")
            while True:
                time.sleep(1)
        pred = self.net(batch["template"], batch["search"])
        target = batch["search_box"] / tr.processing.search.size
        err = (pred - target) ** 2
        loss = err.mean()
        return loss, {"loss": loss.detach(), "l_xy": err[:, :2].mean().detach(), "l_wh": err[:, 2:].mean().detach()}


class _TinyTracker:  # never used for tracking
    pass


def register_tiny() -> None:
    """Register the test-only tracker (tests use the ``tiny_registered`` fixture so that it never
    leaks into other areas' tests that iterate over all trackers)."""
    NETWORKS.register("_tiny_test", override=True)(TinyNet)
    ACTORS.register("_tiny_test", override=True)(TinyActor)
    TRACKERS.register("_tiny_test", override=True, config=TinyConfig, network="_tiny_test", actor="_tiny_test")(_TinyTracker)


def unregister_tiny() -> None:
    for reg in (TRACKERS, NETWORKS, ACTORS):
        reg._entries.pop("_tiny_test", None)


# --------------------------------------------------------------------------- helpers for trainer tests

def tiny_config(dataset_root: Path, **train_overrides) -> TinyConfig:
    """Tiny tracker config on a GOT-10k fixture tree (overrides: dotted keys -> values)."""
    from ltr.admin.config import config_from_dict, config_to_dict

    d = config_to_dict(TinyConfig())
    d["train"]["data"]["datasets"] = [{"name": "got10k", "options": {"root": str(dataset_root)}}]
    for k, v in train_overrides.items():
        cur = d["train"]
        keys = k.split(".")
        for kk in keys[:-1]:
            cur = cur[kk]
        cur[keys[-1]] = v
    return config_from_dict(TinyConfig, d)


def net_state(net: nn.Module) -> Dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def direct_trainer(cfg: TinyConfig, workspace: Path):
    """Trainer for the tiny tracker built without registry look-ups (no plug-in discovery: fast in subprocesses)."""
    from ltr.data.processing import TrackingProcessing
    from ltr.data.sampler import TrackingSampler
    from ltr.dataset.got10k import Got10kTrain
    from ltr.trainers.trainer import Trainer

    torch.manual_seed(cfg.seed)
    net = TinyNet(cfg.model)
    spec = cfg.train.data.datasets[0]
    ds = Got10kTrain(**spec.options)
    sampler = TrackingSampler([ds], [1.0], cfg.train.data, TrackingProcessing(cfg.train.processing), seed=cfg.seed)
    return Trainer(net, TinyActor(net, cfg), cfg.train, sampler, checkpoint_dir=workspace / "ck", log_dir=workspace / "log",
                   meta={"tracker": "_tiny_test", "config_name": "direct"}, seed=cfg.seed, progress=False, tensorboard=False)


def ddp_worker(rank: int, world: int, port: int, dataset_root: str, out_dir: str, overrides: dict) -> None:
    """One DDP rank (gloo, tcp init): train the tiny tracker, save final weights to out_dir/rank<r>.pt."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        cfg = tiny_config(Path(dataset_root), **overrides)
        tr = direct_trainer(cfg, Path(out_dir) / "ws")
        tr.train()
        torch.save(net_state(tr.net), Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()
