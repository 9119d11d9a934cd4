"""``sotlab`` command: settings and the built-in synthetic benchmark."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from ltr.dataset.synthetic.generator import SPLITS, SyntheticError

from .checkpoint import CheckpointError
from .settings import SettingsError, get_settings, settings_path, write_template


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="sotlab", description="SOTLab utilities")
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("settings", help="local paths (datasets, workspace, pretrained weights)")
    st_sub = st.add_subparsers(dest="action", required=True)
    init = st_sub.add_parser("init", help="write a commented settings template")
    init.add_argument("--path", type=Path, default=None, help=f"default: {settings_path()}")
    init.add_argument("--force", action="store_true")
    st_sub.add_parser("show", help="print the resolved settings")
    syn = sub.add_parser("synthetic", help="generate the built-in synthetic benchmark")
    syn.add_argument("--split", default="all", help="train, val, test, hard or all")
    syn.add_argument("--root", type=Path, default=None)
    ex = sub.add_parser("export", help="slim a training checkpoint to network weights + config (for tracking)")
    ex.add_argument("checkpoint", help="training checkpoint (path or workspace:<rel>)")
    ex.add_argument("out", type=Path, help="output .pth, e.g. checkpoints/siamcar/tiny.pth")
    ex.add_argument("--half", action="store_true", help="store float weights as float16 (half the size)")
    args = ap.parse_args(argv)

    try:
        if args.cmd == "settings":
            if args.action == "init":
                p = write_template(args.path, force=args.force)
                print(f"wrote {p}")
            else:
                s = get_settings()
                print(f"settings file: {s.source or settings_path()} ({'found' if s.source else 'not present'})")
                print(f"workspace:     {s.workspace}")
                for k, v in sorted(s.datasets.items()):
                    print(f"datasets.{k}: {v}")
                for k, v in sorted(s.pretrained.items()):
                    print(f"pretrained.{k}: {v}")
        elif args.cmd == "synthetic":
            from ltr.dataset.synthetic.generator import ensure_synthetic

            root = args.root or get_settings().synthetic_dir
            splits = list(SPLITS) if args.split == "all" else [args.split]
            for sp in splits:
                print(f"{sp}: {ensure_synthetic(root, sp)}")
        elif args.cmd == "export":
            from .checkpoint import export_checkpoint

            out = export_checkpoint(args.checkpoint, args.out, half=args.half)
            n = sum(v.numel() for v in out["net"].values())
            print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, {n:,} values, "
                  f"{out.get('tracker', '?')}/{out.get('config_name', '?')} epoch {out.get('epoch', '?')})")
    except (SettingsError, CheckpointError, SyntheticError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
