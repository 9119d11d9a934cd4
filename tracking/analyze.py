"""Compare trackers on a dataset (entry point ``sotlab-analyze``).

    python tracking/analyze.py --results TRACKER:CONFIG[:RUNIDS] [...] --dataset NAME
        [--protocol P] [--out DIR] [--names N1 N2 ...] [--sequence NAME ...]
        [--results-dir DIR] [--no-plots] [--vot-workspace DIR]

Prints a table (OPE: AUC, P, NP, OP50, OP75, FPS; GOT-10k: AO, SR0.5, SR0.75, FPS;
VOT: A, R, EAO) and writes ``results.md``, ``results.json`` and PNG success /
precision / normalized-precision plots (plus ``attributes/<attr>.png``) to ``--out``.
RUNIDS: ``3``, ``0,1,2`` or ``0-2``; several runs are reported as mean ± std.
Exit status: 0 ok, 2 bad request or missing results (the message names them).
"""
from __future__ import annotations

import os
import sys


import argparse
from pathlib import Path
from typing import List, Optional


def build_parser() -> argparse.ArgumentParser:
    from tracking.analysis.metrics import PROTOCOLS

    ap = argparse.ArgumentParser(prog="analyze.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", nargs="+", required=True, metavar="TRACKER:CONFIG[:RUNIDS]")
    ap.add_argument("--dataset", required=True, help="evaluation dataset name (as given to run_tracker.py)")
    ap.add_argument("--protocol", choices=PROTOCOLS, default=None,
                    help="metric convention (default: got10k for got10k*, trackingnet for trackingnet, "
                         "vot2018/vot2020 for VOT, pytracking otherwise)")
    ap.add_argument("--out", type=Path, default=None,
                    help="output folder (default: <workspace>/analysis/<dataset>_<protocol>)")
    ap.add_argument("--names", nargs="+", default=None, help="display names, one per --results entry")
    ap.add_argument("--sequence", action="append", default=None, help="only these sequences (repeatable / comma-separated)")
    ap.add_argument("--results-dir", type=Path, default=None, help="results root (default: <workspace>/results)")
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--vot-workspace", type=Path, default=None, help="VOT toolkit workspace (vot2018/vot2020 protocols)")
    return ap


def protocol_needs_meta(args: argparse.Namespace) -> bool:
    """The dataset's registry meta is needed unless a VOT protocol is forced (no dataset loaded then)."""
    return args.protocol not in ("vot2018", "vot2020")


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from ltr.admin.registry import RegistryError
    from ltr.admin.settings import SettingsError, get_settings
    from tracking.analysis.loader import MissingResultsError, ResultsSpecError, parse_results_spec
    from tracking.analysis.metrics import MetricError
    from tracking.analysis.report import VOT_PROTOCOLS, AnalysisError, analyze, default_protocol, format_table
    from tracking.evaluation.results import ResultFormatError
    from tracking.evaluation.runner import RunnerError, load_dataset, select_sequences

    try:
        if args.names is not None and len(args.names) != len(args.results):
            raise AnalysisError(f"--names has {len(args.names)} entries for {len(args.results)} --results")
        specs = [parse_results_spec(r, args.names[i] if args.names else None) for i, r in enumerate(args.results)]
        from ltr.admin.registry import EVAL_DATASETS

        meta = dict(EVAL_DATASETS.meta(args.dataset)) if protocol_needs_meta(args) else {}
        protocol = args.protocol or meta.get("protocol") or default_protocol(args.dataset)
        settings = get_settings()
        seqs = []
        if protocol not in VOT_PROTOCOLS:
            seqs, meta = load_dataset(args.dataset)
            if args.sequence:
                names = [s.strip() for item in args.sequence for s in item.split(",") if s.strip()]
                seqs = select_sequences(seqs, names, args.dataset)
        out = args.out or settings.workspace / "analysis" / f"{args.dataset}_{protocol}"
        an = analyze(specs, args.dataset, seqs, args.results_dir or settings.results_dir, protocol, out,
                     plots=not args.no_plots, vot_workspace=args.vot_workspace, meta=meta)
    except (AnalysisError, MissingResultsError, ResultFormatError, MetricError, RegistryError, SettingsError,
            RunnerError, ResultsSpecError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_table(an))
    print(f"\nwrote {len(an.files)} file(s) to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
