"""Train a registered tracker from its YAML config.

    python ltr/run_training.py TRACKER CONFIG [--set train.epochs=2] [--resume] [--nproc N]

Single node, several processes (DDP; gloo on CPU, nccl on GPUs)::

    python ltr/run_training.py siamcar default --nproc 8

Several nodes (run on every node, node ranks 0..N-1)::

    python ltr/run_training.py siamcar default --nproc 8 --nnodes 2 --node-rank 0 --master-addr 10.0.0.1 --master-port 29500

which runs ``torchrun --nproc_per_node 8 --nnodes 2 --node_rank 0 --master_addr 10.0.0.1
--master_port 29500 -m ltr.run_training ...``; calling torchrun yourself works too.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

__all__ = ["main", "build_parser"]


def build_parser(with_trackers: bool = True) -> argparse.ArgumentParser:
    epilog = ""
    if with_trackers:
        try:
            from ltr.admin.experiment import describe_trackers

            epilog = "registered trackers:\n" + describe_trackers()
        except Exception as e:  # --help must work even if a plug-in is broken
            epilog = f"(could not list trackers: {e})"
    ap = argparse.ArgumentParser(prog="run_training.py", description="Train a tracker (SOTLab ltr).",
                                 epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tracker", help="tracker name (see below)")
    ap.add_argument("config", help="config name (configs/<tracker>/<name>.yaml) or a YAML path")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config value, e.g. --set train.batch_size=16 (repeatable)")
    ap.add_argument("--resume", nargs="?", const=True, default=False, metavar="CHECKPOINT",
                    help="resume from the latest checkpoint of this run, or from CHECKPOINT")
    ap.add_argument("--workspace", type=Path, default=None, help="workspace folder (default: settings 'workspace')")
    ap.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
    ap.add_argument("--max-iters", type=int, default=None, metavar="N",
                    help="cap every epoch (and validation) at N iterations: smoke tests")
    ap.add_argument("--no-progress", action="store_true", help="no tqdm bar (log lines instead)")
    ap.add_argument("--no-tensorboard", action="store_true")
    dd = ap.add_argument_group("distributed (launches torchrun)")
    dd.add_argument("--nproc", type=int, default=1, help="processes on this node (GPUs, or CPU processes with gloo)")
    dd.add_argument("--nnodes", type=int, default=1)
    dd.add_argument("--node-rank", type=int, default=0)
    dd.add_argument("--master-addr", default=None)
    dd.add_argument("--master-port", type=int, default=None)
    return ap


def _launch_torchrun(args: argparse.Namespace) -> int:
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={args.nproc}", f"--nnodes={args.nnodes}"]
    if args.nnodes == 1 and args.master_addr is None:
        cmd.append("--standalone")
    else:
        cmd += [f"--node_rank={args.node_rank}", f"--master_addr={args.master_addr or '127.0.0.1'}",
                f"--master_port={args.master_port or 29500}"]
    cmd += ["-m", "ltr.run_training", args.tracker, args.config]
    for ov in args.overrides:
        cmd += ["--set", ov]
    if args.resume is True:
        cmd.append("--resume")
    elif args.resume:
        cmd += ["--resume", str(args.resume)]
    if args.workspace is not None:
        cmd += ["--workspace", str(args.workspace)]
    if args.device is not None:
        cmd += ["--device", args.device]
    if args.max_iters is not None:
        cmd += ["--max-iters", str(args.max_iters)]
    if args.no_progress:
        cmd.append("--no-progress")
    if args.no_tensorboard:
        cmd.append("--no-tensorboard")
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    print("launching: " + " ".join(cmd), flush=True)
    return subprocess.call(cmd, env=env)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    want_help = any(a in ("-h", "--help") for a in argv)
    args = build_parser(with_trackers=want_help).parse_args(argv)
    if (args.nproc > 1 or args.nnodes > 1) and "LOCAL_RANK" not in os.environ:
        return _launch_torchrun(args)

    import torch

    from ltr.admin.config import ConfigError
    from ltr.admin.experiment import load_tracker_config
    from ltr.admin.registry import RegistryError
    from ltr.admin.settings import SettingsError, get_settings
    from ltr.data.sampler import BadSampleError
    from ltr.dataset.base import DatasetLayoutError
    from ltr.trainers import distributed as D
    from ltr.trainers.builder import build_trainer

    dev = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dev_type = torch.device(dev).type
    rank, world, local = D.init_distributed(dev_type)
    if dev_type == "cuda" and world > 1 and torch.device(dev).index is None:
        dev = f"cuda:{local}"
    try:
        cfg, path = load_tracker_config(args.tracker, args.config, args.overrides)
        name = Path(path).stem if Path(args.config).suffix in (".yaml", ".yml") else args.config
        workspace = args.workspace or get_settings().workspace
        trainer = build_trainer(args.tracker, cfg, name, workspace=Path(workspace), device=dev,
                                max_iters_per_epoch=args.max_iters, progress=False if args.no_progress else None,
                                tensorboard=not args.no_tensorboard)
        summary = trainer.train(resume=args.resume)
        if rank == 0:
            print(f"finished {args.tracker}/{name}: {summary['epochs']} epochs, {summary['global_step']} steps, "
                  f"{summary['bad_samples']} bad samples; last checkpoint: {summary['checkpoint']}")
        return 0
    except (ConfigError, RegistryError, SettingsError, DatasetLayoutError, BadSampleError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        D.cleanup()


if __name__ == "__main__":
    sys.exit(main())
