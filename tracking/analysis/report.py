"""Compare trackers on a dataset: metrics table (text, markdown, JSON) and plots.

The metric conventions live in :mod:`tracking.analysis.metrics`; this module only
loads results, calls the protocol, aggregates run ids (mean +- std) and writes
the outputs.  Scores are fractions internally and percent in tables and legends.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence as Seq, Tuple

import numpy as np

from tracking.analysis.failures import CAUSES, classify_dataset, count_causes
from tracking.analysis.loader import ResultsSpec, RunResults, TrackerResults, load_tracker_results
from tracking.analysis.oracle import oracle_aucs
from tracking.analysis.plots import Curve, norm_precision_plot, precision_plot, success_plot
from tracking.analysis.stats import paired_comparison, standard_error
from tracking.evaluation.data import Sequence

__all__ = ["AnalysisError", "Analysis", "default_protocol", "analyze", "format_table", "markdown_table",
           "binary_attributes", "VOT_PROTOCOLS"]

VOT_PROTOCOLS = ("vot2018", "vot2020")


class AnalysisError(ValueError):
    """Bad analysis request (unknown protocol, hidden ground truth ...); the message is for users."""


def default_protocol(dataset: str) -> str:
    """GOT-10k-style AO/SR for GOT-10k; the VOT analyses for VOT; pytracking's OPE otherwise."""
    d = dataset.lower()
    if d.startswith("got10k"):
        return "got10k"
    if d.startswith("trackingnet"):
        return "trackingnet"
    if d.startswith("vot2018") or d.startswith("vot2019") or d.startswith("vot2016") or d.startswith("vot2017"):
        return "vot2018"
    if d.startswith("vot"):
        return "vot2020"
    return "pytracking"


def metric_dataset(dataset: str, meta: Optional[Dict[str, Any]] = None) -> str:
    """Dataset family for the protocols' dataset-specific rules (registry meta ``metric_dataset``)."""
    return str((meta or {}).get("metric_dataset") or dataset)


def _is_got10k_experiment(protocol: str, dataset: str, meta: Optional[Dict[str, Any]] = None) -> bool:
    """``got10k`` on a GOT-10k-layout dataset means the GOT-10k experiment (AO/SR); elsewhere the
    got10k toolkit's OTB-style experiment."""
    if protocol != "got10k":
        return False
    d = metric_dataset(dataset, meta).lower()
    return d.startswith(("got10k", "synthetic")) or (meta or {}).get("results_format") == "got10k"


# --------------------------------------------------------------------------- columns

#: (key, header) per table kind
COLUMNS: Dict[str, List[Tuple[str, str]]] = {
    "ope": [("auc", "AUC"), ("auc_se", "SE"), ("precision", "P"), ("norm_precision", "NP"), ("op50", "OP50"),
            ("op75", "OP75"), ("fps", "FPS")],
    "got10k": [("ao", "AO"), ("ao_se", "SE"), ("sr50", "SR0.5"), ("sr75", "SR0.75"), ("fps", "FPS")],
    "vot": [("accuracy", "A"), ("robustness", "R"), ("eao", "EAO")],
}
#: keys shown as percent
PERCENT = {"auc", "auc_se", "ao_se", "precision", "norm_precision", "op50", "op75", "ao", "sr50", "sr75"}


@dataclass
class TrackerSummary:
    label: str
    spec: str
    runids: List[Optional[int]]
    runs: List[Dict[str, float]]  # metrics per run
    mean: Dict[str, float]
    std: Dict[str, float]
    curves: Dict[str, Dict[str, List[float]]] = field(default_factory=dict)  # name -> {x, y, y_std}
    #: seq -> {score (mean over runs), loss_cause, lost_frame, recovered_frame (first run)}
    per_sequence: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    attributes: Dict[str, Dict[str, float]] = field(default_factory=dict)  # attr -> {score mean, std, n}
    #: sequences per loss cause (tracking/analysis/failures.py), from the first run id
    failures: Dict[str, int] = field(default_factory=dict)
    #: OPE only: AUC with the GT box size / the GT centre substituted (tracking/analysis/oracle.py), mean over runs
    oracle: Dict[str, float] = field(default_factory=dict)


@dataclass
class Analysis:
    dataset: str
    protocol: str
    kind: str  # 'ope' | 'got10k' | 'vot'
    n_sequences: int
    trackers: List[TrackerSummary]
    attribute_counts: Dict[str, int] = field(default_factory=dict)
    files: List[str] = field(default_factory=list)
    #: paired per-sequence comparisons of the main score, one per pair of trackers (rank order: a above b)
    comparisons: List[Dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> Dict[str, Any]:
        return {
            "dataset": self.dataset, "protocol": self.protocol, "kind": self.kind,
            "n_sequences": self.n_sequences, "columns": [k for k, _ in COLUMNS[self.kind]],
            "attribute_counts": self.attribute_counts,
            "trackers": [t.__dict__ for t in self.trackers],
            "comparisons": self.comparisons,
        }


# --------------------------------------------------------------------------- helpers


def _mean_std(values: Seq[float]) -> Tuple[float, float]:
    a = np.asarray([v for v in values], dtype=np.float64)
    if a.size == 0 or not np.isfinite(a).any():
        return float("nan"), float("nan")
    a = a[np.isfinite(a)]
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def _image_size(seq: Sequence) -> Optional[Tuple[int, int]]:
    """``(W, H)``: the dataset's ``resolution`` attribute (GOT-10k meta_info.ini), else the first frame's
    size (reading only the image header when possible)."""
    res = (seq.attributes or {}).get("resolution")
    if isinstance(res, (tuple, list)) and len(res) == 2:
        return int(res[0]), int(res[1])
    path = seq.frames[0]
    try:
        from PIL import Image

        with Image.open(path) as im:
            return int(im.size[0]), int(im.size[1])
    except Exception:
        import cv2

        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        return (int(img.shape[1]), int(img.shape[0])) if img is not None else None


def _as_flag(v: Any) -> Optional[bool]:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer, float, np.floating)) and not isinstance(v, bool) and float(v) in (0.0, 1.0):
        return bool(v)
    return None


def _sequence_flags(attrs: Dict[str, Any]) -> Dict[str, Optional[bool]]:
    """Flag-valued attributes of one sequence; a nested dict of flags (UAV's ``challenges``)
    contributes its keys."""
    out: Dict[str, Optional[bool]] = {}
    for k, v in (attrs or {}).items():
        if isinstance(v, dict):
            for kk, vv in v.items():
                f = _as_flag(vv)
                if f is not None:
                    out[str(kk)] = f
        else:
            out[str(k)] = _as_flag(v)
    return out


def binary_attributes(seqs: Seq[Sequence]) -> Dict[str, np.ndarray]:
    """Per-sequence attributes that are flags (bool or 0/1) on every sequence -> membership mask
    (attributes set on no sequence are left out)."""
    flags = [_sequence_flags(s.attributes) for s in seqs]
    keys: Dict[str, None] = {}
    for f in flags:
        for k in f:
            keys.setdefault(k, None)
    out: Dict[str, np.ndarray] = {}
    for k in keys:
        vals = [f.get(k) for f in flags]
        if all(v is not None for v in vals):
            mask = np.asarray(vals, dtype=bool)
            if mask.any():
                out[k] = mask
    return out


def _fmt(key: str, mean: float, std: Optional[float], multi: bool) -> str:
    if mean is None or not np.isfinite(mean):
        return "-"
    scale = 100.0 if key in PERCENT else 1.0
    digits = 1 if key in PERCENT or key == "fps" else 3
    s = f"{mean * scale:.{digits}f}"
    if multi and std is not None and np.isfinite(std):
        s += f" ± {std * scale:.{digits}f}"
    return s


def format_table(an: Analysis) -> str:
    """Fixed-width text table (percent scores; '±' = std over run ids)."""
    cols = COLUMNS[an.kind]
    rows = [["Tracker"] + [h for _, h in cols]]
    for t in an.trackers:
        multi = len(t.runids) > 1
        name = t.label + (f" ({len(t.runids)} runs)" if multi else "")
        rows.append([name] + [_fmt(k, t.mean.get(k, float("nan")), t.std.get(k), multi) for k, _ in cols])
    lines = _fixed_width(rows)
    lines.insert(1, "-" * len(lines[0]))
    title = f"{an.dataset} ({an.n_sequences} sequences), protocol {an.protocol}"
    text = title + "\n" + "\n".join(lines)
    if an.comparisons:
        text += "\n\n" + "\n".join(_comparison_lines(an))
    if any(t.failures for t in an.trackers):
        text += "\n\n" + "\n".join(_failure_rows(an, markdown=False))
    if any(t.oracle for t in an.trackers):
        text += "\n\n" + "\n".join(_oracle_rows(an, markdown=False))
    return text


def _oracle_rows(an: Analysis, markdown: bool) -> List[str]:
    """AUC as tracked, with the GT size at the predicted centre, with the predicted size at the GT centre."""
    heads = ["Tracker", "AUC", "exact size", "exact centre"]
    rows = [[t.label, f"{100 * t.mean.get('auc', float('nan')):.1f}", f"{100 * t.oracle['exact_size']:.1f}",
             f"{100 * t.oracle['exact_centre']:.1f}"] for t in an.trackers if t.oracle]
    if markdown:
        return ["| " + " | ".join(heads) + " |", "|---|---:|---:|---:|"] + ["| " + " | ".join(r) + " |" for r in rows]
    return ["where the AUC goes (the same results re-scored with the ground-truth box size, or centre):",
            *_fixed_width([heads] + rows)]


def _fixed_width(rows: List[List[str]]) -> List[str]:
    """Text rows: first column left-aligned, the others right-aligned, two spaces apart."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)) for r in rows]


def _failure_rows(an: Analysis, markdown: bool) -> List[str]:
    """Sequences per loss cause (first lasting loss of each sequence; see tracking/analysis/failures.py)."""
    heads = ["Tracker", *CAUSES, "recovered"]
    rows = [[t.label] + [str(t.failures.get(c, 0)) for c in heads[1:]] for t in an.trackers if t.failures]
    if markdown:
        return ["| " + " | ".join(heads) + " |", "|---|" + "---:|" * (len(heads) - 1)] + \
            ["| " + " | ".join(r) + " |" for r in rows]
    return ["sequences by how the target was first lost (10 visible frames below IoU 0.1; recovered = found "
            "again later):", *_fixed_width([heads] + rows)]


def _comparison_lines(an: Analysis) -> List[str]:
    """One line per pair: ``A − B: +d [lo, hi] 95 % CI, wins/losses`` (percent points)."""
    main = "AUC" if an.kind == "ope" else "AO"
    out = [f"paired {main} differences over the same sequences (mean [95 % bootstrap CI over sequences]):"]
    for c in an.comparisons:
        out.append(f"  {c['a']} - {c['b']}: {100 * c['diff']:+.1f} "
                   f"[{100 * c['ci_low']:+.1f}, {100 * c['ci_high']:+.1f}], "
                   f"wins/losses/ties {c['wins']}/{c['losses']}/{c['ties']}")
    return out


def markdown_table(an: Analysis) -> str:
    cols = COLUMNS[an.kind]
    out = [f"## {an.dataset} ({an.n_sequences} sequences), protocol `{an.protocol}`", "",
           "| Tracker | " + " | ".join(h for _, h in cols) + " |",
           "|---|" + "---:|" * len(cols)]
    for t in an.trackers:
        multi = len(t.runids) > 1
        name = t.label + (f" ({len(t.runids)} runs)" if multi else "")
        out.append(f"| {name} | " + " | ".join(_fmt(k, t.mean.get(k, float("nan")), t.std.get(k), multi)
                                              for k, _ in cols) + " |")
    if an.attribute_counts and an.trackers and an.trackers[0].attributes:
        main = "auc" if an.kind == "ope" else "ao"
        out += ["", f"### Per attribute ({'AUC' if main == 'auc' else 'AO'})", "",
                "| Attribute (sequences) | " + " | ".join(t.label for t in an.trackers) + " |",
                "|---|" + "---:|" * len(an.trackers)]
        for a, n in an.attribute_counts.items():
            cells = []
            for t in an.trackers:
                v = t.attributes.get(a, {})
                cells.append(_fmt(main, v.get("mean", float("nan")), v.get("std"), len(t.runids) > 1))
            out.append(f"| {a} ({n}) | " + " | ".join(cells) + " |")
    if an.comparisons:
        head, *pairs = _comparison_lines(an)
        out += ["", "### Paired differences", "", head[0].upper() + head[1:], "", *(f"- {p.strip()}" for p in pairs)]
    if any(t.failures for t in an.trackers):
        out += ["", "### Loss causes (sequences)", "", *_failure_rows(an, markdown=True), "",
                "First lasting loss per sequence: look-alike = the box sat on an annotated similar object; "
                "occlusion/exit = the target was hidden or out of view just before; drift = neither; "
                "recovered = found again later."]
    if any(t.oracle for t in an.trackers):
        out += ["", "### Where the AUC goes", "", *_oracle_rows(an, markdown=True), "",
                "The same results re-scored with each box resized to the ground-truth size about its own centre "
                "(exact size) or moved onto the ground-truth centre (exact centre): what box regression and "
                "localisation each cost."]
    note = ("Scores in percent; SE = standard error of AUC over sequences; P = precision at 20 px, "
            "NP = normalized precision at 0.2 (areas for the got10k/trackingnet protocols); FPS = tracked frames / "
            "tracker time "
            "(init frames excluded)." if an.kind == "ope" else
            "Scores in percent; SE = standard error of AO over sequences; AO/SR over all frames except the first "
            "(GOT-10k rules); FPS as the got10k toolkit: mean of 1/t." if an.kind == "got10k" else
            "A = accuracy, R = failures (supervised) or robustness (multistart), EAO = expected average overlap.")
    return "\n".join(out) + "\n\n" + note + "\n"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "attr"


# --------------------------------------------------------------------------- per-protocol evaluation


def _visible(seqs: Seq[Sequence]) -> Optional[List[Optional[np.ndarray]]]:
    """Per-sequence visibility flags for the OPE metrics, or None when no sequence has any."""
    vis = [s.target_visible for s in seqs]
    return vis if any(v is not None for v in vis) else None


def _eval_ope(runs: List[RunResults], seqs: Seq[Sequence], protocol: str, dataset: str, idx: np.ndarray
              ) -> List[Any]:
    from tracking.analysis.metrics import compute_ope

    sub = [seqs[i] for i in idx]
    return [compute_ope([r.boxes[i] for i in idx], [s.ground_truth for s in sub], protocol, _visible(sub),
                        dataset=dataset, names=[s.name for s in sub]) for r in runs]


def _eval_got10k(runs: List[RunResults], seqs: Seq[Sequence], idx: np.ndarray,
                 sizes: List[Optional[Tuple[int, int]]]) -> List[Dict[str, Any]]:
    from tracking.analysis.metrics import compute_got10k

    sub = [seqs[i] for i in idx]
    covers = [s.target_visible for s in sub]
    out = []
    for r in runs:
        out.append(compute_got10k([r.boxes[i] for i in idx], [s.ground_truth for s in sub],
                                  covers=covers if any(c is not None for c in covers) else None,
                                  times=[r.times[i] for i in idx], image_sizes=[sizes[i] for i in idx],
                                  names=[s.name for s in sub]))
    return out


def _ope_row(res: Any, protocol: str, fps: float) -> Dict[str, float]:
    p = res.precision_auc if protocol == "trackingnet" else res.precision
    np_ = res.norm_precision_auc if protocol in ("trackingnet", "got10k") else res.norm_precision
    return {"auc": res.auc, "precision": p, "norm_precision": np_, "op50": res.op50, "op75": res.op75, "fps": fps}


def _mean_curve(ys: Seq[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    a = np.stack([np.asarray(y, dtype=np.float64) for y in ys])
    return a.mean(0), (a.std(0, ddof=1) if len(a) > 1 else np.zeros(a.shape[1]))


def analyze(specs: Seq[ResultsSpec], dataset: str, seqs: Seq[Sequence], results_root: Path,
            protocol: Optional[str] = None, out_dir: Optional[Path] = None, plots: bool = True,
            vot_workspace: Optional[Path] = None, meta: Optional[Dict[str, Any]] = None) -> Analysis:
    """Load every spec's results, compute the protocol's metrics and (optionally) write outputs to ``out_dir``.

    ``meta`` is the dataset's registry meta: ``protocol`` (default protocol), ``metric_dataset``
    (dataset-specific metric rules, e.g. UAV/LaSOT) and ``results_format``."""
    from tracking.analysis.metrics import PROTOCOLS

    protocol = protocol or (meta or {}).get("protocol") or default_protocol(dataset)
    if protocol not in PROTOCOLS:
        raise AnalysisError(f"unknown protocol '{protocol}'; valid: {', '.join(PROTOCOLS)}")
    if not specs:
        raise AnalysisError("no results given (--results TRACKER:CONFIG[:RUNIDS] ...)")
    labels = [s.label for s in specs]
    dup = sorted({l for l in labels if labels.count(l) > 1})
    if dup:
        raise AnalysisError(f"results listed twice (or same display name): {', '.join(dup)}")
    if protocol in VOT_PROTOCOLS:
        an = _analyze_vot(specs, dataset, protocol, vot_workspace)
    else:
        if not seqs:
            raise AnalysisError(f"dataset '{dataset}' has no sequences")
        hidden = [s.name for s in seqs if not s.gt_public]
        if hidden:
            raise AnalysisError(f"dataset '{dataset}': ground truth of {len(hidden)} sequence(s) is not public "
                                f"(e.g. {hidden[0]}); pack the results with scripts/pack_results.py and use the "
                                f"benchmark's evaluation server")
        an = _analyze_ope_like(specs, dataset, list(seqs), results_root, protocol, meta)
    if out_dir is not None:
        write_outputs(an, Path(out_dir), plots)
    return an


def _analyze_ope_like(specs: Seq[ResultsSpec], dataset: str, seqs: List[Sequence], root: Path,
                      protocol: str, meta: Optional[Dict[str, Any]] = None) -> Analysis:
    got = _is_got10k_experiment(protocol, dataset, meta)
    mdata = metric_dataset(dataset, meta)
    kind = "got10k" if got else "ope"
    results: List[TrackerResults] = [load_tracker_results(s, dataset, seqs, root) for s in specs]
    attrs = binary_attributes(seqs)
    all_idx = np.arange(len(seqs))
    sizes = [_image_size(s) for s in seqs] if got else []
    init_frames = [s.init_frame for s in seqs]
    # the oracle re-scoring's per-sequence inputs are the same for every tracker and run: built once
    gts, visible, names = [s.ground_truth for s in seqs], _visible(seqs), [s.name for s in seqs]
    summaries = []
    for tr in results:
        runs = tr.runs
        if got:
            evals = _eval_got10k(runs, seqs, all_idx, sizes)
            rows = [{"ao": e["ao"], "sr50": e["sr50"], "sr75": e["sr75"], "fps": e["fps"]} for e in evals]
            y, ys = _mean_curve([e["succ_curve"] for e in evals])
            curves = {"success": {"x": evals[0]["thresholds"].tolist(), "y": y.tolist(), "y_std": ys.tolist()}}
            per_seq = {}
            for k, s in enumerate(seqs):
                per_seq[s.name] = {"ao": float(np.mean([e["per_sequence"][k]["ao"] for e in evals]))}
        else:
            evals = _eval_ope(runs, seqs, protocol, mdata, all_idx)
            rows = [_ope_row(e, protocol, r.fps(init_frames)) for e, r in zip(evals, runs)]
            curves = {}
            for cname, xs, ys_ in (("success", "thresholds_iou", "success_curve"),
                                   ("precision", "thresholds_px", "precision_curve"),
                                   ("norm_precision", "thresholds_norm", "norm_precision_curve")):
                y, ysd = _mean_curve([getattr(e, ys_) for e in evals])
                curves[cname] = {"x": getattr(evals[0], xs).tolist(), "y": y.tolist(), "y_std": ysd.tolist()}
            per_seq = {s.name: {"auc": float(np.mean([e.per_sequence_auc[k] for e in evals]))}
                       for k, s in enumerate(seqs)}
        mean, std = {}, {}
        for key in rows[0]:
            mean[key], std[key] = _mean_std([r[key] for r in rows])
        main_key = "ao" if got else "auc"
        mean[f"{main_key}_se"] = standard_error([v[main_key] for v in per_seq.values()])
        std[f"{main_key}_se"] = float("nan")
        summ = TrackerSummary(tr.label, f"{tr.spec.tracker}:{tr.spec.config}", [r.runid for r in runs], rows,
                              mean, std, curves, per_seq)
        fails = classify_dataset([runs[0].boxes[i] for i in all_idx], seqs)
        summ.failures = count_causes(fails)
        if not got:
            ors = [oracle_aucs(r.boxes, gts, protocol, visible, dataset=mdata, names=names) for r in runs]
            summ.oracle = {k: float(np.mean([o[k] for o in ors])) for k in ors[0]}
        for f in fails:
            per_seq[f.name].update({"loss_cause": f.cause, "lost_frame": f.lost_frame,
                                    "recovered_frame": f.recovered_frame})
        for a, mask in attrs.items():
            idx = np.nonzero(mask)[0]
            if got:
                ev = _eval_got10k(runs, seqs, idx, sizes)
                scores = [e["ao"] for e in ev]
                y, ysd = _mean_curve([e["succ_curve"] for e in ev])
                x = ev[0]["thresholds"]
            else:
                ev = _eval_ope(runs, seqs, protocol, mdata, idx)
                scores = [e.auc for e in ev]
                y, ysd = _mean_curve([e.success_curve for e in ev])
                x = ev[0].thresholds_iou
            m, sd = _mean_std(scores)
            summ.attributes[a] = {"mean": m, "std": sd, "n": int(len(idx)),
                                  "x": np.asarray(x).tolist(), "y": y.tolist(), "y_std": ysd.tolist()}
        summaries.append(summ)
    main = "ao" if got else "auc"
    summaries.sort(key=lambda t: -np.nan_to_num(t.mean.get(main, float("nan")), nan=-1.0))
    comparisons = []
    for i, ta in enumerate(summaries):
        for tb in summaries[i + 1:]:
            c = paired_comparison([ta.per_sequence[s.name][main] for s in seqs],
                                  [tb.per_sequence[s.name][main] for s in seqs])
            comparisons.append({"a": ta.label, "b": tb.label, **c.as_dict()})
    return Analysis(dataset, protocol, kind, len(seqs), summaries, {a: int(m.sum()) for a, m in attrs.items()},
                    comparisons=comparisons)


def _vot_id(spec: ResultsSpec) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "-", f"{spec.tracker}_{Path(spec.config).stem}")


def _analyze_vot(specs: Seq[ResultsSpec], dataset: str, protocol: str, workspace: Optional[Path]) -> Analysis:
    """A/R/EAO from a VOT toolkit workspace (results produced by ``sotlab-vot``; tracker id = tracker_config)."""
    if workspace is None:
        raise AnalysisError(f"protocol {protocol}: VOT results live in a VOT workspace; pass --vot-workspace DIR "
                            f"(made with `python -m tracking.votkit workspace ...` and run with `vot evaluate`)")
    from tracking.votkit.analysis import analyze_workspace

    ids = [_vot_id(s) for s in specs]
    res = analyze_workspace(workspace, ids)
    want = "supervised" if protocol == "vot2018" else "multistart"
    summaries = []
    for s, ident in zip(specs, ids):
        by_exp = res.get(ident) or {}
        r = next((x for x in by_exp.values() if type(x).__name__.lower().startswith(f"vot{want}")
                  or (isinstance(x, dict) and (("failures" in x) == (want == "supervised")))), None)
        if r is None:
            raise AnalysisError(f"no {want} results for tracker id '{ident}' ({s.tracker}:{s.config}) in {workspace}/results")
        get = (lambda k: float(r[k]) if isinstance(r, dict) else float(getattr(r, k)))
        row = {"accuracy": get("accuracy"), "robustness": get("failures") if want == "supervised" else get("robustness"),
               "eao": get("eao")}
        summaries.append(TrackerSummary(s.label, f"{s.tracker}:{s.config}", [None], [row], dict(row),
                                        {k: 0.0 for k in row}))
    summaries.sort(key=lambda t: -np.nan_to_num(t.mean["eao"], nan=-1.0))
    return Analysis(dataset, protocol, "vot", 0, summaries)


# --------------------------------------------------------------------------- outputs


def _curve(t: TrackerSummary, name: str, score_key: str) -> Curve:
    c = t.curves[name]
    return Curve(t.label, np.asarray(c["x"]), np.asarray(c["y"]), 100.0 * t.mean[score_key],
                 np.asarray(c["y_std"]) if len(t.runids) > 1 else None)


def write_outputs(an: Analysis, out_dir: Path, plots: bool = True) -> List[Path]:
    """``results.md``, ``results.json`` and the PNG plots (incl. ``attributes/<attr>.png``)."""
    from tracking.evaluation.results import atomic_write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    files: List[Path] = []
    md = out_dir / "results.md"
    atomic_write_text(md, markdown_table(an))
    files.append(md)
    js = out_dir / "results.json"
    atomic_write_text(js, json.dumps(_clean(an.to_json()), indent=1, default=_json_default, allow_nan=False) + "\n")
    files.append(js)
    if plots and an.kind in ("ope", "got10k"):
        title = f"{an.dataset} ({an.protocol})"
        main = "auc" if an.kind == "ope" else "ao"
        files.append(success_plot(out_dir / "success.png", [_curve(t, "success", main) for t in an.trackers],
                                  f"Success plot - {title}"))
        if an.kind == "ope":
            files.append(precision_plot(out_dir / "precision.png",
                                        [_curve(t, "precision", "precision") for t in an.trackers],
                                        f"Precision plot - {title}"))
            files.append(norm_precision_plot(out_dir / "norm_precision.png",
                                             [_curve(t, "norm_precision", "norm_precision") for t in an.trackers],
                                             f"Normalized precision plot - {title}"))
        for a, n in an.attribute_counts.items():
            curves = [Curve(t.label, np.asarray(t.attributes[a]["x"]), np.asarray(t.attributes[a]["y"]),
                            100.0 * t.attributes[a]["mean"],
                            np.asarray(t.attributes[a]["y_std"]) if len(t.runids) > 1 else None)
                      for t in an.trackers if a in t.attributes]
            files.append(success_plot(out_dir / "attributes" / f"{_safe(a)}.png", curves,
                                      f"Success plot - {a} ({n} sequences)"))
    an.files = [str(f) for f in files]
    return files


def _clean(o: Any) -> Any:
    """JSON-safe copy: NaN/inf become null (strict JSON has no NaN)."""
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, np.ndarray):
        return _clean(o.tolist())
    if isinstance(o, (np.floating, float)):
        return float(o) if math.isfinite(float(o)) else None
    if isinstance(o, np.integer):
        return int(o)
    return o


def _json_default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, float) and math.isnan(o):
        return None
    return str(o)
