"""Load tracking results written by the runner, for the analysis.

A results spec is ``TRACKER:CONFIG[:RUNIDS]``; RUNIDS is ``3``, ``0,1,2`` or ``0-2``.
Without RUNIDS the plain ``<config>`` run is used when it exists, otherwise every
``<config>_NNN`` run found (several runs are reported as mean +- std).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence as Seq, Tuple

import numpy as np
import yaml

from tracking.evaluation.data import Sequence
from tracking.evaluation.results import (
    dataset_results_dir,
    read_sequence_result,
    repetition_for,
    result_format_for,
    result_paths,
    run_dir_name,
)

__all__ = [
    "MissingResultsError",
    "ResultsSpecError",
    "ResultsSpec",
    "RunResults",
    "TrackerResults",
    "parse_results_spec",
    "find_runids",
    "load_tracker_results",
]


class ResultsSpecError(ValueError):
    """A malformed ``TRACKER:CONFIG[:RUNIDS]`` spec."""


class MissingResultsError(FileNotFoundError):
    """Results are missing; the message names the tracker, config, run and sequences."""


@dataclass(frozen=True)
class ResultsSpec:
    tracker: str
    config: str
    runids: Optional[Tuple[Optional[int], ...]] = None  # None: auto-detect
    name: Optional[str] = None  # display name

    @property
    def label(self) -> str:
        """Display name: ``--names`` entry, else ``tracker config`` plus explicit run ids."""
        if self.name:
            return self.name
        base = f"{self.tracker} {self.config}"
        if self.runids is None:
            return base
        if len(self.runids) == 1:
            return f"{self.tracker} {run_dir_name(self.config, self.runids[0])}"
        return f"{base} [{','.join(str(r) for r in self.runids)}]"


def _parse_runids(text: str, spec: str) -> Tuple[int, ...]:
    out: List[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"(\d+)-(\d+)", part)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            if b < a:
                raise ResultsSpecError(f"results spec '{spec}': empty run-id range '{part}'")
            out.extend(range(a, b + 1))
        elif part.isdigit():
            out.append(int(part))
        else:
            raise ResultsSpecError(f"results spec '{spec}': bad run id '{part}' (use 3, 0,1,2 or 0-2)")
    if not out:
        raise ResultsSpecError(f"results spec '{spec}': no run ids")
    return tuple(dict.fromkeys(out))


def parse_results_spec(text: str, name: Optional[str] = None) -> ResultsSpec:
    """``TRACKER:CONFIG[:RUNIDS]`` -> :class:`ResultsSpec`."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ResultsSpecError(f"results spec '{text}': expected TRACKER:CONFIG[:RUNIDS], e.g. ncc:default or ncc:default:0-2")
    runids = _parse_runids(parts[2], text) if len(parts) == 3 else None
    return ResultsSpec(parts[0], parts[1], runids, name)


@dataclass
class RunResults:
    """One run's predictions, aligned with the sequence list given to the loader."""

    runid: Optional[int]
    directory: Path
    fmt: str
    boxes: List[np.ndarray]
    times: List[Optional[np.ndarray]]

    def fps(self, init_frames: Optional[Seq[int]] = None) -> float:
        """Frames per second of tracker time over all sequences, init frames excluded."""
        n, t = 0, 0.0
        for k, tm in enumerate(self.times):
            if tm is None:
                return float("nan")
            f0 = int(init_frames[k]) if init_frames is not None else 0
            tt = np.asarray(tm[f0 + 1:], dtype=np.float64)
            tt = tt[np.isfinite(tt) & (tt > 0)]
            n += tt.size
            t += float(tt.sum())
        return n / t if t > 0 else float("nan")


@dataclass
class TrackerResults:
    spec: ResultsSpec
    runs: List[RunResults] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.spec.label


def find_runids(root: Path, tracker: str, config: str, dataset: str) -> List[Optional[int]]:
    """Run ids with results for ``dataset``: ``[None]`` for the plain run, else all ``_NNN`` runs."""
    if dataset_results_dir(root, tracker, config, None, dataset).is_dir():
        return [None]
    base = Path(root) / tracker
    ids = []
    if base.is_dir():
        pat = re.compile(re.escape(config) + r"_(\d{3,})$")
        for d in base.iterdir():
            m = pat.fullmatch(d.name)
            if m and (d / dataset).is_dir():
                ids.append(int(m.group(1)))
    return sorted(ids)


def _run_format(run_dir: Path, dataset: str, seq_names: Seq[str]) -> str:
    """The layout recorded by the runner, else the one found on disk, else the dataset's default."""
    cfg = run_dir / "run_config.yaml"
    if cfg.is_file():
        try:
            info = yaml.safe_load(cfg.read_text()) or {}
            if info.get("result_format"):
                return str(info["result_format"])
        except yaml.YAMLError:
            pass
    for n in seq_names:
        if (run_dir / n).is_dir():
            return "got10k"
        if (run_dir / f"{n}.txt").is_file():
            return "trackingnet" if result_format_for(dataset) == "trackingnet" else "otb"
    return result_format_for(dataset)


def _hint(spec: ResultsSpec, dataset: str, runid: Optional[int]) -> str:
    rid = f" --runid {runid}" if runid is not None else ""
    return f"run: python tracking/run_tracker.py {spec.tracker} {spec.config} --dataset {dataset}{rid}"


def load_tracker_results(spec: ResultsSpec, dataset: str, sequences: Seq[Sequence], root: Path) -> TrackerResults:
    """Load every run of ``spec`` for ``sequences``; raise :class:`MissingResultsError` naming what is missing."""
    root = Path(root)
    runids = list(spec.runids) if spec.runids is not None else find_runids(root, spec.tracker, spec.config, dataset)
    if not runids:
        raise MissingResultsError(
            f"no results for tracker '{spec.tracker}' config '{spec.config}' on dataset '{dataset}' under {root} "
            f"(looked for {dataset_results_dir(root, spec.tracker, spec.config, None, dataset)} and "
            f"{root / spec.tracker / (spec.config + '_NNN') / dataset}); {_hint(spec, dataset, None)}"
        )
    out = TrackerResults(spec)
    for rid in runids:
        d = dataset_results_dir(root, spec.tracker, spec.config, rid, dataset)
        who = f"tracker '{spec.tracker}' config '{spec.config}'" + (f" run {rid}" if rid is not None else "")
        if not d.is_dir():
            raise MissingResultsError(f"no results for {who} on dataset '{dataset}': {d} does not exist; "
                                      f"{_hint(spec, dataset, rid)}")
        fmt = _run_format(d, dataset, [s.name for s in sequences])
        rep = repetition_for(rid)
        boxes, times, missing = [], [], []
        for s in sequences:
            use_rep: Optional[int] = rep
            if fmt == "got10k" and not result_paths(d, s.name, fmt, rep)[0].is_file():
                use_rep = None  # results copied from elsewhere: accept a single <seq>_NNN.txt
            try:
                b, t, _ = read_sequence_result(d, s.name, fmt, use_rep)
            except FileNotFoundError:
                missing.append(s.name)
                continue
            boxes.append(b)
            times.append(t)
        if missing:
            shown = ", ".join(missing[:10]) + (f" ... (+{len(missing) - 10} more)" if len(missing) > 10 else "")
            raise MissingResultsError(
                f"{who} on dataset '{dataset}' ({d}): missing results for {len(missing)} of {len(sequences)} "
                f"sequence(s): {shown}; {_hint(spec, dataset, rid)}"
            )
        out.runs.append(RunResults(rid, d, fmt, boxes, times))
    return out

