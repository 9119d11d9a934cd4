"""Server submission zips for GOT-10k and TrackingNet (used by ``scripts/pack_results.py``).

* GOT-10k: ``<seq>/<seq>_001.txt .. _00N.txt`` (one per run, renumbered in the order
  given) and ``<seq>/<seq>_time.txt`` with one comma-separated column per run,
  exactly what the got10k toolkit's ``ExperimentGOT10k`` writes and zips.
* TrackingNet: ``<seq>.txt`` at the zip root (one run).
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import List, Optional, Sequence as Seq

import numpy as np

from tracking.evaluation.results import format_boxes, glob_escape, read_sequence_result, repetition_for, result_paths

__all__ = ["PackError", "pack_got10k", "pack_trackingnet", "sequence_names_in"]


class PackError(ValueError):
    """Inconsistent or missing results; the message names the run directory and sequence."""


def sequence_names_in(run_dir: Path, fmt: str) -> List[str]:
    """Sequence names that have a finished result in ``run_dir``."""
    run_dir = Path(run_dir)
    if fmt == "got10k":
        return sorted(d.name for d in run_dir.iterdir()
                      if d.is_dir() and any(d.glob(f"{glob_escape(d.name)}_[0-9][0-9][0-9].txt")))
    return sorted(p.stem for p in run_dir.glob("*.txt") if not p.stem.endswith("_time"))


def _check_same_sequences(run_dirs: Seq[Path], fmt: str, expected: Optional[Seq[str]]) -> List[str]:
    names = sequence_names_in(run_dirs[0], fmt)
    for d in run_dirs[1:]:
        other = sequence_names_in(d, fmt)
        if other != names:
            diff = sorted(set(names) ^ set(other))
            raise PackError(f"runs {run_dirs[0]} and {d} hold different sequences (e.g. {', '.join(diff[:5])})")
    if expected is not None:
        missing = sorted(set(expected) - set(names))
        if missing:
            raise PackError(f"{run_dirs[0]}: missing results for {len(missing)} sequence(s): {', '.join(missing[:10])}")
        names = [n for n in names if n in set(expected)]
    if not names:
        raise PackError(f"{run_dirs[0]}: no finished sequence results to pack")
    return names


def pack_got10k(run_dirs: Seq[Path], runids: Seq[Optional[int]], out_zip: Path,
                expected: Optional[Seq[str]] = None) -> Path:
    """Zip GOT-10k-format results of one or more runs (repetitions) for the evaluation server."""
    if len(run_dirs) != len(runids) or not run_dirs:
        raise PackError("pack_got10k: need one run id per run directory")
    run_dirs = [Path(d) for d in run_dirs]
    names = _check_same_sequences(run_dirs, "got10k", expected)
    out_zip = Path(out_zip)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_zip.with_name(f".{out_zip.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in names:
            cols = []
            for k, (d, rid) in enumerate(zip(run_dirs, runids), 1):
                rep = repetition_for(rid)
                use = rep if result_paths(d, name, "got10k", rep)[0].is_file() else None
                boxes, times, path = read_sequence_result(d, name, "got10k", use)
                if cols and len(times if times is not None else boxes) != len(cols[0]):
                    raise PackError(f"{path}: {len(boxes)} frames, other runs have {len(cols[0])}")
                zf.writestr(f"{name}/{name}_{k:03d}.txt", format_boxes(boxes))
                cols.append(times if times is not None else np.zeros(len(boxes)))
            t = np.stack(cols, axis=1)
            zf.writestr(f"{name}/{name}_time.txt", "".join(",".join(f"{v:.8f}" for v in row) + "\n" for row in t))
    tmp.replace(out_zip)
    return out_zip


def pack_trackingnet(run_dir: Path, out_zip: Path, expected: Optional[Seq[str]] = None) -> Path:
    """Zip TrackingNet-format results (``<seq>.txt`` at the root) for the evaluation server."""
    run_dir = Path(run_dir)
    names = _check_same_sequences([run_dir], "trackingnet", expected)
    out_zip = Path(out_zip)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_zip.with_name(f".{out_zip.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in names:
            boxes, _, _ = read_sequence_result(run_dir, name, "trackingnet", 1)
            zf.writestr(f"{name}.txt", format_boxes(boxes))
    tmp.replace(out_zip)
    return out_zip
