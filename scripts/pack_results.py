"""Make server-submission zips from runner results.

    python scripts/pack_results.py got10k TRACKER:CONFIG[:RUNIDS] [--dataset got10k] [--out FILE.zip]
    python scripts/pack_results.py trackingnet TRACKER:CONFIG[:RUNID] [--dataset trackingnet] [--out FILE.zip]

GOT-10k: the runs (e.g. ``ncc:default:0-2``) become repetitions ``_001.._003`` in the order
given; a deterministic tracker may submit one run.  The sequence list is checked against the
dataset when it is configured (``--no-check`` skips that).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional

if __package__ in (None, ""):
    _root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if _root not in sys.path:
        sys.path.insert(0, _root)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="pack_results.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("benchmark", choices=["got10k", "trackingnet"])
    ap.add_argument("results", help="TRACKER:CONFIG[:RUNIDS], e.g. ncc:default or dimp:dimp50:0-2")
    ap.add_argument("--dataset", default=None, help="dataset name used when running (default: the benchmark name)")
    ap.add_argument("--results-dir", type=Path, default=None, help="results root (default: <workspace>/results)")
    ap.add_argument("--out", type=Path, default=None, help="zip file (default: next to the results)")
    ap.add_argument("--no-check", action="store_true", help="do not check completeness against the dataset")
    args = ap.parse_args(argv)

    from ltr.admin.settings import get_settings
    from tracking.analysis.loader import find_runids, parse_results_spec
    from tracking.evaluation.packing import PackError, pack_got10k, pack_trackingnet
    from tracking.evaluation.results import dataset_results_dir

    dataset = args.dataset or args.benchmark
    try:
        spec = parse_results_spec(args.results)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    root = args.results_dir or get_settings().results_dir
    runids = list(spec.runids) if spec.runids is not None else find_runids(root, spec.tracker, spec.config, dataset)
    if not runids:
        print(f"error: no results for {spec.tracker}:{spec.config} on '{dataset}' under {root}", file=sys.stderr)
        return 2
    if args.benchmark == "trackingnet" and len(runids) != 1:
        print(f"error: TrackingNet takes one run; got run ids {runids} (choose one with TRACKER:CONFIG:RUNID)",
              file=sys.stderr)
        return 2
    dirs = [dataset_results_dir(root, spec.tracker, spec.config, r, dataset) for r in runids]
    for d in dirs:
        if not d.is_dir():
            print(f"error: {d} does not exist", file=sys.stderr)
            return 2
    expected = None
    if not args.no_check:
        try:
            from tracking.evaluation.runner import load_dataset

            expected = [s.name for s in load_dataset(dataset)[0]]
        except Exception as e:  # dataset not configured here: pack what exists, but say so
            print(f"warning: cannot load dataset '{dataset}' to check completeness ({e}); packing what exists",
                  file=sys.stderr)
    out = args.out or Path(root) / spec.tracker / f"{spec.config}_{dataset}_{args.benchmark}.zip"
    try:
        if args.benchmark == "got10k":
            path = pack_got10k(dirs, runids, out, expected)
        else:
            path = pack_trackingnet(dirs[0], out, expected)
    except (PackError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({len(runids)} run(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
