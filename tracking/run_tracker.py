"""Run a tracker on an evaluation dataset (entry point ``sotlab-track``).

    python tracking/run_tracker.py TRACKER CONFIG --dataset NAME [--sequence NAME[,NAME..]]
        [--threads N] [--runid K] [--debug] [--set key=value ...] [--gpus 0,1]
        [--results-dir DIR] [--force] [--archive-stale]

Results go to ``<workspace>/results/<tracker>/<config>[_<runid:03d>]/<dataset>/`` in the
benchmark's official format; finished sequences are skipped on a re-run.  Exit status:
0 all sequences finished, 1 some sequence failed (tracebacks printed), 2 bad arguments.
"""
from __future__ import annotations

import os
import sys


import argparse
from pathlib import Path
from typing import List, Optional


def _registered() -> str:
    """Trackers/configs and datasets for ``--help`` (never fails the parser)."""
    try:
        from ltr.admin.experiment import describe_trackers
        from ltr.admin.registry import EVAL_DATASETS

        ds = ", ".join(EVAL_DATASETS.names()) or "(none registered)"
        return f"registered trackers:\n{describe_trackers()}\n\nevaluation datasets:\n  {ds}"
    except Exception as e:  # a broken plugin must not hide --help
        return f"(could not list registered trackers/datasets: {type(e).__name__}: {e})"


def _int_list(text: str) -> List[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip() != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got '{text}'") from None


def build_parser(with_registry: bool = True) -> argparse.ArgumentParser:
    """``with_registry``: list registered trackers/datasets in the help (imports every plugin)."""
    ap = argparse.ArgumentParser(
        prog="run_tracker.py",
        description="Run a tracker on an evaluation dataset; results in the benchmark's official format.",
        epilog=_registered() if with_registry else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("tracker", help="registered tracker name (see below)")
    ap.add_argument("config", help="config name (configs/<tracker>/<name>.yaml) or a path to a YAML file")
    ap.add_argument("--dataset", required=True, help="evaluation dataset name (see below)")
    ap.add_argument("--sequence", action="append", default=None,
                    help="run only these sequences (repeatable or comma-separated)")
    ap.add_argument("--threads", type=int, default=1,
                    help="parallel worker processes (<= 1: run in this process)")
    ap.add_argument("--runid", type=int, default=None, help="run id: results go to <config>_<runid:03d>")
    ap.add_argument("--debug", action="store_true",
                    help="write per-frame images and score maps to <run>/<dataset>_debug/ (re-runs the sequences)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config value, e.g. --set track.window_influence=0.3")
    ap.add_argument("--gpus", type=_int_list, default=None, help="GPU indices to spread workers over (default: all visible)")
    ap.add_argument("--results-dir", type=Path, default=None, help="results root (default: <workspace>/results)")
    ap.add_argument("--force", action="store_true", help="re-run sequences that are already finished")
    ap.add_argument("--archive-stale", action="store_true",
                    help="results of another config or dataset version in the run folder: move them to "
                         "<folder>.stale-<i> and start afresh instead of stopping")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(with_registry=any(a in ("-h", "--help") for a in argv)).parse_args(argv)
    from ltr.admin.config import ConfigError
    from ltr.admin.registry import RegistryError
    from ltr.admin.settings import SettingsError
    from tracking.evaluation.runner import RunnerError, run_tracker

    seqs = None
    if args.sequence:
        seqs = [s.strip() for item in args.sequence for s in item.split(",") if s.strip()]
    try:
        report = run_tracker(
            args.tracker, args.config, args.dataset, sequences=seqs, threads=args.threads, runid=args.runid,
            debug=args.debug, overrides=args.overrides, gpus=args.gpus, results_dir=args.results_dir,
            force=args.force, progress=not args.no_progress, archive_stale=args.archive_stale,
        )
    except (ConfigError, RegistryError, SettingsError, RunnerError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished sequences are kept, re-run to complete the rest", file=sys.stderr)
        return 130
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
