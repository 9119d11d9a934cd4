"""``sotlab-vot`` / ``python tracking/vot.py``: VOT toolkit workspaces for SOTLab trackers.

Never imports the toolkit package ``vot`` (run it as ``vot ...`` / a subprocess).
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import List, Optional

__all__ = ["main", "build_parser"]

_EPILOG = """examples:
  # VOT2018 (supervised, reset-based) on the built-in synthetic benchmark
  python tracking/vot.py workspace ws18 --trackers ncc:default --stack vot2018
  vot evaluate --workspace ws18 --experiments baseline ncc_default
  vot analysis --workspace ws18 --format json ncc_default
  python tracking/vot.py analyze ws18                # SOTLab's own A/R/EAO on the same results
  # VOT2020 (multistart) on a local VOT folder
  python tracking/vot.py workspace ws20 --trackers ocean:online --stack vot2020 --dataset /data/vot2020
"""


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="sotlab-vot", description="VOT toolkit integration for SOTLab trackers",
                                 epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    w = sub.add_parser("workspace", help="write a ready VOT toolkit workspace",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    w.add_argument("directory", type=Path)
    w.add_argument("--trackers", nargs="+", required=True, metavar="TRACKER:CONFIG[=ID]",
                   help="e.g. siamcar:vot2018 ocean:online (ID defaults to tracker_config)")
    w.add_argument("--stack", default="vot2018", help="vot2018 (supervised), vot2020 (multistart) or a STACK.yaml")
    w.add_argument("--dataset", default="synthetic",
                   help="'synthetic' (synthetic test split), a SOTLab evaluation dataset name, or the path of a "
                        "local VOT folder (list.txt + sequences; used in place)")
    w.add_argument("--sequences", default=None, help="first N sequences, or a comma-separated list of names")
    w.add_argument("--experiments", default=None, help="keep only these stack experiments (comma-separated)")
    w.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override for every tracker, repeatable")
    w.add_argument("--timeout", type=float, default=None,
                   help="TraX reply timeout in s (default: vot_timeout of the config, else 30)")
    w.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda ...")
    w.add_argument("--threads", type=int, default=None, help="torch threads in each tracker process")
    w.add_argument("--polygon-init", choices=("minmax", "area", "pysot"), default=None,
                   help="polygon ground truth -> initial box (default: config track.vot_polygon_init, else minmax)")
    w.add_argument("--plugin", dest="plugins", action="append", default=[], metavar="MODULE",
                   help="module registering extra trackers (imported here and in the tracker process)")
    w.add_argument("--python-path", dest="paths", action="append", default=[], metavar="DIR",
                   help="extra directory on the tracker process's sys.path (e.g. for --plugin)")
    w.add_argument("--python", default=None, help="interpreter for the tracker processes (default: this one)")
    w.add_argument("--copy-frames", action="store_true", help="copy frames instead of symlinking them")
    w.add_argument("--anchor-spacing", type=int, default=50, help="multistart anchors every N frames")
    w.add_argument("--force", action="store_true", help="rewrite an existing workspace (results/ kept)")

    a = sub.add_parser("analyze", aliases=["analysis"],
                       help="SOTLab's VOT metrics (A/R/EAO) from a workspace's results folder")
    a.add_argument("directory", type=Path)
    a.add_argument("--trackers", nargs="*", default=None, help="tracker ids (default: all with results)")
    a.add_argument("--experiments", default=None, help="comma-separated (default: all)")
    a.add_argument("--json", type=Path, default=None, help="also write the scores to this JSON file")

    s = sub.add_parser("server", help="TraX server for TRACKER CONFIG (what trackers.ini runs)", add_help=False)
    s.add_argument("args", nargs=argparse.REMAINDER)
    return ap


def _cmd_workspace(args: argparse.Namespace) -> int:
    from .workspace import resolve_tracker, write_workspace

    for p in args.paths:  # where --plugin modules live (also on the tracker processes' path)
        sys.path.insert(0, str(Path(p).resolve()))
    specs = [resolve_tracker(t, args.overrides, args.timeout, args.plugins) for t in args.trackers]
    experiments = args.experiments.split(",") if args.experiments else None
    ws = write_workspace(args.directory, specs, stack=args.stack, dataset=args.dataset, sequences=args.sequences,
                         experiments=experiments, python=args.python, paths=args.paths, device=args.device,
                         threads=args.threads, polygon_init=args.polygon_init, plugins=args.plugins,
                         copy_frames=args.copy_frames, anchor_spacing=args.anchor_spacing, force=args.force)
    n = len([l for l in (ws / "sequences" / "list.txt").read_text().splitlines() if l.strip()])
    ids = " ".join(s.identifier for s in specs)
    print(f"VOT workspace: {ws}  ({n} sequences, stack {args.stack})")
    for s in specs:
        print(f"  {s.identifier:<24} {s.tracker}:{s.config}  timeout {s.timeout} s")
    print("next:")
    print(f"  vot evaluate --workspace {ws} {ids}")
    print(f"  vot analysis --workspace {ws} --format json {ids}")
    print(f"  vot report --workspace {ws} {ids}")
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    from .analysis import analyze_workspace

    exps = args.experiments.split(",") if args.experiments else None
    scores = analyze_workspace(args.directory, args.trackers or None, exps)
    if not scores:
        print(f"no supervised/multistart results in {args.directory / 'results'}", file=sys.stderr)
        return 1
    table = {}
    for sc in scores:
        summary = sc.summary()
        table.setdefault(sc.tracker, {})[sc.experiment] = summary
        items = "  ".join(f"{k} {v:.4f}" for k, v in summary.items())
        print(f"{sc.tracker:<24} {sc.experiment:<14} {sc.kind:<11} {items}")
    if args.json:
        args.json.write_text(json.dumps(table, indent=2))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "server":  # pass everything through untouched
        from .server import main as server_main

        return server_main(argv[1:])
    args = build_parser().parse_args(argv)
    from ltr.admin.config import ConfigError
    from ltr.admin.registry import RegistryError
    from ltr.admin.settings import SettingsError

    from .analysis import VOTResultsError
    from .workspace import WorkspaceError

    warnings.simplefilter("default")
    try:
        if args.cmd == "workspace":
            return _cmd_workspace(args)
        return _cmd_analyze(args)
    except (WorkspaceError, ConfigError, RegistryError, SettingsError, VOTResultsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
